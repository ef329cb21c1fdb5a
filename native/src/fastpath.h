// The native fast path: forwarding of established, firewall-approved flows without entering JS.
// It runs inside the TUN and UDP poll callbacks on the JS thread (no threads, no locks): each
// packet read is first offered here; what it forwards is written or sent from C++, the rest goes
// to JS unchanged. JS keeps every decision: it installs tunnels (direct ones only) and the flows
// its firewall approved, and removes them; anything the tables do not cover is handed back.
//
// State shared with JS lives in memory both sides use: a tunnel's replay window, send counter and
// traffic counters are a JS ArrayBuffer (TunnelShared), so control messages JS seals or opens on
// the same tunnel never reuse a nonce or accept a replay.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "aead.h"
#include "offload.h"

namespace mesh::fastpath {

// The per-tunnel memory shared with JS (HostInfo.shared, src/node/hostmap.ts): the replay
// window's 1024 bits, then float64 fields (exact integers below 2^53).
struct TunnelShared {
  uint32_t window_slots[32];
  double window_current;
  double window_zero_seen;
  double tx_counter;  // the last message counter used on send
  double rx_packets, rx_bytes, tx_packets, tx_bytes;
  double inbound_seen, outbound_seen;  // the connection manager's liveness marks
};
static_assert(sizeof(TunnelShared) == 128 + 9 * 8, "layout shared with JS");

// An overlay address: family 4 or 6 and 16 bytes (IPv4 in the first 4).
struct Addr {
  uint8_t family = 0;
  uint8_t bytes[16] = {};
  bool operator==(const Addr& o) const;
};
constexpr size_t kAddrRecord = 17;  // family byte + 16 address bytes, as JS encodes it
Addr AddrFrom(const uint8_t* record);

// An underlay endpoint: IPv6 bytes (IPv4 as ::ffff:a.b.c.d) and port.
struct Endpoint {
  uint8_t ip[16] = {};
  uint16_t port = 0;
  bool operator==(const Endpoint& o) const;
};
Endpoint EndpointFromSockaddr(const sockaddr_storage& ss);
// Parses numeric IPv4/IPv6 text; false when it is neither.
bool EndpointFromText(const char* text, uint16_t port, Endpoint* out);

// The locally oriented conntrack tuple (src/node/conntrack.ts) of a non-fragment packet.
constexpr size_t kFlowKeyLen = 40;  // family, protocol, local port, remote port (BE), 2 zero, local, remote
struct FlowKey {
  uint8_t bytes[kFlowKeyLen] = {};
  bool operator==(const FlowKey& o) const;
};
struct FlowKeyHash {
  size_t operator()(const FlowKey& k) const;
};

struct Flow {
  Addr peer;          // the peer's vpnIp the flow was approved for
  int32_t rules_version = 0;
  double expires = 0;  // ms, Date.now()'s clock
  double timeout = 0;  // ms added on each packet
};

struct Tunnel {
  uint32_t local_index = 0;
  uint32_t remote_index = 0;
  Endpoint remote;
  Addr peer;  // the peer's vpnIp (identity), compared with flows'
  AeadCore* encrypt = nullptr;
  AeadCore* decrypt = nullptr;
  TunnelShared* shared = nullptr;
  std::vector<Addr> overlay;  // the addresses routed to it (outbound lookup)
  // Keep the JS Aead objects and the shared ArrayBuffer alive while installed.
  std::shared_ptr<void> keep;
};

// What the fast path sends and writes through (the Tun and Udp objects implement these).
class TunSink {
 public:
  virtual void WritePackets(const std::vector<offload::Span>& packets) = 0;
 protected:
  ~TunSink() = default;
};
struct OutDatagram {
  const uint8_t* data;
  size_t len;
  Endpoint to;
};
class UdpSink {
 public:
  virtual void SendDatagrams(const std::vector<OutDatagram>& datagrams) = 0;
 protected:
  ~UdpSink() = default;
};

// One received datagram offered to Inbound.
struct InDatagram {
  const uint8_t* data;
  size_t len;
  Endpoint from;
};

// Node-wide totals of what the fast path forwarded (JS folds them into its stats at scrape time).
struct Totals {
  uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
};

class FastPath {
 public:
  // Tables (JS installs them on the loop thread).
  void SetTunnel(Tunnel tunnel);
  void RemoveTunnel(uint32_t local_index);
  void SetRemote(uint32_t local_index, const Endpoint& remote);
  void ClearTunnels();
  void SetFlow(const FlowKey& key, const Flow& flow);
  void RemoveFlow(const FlowKey& key);
  // The flow's expiry as the fast path last refreshed it, or 0 when it is not installed.
  double FlowExpires(const FlowKey& key) const;
  void ClearFlows();
  void SetRulesVersion(int32_t version) { rules_version_ = version; }
  // IPv4 networks (address, mask) of our overlay: datagrams from inside them are JS's to drop.
  void SetOverlayNetworks(std::vector<std::pair<uint32_t, uint32_t>> nets) { overlay_nets_ = std::move(nets); }
  size_t tunnel_count() const { return tunnels_.size(); }
  size_t flow_count() const { return flows_.size(); }
  const Totals& totals() const { return totals_; }

  // Offers received datagrams; handled[i] = 1 for each one forwarded (its plaintext is in
  // to_tun(), written to the TUN sink when one is attached), 0 for those JS must take unchanged.
  void Inbound(const InDatagram* datagrams, size_t n, double now, uint8_t* handled);
  // Offers packets read from TUN; handled[i] = 1 for each one sealed into to_udp() (sent through
  // the UDP sink when one is attached), 0 for those JS must take unchanged.
  void Outbound(const offload::Span* packets, size_t n, double now, uint8_t* handled);
  const std::vector<offload::Span>& to_tun() const { return to_tun_; }
  const std::vector<OutDatagram>& to_udp() const { return to_udp_; }

  void AttachTun(TunSink* sink) { tun_ = sink; }
  void AttachUdp(UdpSink* sink) { udp_ = sink; }
  void DetachTun(TunSink* sink) { if (tun_ == sink) tun_ = nullptr; }
  void DetachUdp(UdpSink* sink) { if (udp_ == sink) udp_ = nullptr; }

 private:
  // The approved, live flow of an inner packet on `tunnel` (the caller refreshes it once the packet
  // is forwarded); null when JS must judge the packet.
  Flow* ApprovedFlow(const uint8_t* packet, size_t len, bool incoming, const Tunnel& tunnel, double now);
  bool FromOverlay(const Endpoint& from) const;

  std::unordered_map<uint32_t, Tunnel> tunnels_;
  struct AddrHash { size_t operator()(const Addr& a) const; };
  std::unordered_map<Addr, uint32_t, AddrHash> by_overlay_;
  std::unordered_map<FlowKey, Flow, FlowKeyHash> flows_;
  std::vector<std::pair<uint32_t, uint32_t>> overlay_nets_;
  int32_t rules_version_ = 0;
  Totals totals_;
  TunSink* tun_ = nullptr;
  UdpSink* udp_ = nullptr;
  std::vector<uint8_t> rx_scratch_, tx_scratch_;
  std::vector<offload::Span> to_tun_;
  std::vector<OutDatagram> to_udp_;
};

// Parses the locally oriented tuple of an inner packet the way src/protocol/ip-packet.ts does,
// for the cases the fast path takes: IPv4 non-fragments; IPv6 whose next header is TCP, UDP or
// ICMPv6. False for anything else (JS judges it).
bool FlowKeyOf(const uint8_t* packet, size_t len, bool incoming, FlowKey* key);

// The replay window of replay.ts on TunnelShared (same semantics, bit for bit).
bool WindowCheck(const TunnelShared& s, uint64_t counter);
bool WindowUpdate(TunnelShared& s, uint64_t counter);

// The core of a JS FastPath object; throws a TypeError for anything else.
std::shared_ptr<FastPath> FastPathOf(Napi::Env env, const Napi::Value& value);

// Milliseconds since the epoch (Date.now()'s clock).
double NowMs();

}  // namespace mesh::fastpath
