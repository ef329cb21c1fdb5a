// The native fast path (fastpath.h): its tables, the per-packet inbound and outbound steps, and
// the JS class FastPath that installs the tables and offers a sans-I/O entry for tests.
#include "fastpath.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>

#include <cstring>
#include <string>

#include "common.h"

namespace mesh::fastpath {

namespace {

constexpr size_t kHeaderLen = AeadCore::kHeaderLen;
constexpr size_t kTagLen = AeadCore::kTagLen;
constexpr uint64_t kMaxSafeInteger = (uint64_t{1} << 53) - 1;
constexpr uint64_t kWindow = 1024;
constexpr uint8_t kProtoIcmp = 1, kProtoTcp = 6, kProtoUdp = 17, kProtoIcmpv6 = 58;

uint32_t Be32(const uint8_t* p) { return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]; }
uint64_t Be64(const uint8_t* p) { return uint64_t{Be32(p)} << 32 | Be32(p + 4); }
void PutBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// FNV-1a over 64-bit words (n a multiple of 8), folded: a flow key is hashed for every packet both
// ways, and a byte at a time was 40 dependent multiplies.
size_t WordHash(const uint8_t* p, size_t n, uint64_t h = 1469598103934665603ull) {
  for (size_t i = 0; i < n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 1099511628211ull;
  }
  return static_cast<size_t>(h ^ (h >> 29) ^ (h >> 47));
}

bool Seen(const TunnelShared& s, uint64_t slot) { return (s.window_slots[slot >> 5] >> (slot & 31)) & 1; }
void Mark(TunnelShared& s, uint64_t slot) { s.window_slots[slot >> 5] |= 1u << (slot & 31); }
void Clear(TunnelShared& s, uint64_t from, uint64_t to) {
  for (; from < to; from++) s.window_slots[from >> 5] &= ~(1u << (from & 31));
}

}  // namespace

bool Addr::operator==(const Addr& o) const { return family == o.family && std::memcmp(bytes, o.bytes, 16) == 0; }
bool Endpoint::operator==(const Endpoint& o) const { return port == o.port && std::memcmp(ip, o.ip, 16) == 0; }
bool FlowKey::operator==(const FlowKey& o) const { return std::memcmp(bytes, o.bytes, kFlowKeyLen) == 0; }
static_assert(kFlowKeyLen % 8 == 0, "WordHash reads whole words");
size_t FlowKeyHash::operator()(const FlowKey& k) const { return WordHash(k.bytes, kFlowKeyLen); }
size_t FastPath::AddrHash::operator()(const Addr& a) const { return WordHash(a.bytes, 16, 1469598103934665603ull ^ a.family); }

Addr AddrFrom(const uint8_t* record) {
  Addr a;
  a.family = record[0];
  std::memcpy(a.bytes, record + 1, 16);
  return a;
}

Endpoint EndpointFromSockaddr(const sockaddr_storage& ss) {
  Endpoint e;
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    e.ip[10] = e.ip[11] = 0xff;
    std::memcpy(e.ip + 12, &sin->sin_addr, 4);
    e.port = ntohs(sin->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    std::memcpy(e.ip, &sin6->sin6_addr, 16);
    e.port = ntohs(sin6->sin6_port);
  }
  return e;
}

bool EndpointFromText(const char* text, uint16_t port, Endpoint* out) {
  *out = Endpoint{};
  out->port = port;
  in_addr v4;
  if (inet_pton(AF_INET, text, &v4) == 1) {
    out->ip[10] = out->ip[11] = 0xff;
    std::memcpy(out->ip + 12, &v4, 4);
    return true;
  }
  return inet_pton(AF_INET6, text, out->ip) == 1;
}

double NowMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) * 1000.0 + static_cast<double>(ts.tv_nsec / 1000000);
}

bool FlowKeyOf(const uint8_t* p, size_t len, bool incoming, FlowKey* key) {
  if (len == 0) return false;
  uint8_t family = p[0] >> 4;
  uint8_t protocol;
  const uint8_t *src, *dst;
  size_t addr_len;
  uint16_t src_port = 0, dst_port = 0;
  if (family == 4) {
    if (len < 20) return false;
    size_t ihl = size_t{p[0] & 0x0fu} << 2;
    if (ihl < 20) return false;
    if (((p[6] << 8 | p[7]) & 0x1fff) != 0) return false;  // a fragment: JS's
    protocol = p[9];
    bool ports = protocol != kProtoIcmp;
    if (len < (ports ? ihl + 4 : ihl)) return false;
    if (ports) {
      src_port = static_cast<uint16_t>(p[ihl] << 8 | p[ihl + 1]);
      dst_port = static_cast<uint16_t>(p[ihl + 2] << 8 | p[ihl + 3]);
    }
    src = p + 12;
    dst = p + 16;
    addr_len = 4;
  } else if (family == 6) {
    if (len < 40) return false;
    protocol = p[6];
    if (protocol == kProtoTcp || protocol == kProtoUdp) {
      if (len < 44) return false;
      src_port = static_cast<uint16_t>(p[40] << 8 | p[41]);
      dst_port = static_cast<uint16_t>(p[42] << 8 | p[43]);
    } else if (protocol != kProtoIcmpv6) {
      return false;  // extension headers and other protocols: JS's
    }
    src = p + 8;
    dst = p + 24;
    addr_len = 16;
  } else {
    return false;
  }
  *key = FlowKey{};
  uint8_t* k = key->bytes;
  const uint8_t* local = incoming ? dst : src;
  const uint8_t* remote = incoming ? src : dst;
  uint16_t local_port = incoming ? dst_port : src_port;
  uint16_t remote_port = incoming ? src_port : dst_port;
  k[0] = family;
  k[1] = protocol;
  k[2] = static_cast<uint8_t>(local_port >> 8);
  k[3] = static_cast<uint8_t>(local_port);
  k[4] = static_cast<uint8_t>(remote_port >> 8);
  k[5] = static_cast<uint8_t>(remote_port);
  std::memcpy(k + 8, local, addr_len);
  std::memcpy(k + 24, remote, addr_len);
  return true;
}

bool WindowCheck(const TunnelShared& s, uint64_t counter) {
  uint64_t cur = static_cast<uint64_t>(s.window_current);
  if (counter > cur) return true;
  if (counter == 0 && s.window_zero_seen == 0 && cur < kWindow) return true;
  if ((cur >= kWindow && counter > cur - kWindow) || counter < kWindow) return !Seen(s, counter % kWindow);
  return false;
}

bool WindowUpdate(TunnelShared& s, uint64_t counter) {
  uint64_t cur = static_cast<uint64_t>(s.window_current);
  if (counter > cur) {
    if (counter >= cur + kWindow) {
      std::memset(s.window_slots, 0, sizeof(s.window_slots));
    } else if (counter > cur + 1) {
      uint64_t from = (cur + 1) % kWindow, to = counter % kWindow;
      if (from < to) {
        Clear(s, from, to);
      } else {
        Clear(s, from, kWindow);
        Clear(s, 0, to);
      }
    }
    Mark(s, counter % kWindow);
    s.window_current = static_cast<double>(counter);
    return true;
  }
  if (counter == 0 && s.window_zero_seen == 0 && cur < kWindow) {
    s.window_zero_seen = 1;
    Mark(s, 0);
    return true;
  }
  bool in_window = cur >= kWindow ? counter > cur - kWindow : counter < kWindow;
  if (in_window && counter <= cur) {
    if (counter == cur || Seen(s, counter % kWindow)) return false;
    Mark(s, counter % kWindow);
    return true;
  }
  return false;
}

void FastPath::SetTunnel(Tunnel tunnel) {
  RemoveTunnel(tunnel.local_index);
  for (const Addr& a : tunnel.overlay) by_overlay_[a] = tunnel.local_index;
  uint32_t index = tunnel.local_index;
  tunnels_[index] = std::move(tunnel);
}

void FastPath::RemoveTunnel(uint32_t local_index) {
  auto it = tunnels_.find(local_index);
  if (it == tunnels_.end()) return;
  for (const Addr& a : it->second.overlay) {
    auto o = by_overlay_.find(a);
    if (o != by_overlay_.end() && o->second == local_index) by_overlay_.erase(o);
  }
  tunnels_.erase(it);
}

void FastPath::SetRemote(uint32_t local_index, const Endpoint& remote) {
  auto it = tunnels_.find(local_index);
  if (it != tunnels_.end()) it->second.remote = remote;
}

void FastPath::ClearTunnels() {
  tunnels_.clear();
  by_overlay_.clear();
}

void FastPath::SetFlow(const FlowKey& key, const Flow& flow) {
  auto it = flows_.find(key);
  // The fast path may have refreshed the flow since JS last looked: keep the later expiry.
  if (it != flows_.end() && it->second.peer == flow.peer && it->second.expires > flow.expires) {
    Flow merged = flow;
    merged.expires = it->second.expires;
    it->second = merged;
    return;
  }
  flows_[key] = flow;
}

void FastPath::RemoveFlow(const FlowKey& key) { flows_.erase(key); }

double FastPath::FlowExpires(const FlowKey& key) const {
  auto it = flows_.find(key);
  return it == flows_.end() ? 0 : it->second.expires;
}

void FastPath::ClearFlows() { flows_.clear(); }

bool FastPath::FromOverlay(const Endpoint& from) const {
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(from.ip, kMapped, 12) != 0) return false;
  uint32_t ip = Be32(from.ip + 12);
  for (const auto& [net, mask] : overlay_nets_) {
    if ((ip & mask) == net) return true;
  }
  return false;
}

Flow* FastPath::ApprovedFlow(const uint8_t* packet, size_t len, bool incoming, const Tunnel& tunnel, double now) {
  FlowKey key;
  if (!FlowKeyOf(packet, len, incoming, &key)) return nullptr;
  auto it = flows_.find(key);
  if (it == flows_.end()) return nullptr;
  Flow& f = it->second;
  // As the JS firewall's conntrack hit: the same peer, the current rules, not expired.
  if (!(f.peer == tunnel.peer) || f.rules_version != rules_version_ || f.expires <= now) return nullptr;
  return &f;
}

void FastPath::Inbound(const InDatagram* d, size_t n, double now, uint8_t* handled) {
  to_tun_.clear();
  std::memset(handled, 0, n);
  if (tunnels_.empty()) return;
  size_t need = 0;
  for (size_t i = 0; i < n; i++) need += d[i].len;
  if (rx_scratch_.size() < need) rx_scratch_.resize(need);
  size_t used = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t* p = d[i].data;
    size_t len = d[i].len;
    // A transport data message (type 1, subtype 0) that is not STUN-shaped (outside.ts dispatch).
    if (len < kHeaderLen + kTagLen || (p[0] & 0x0f) != 1 || p[1] != 0) continue;
    if ((p[0] & 0xc0) == 0 && p[4] == 0x21 && p[5] == 0x12 && p[6] == 0xa4 && p[7] == 0x42) continue;
    auto it = tunnels_.find(Be32(p + 4));
    if (it == tunnels_.end()) continue;
    Tunnel& t = it->second;
    // From another address JS may roam the tunnel: its to decide.
    if (!(d[i].from == t.remote) || FromOverlay(d[i].from)) continue;
    uint64_t counter = Be64(p + 8);
    if (counter > kMaxSafeInteger || !WindowCheck(*t.shared, counter)) continue;
    // Opened next to the datagram, not over it: JS gets it intact when the fast path declines.
    uint8_t* out = rx_scratch_.data() + used;
    int plain = t.decrypt->OpenTo(p, len, out);
    if (plain < 0) continue;
    Flow* flow = ApprovedFlow(out, static_cast<size_t>(plain), true, t, now);
    if (flow == nullptr || !WindowUpdate(*t.shared, counter)) continue;
    flow->expires = now + flow->timeout;
    TunnelShared& s = *t.shared;
    s.rx_packets += 1;
    s.rx_bytes += static_cast<double>(len);
    s.inbound_seen = 1;
    totals_.rx_packets++;
    totals_.rx_bytes += len;
    handled[i] = 1;
    to_tun_.push_back({out, static_cast<size_t>(plain)});
    used += static_cast<size_t>(plain);
  }
  if (tun_ != nullptr && !to_tun_.empty()) tun_->WritePackets(to_tun_);
}

void FastPath::Outbound(const offload::Span* packets, size_t n, double now, uint8_t* handled) {
  to_udp_.clear();
  std::memset(handled, 0, n);
  if (tunnels_.empty()) return;
  size_t need = 0;
  for (size_t i = 0; i < n; i++) need += packets[i].len + kHeaderLen + kTagLen;
  if (tx_scratch_.size() < need) tx_scratch_.resize(need);
  size_t used = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t* p = packets[i].data;
    size_t len = packets[i].len;
    Addr dst;
    if (len >= 20 && p[0] >> 4 == 4) {
      dst.family = 4;
      std::memcpy(dst.bytes, p + 16, 4);
    } else if (len >= 40 && p[0] >> 4 == 6) {
      dst.family = 6;
      std::memcpy(dst.bytes, p + 24, 16);
    } else {
      continue;
    }
    auto o = by_overlay_.find(dst);
    if (o == by_overlay_.end()) continue;
    auto it = tunnels_.find(o->second);
    if (it == tunnels_.end()) continue;
    Tunnel& t = it->second;
    Flow* flow = ApprovedFlow(p, len, false, t, now);
    if (flow == nullptr) continue;
    TunnelShared& s = *t.shared;
    uint64_t counter = static_cast<uint64_t>(s.tx_counter) + 1;
    if (counter > kMaxSafeInteger) continue;
    uint8_t* q = tx_scratch_.data() + used;
    q[0] = 0x11;  // version 1, type 1 (message)
    q[1] = q[2] = q[3] = 0;
    PutBe32(q + 4, t.remote_index);
    PutBe32(q + 8, static_cast<uint32_t>(counter >> 32));
    PutBe32(q + 12, static_cast<uint32_t>(counter));
    // Sealed from the read buffer straight into the datagram: JS still gets p intact if declined.
    if (!t.encrypt->SealTo(q, p, len)) continue;
    s.tx_counter = static_cast<double>(counter);
    flow->expires = now + flow->timeout;
    size_t wire = len + kHeaderLen + kTagLen;
    s.tx_packets += 1;
    s.tx_bytes += static_cast<double>(wire);
    s.outbound_seen = 1;
    totals_.tx_packets++;
    totals_.tx_bytes += wire;
    handled[i] = 1;
    to_udp_.push_back({q, wire, t.remote});
    used += wire;
  }
  if (udp_ != nullptr && !to_udp_.empty()) udp_->SendDatagrams(to_udp_);
}

// ---------------------------------------------------------------------------------------------
// The JS class
// ---------------------------------------------------------------------------------------------

namespace {

struct Bytes {
  uint8_t* data;
  size_t length;
};

Bytes BytesOf(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(v.Env(), std::string("fastPath: ") + what + " must be a Uint8Array");
  }
  Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  return {a.Data(), a.ByteLength()};
}

uint32_t Uint32Of(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string("fastPath: ") + what + " must be a number");
  return v.As<Napi::Number>().Uint32Value();
}

double NumberOf(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string("fastPath: ") + what + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

Endpoint EndpointArg(const Napi::Value& address, const Napi::Value& port) {
  Napi::Env env = address.Env();
  if (!address.IsString()) throw Napi::TypeError::New(env, "fastPath: address must be a string");
  uint32_t p = Uint32Of(port, "port");
  Endpoint e;
  if (p > 65535 || !EndpointFromText(address.As<Napi::String>().Utf8Value().c_str(), static_cast<uint16_t>(p), &e)) {
    throw Napi::RangeError::New(env, "fastPath: invalid address");
  }
  return e;
}

FlowKey FlowKeyArg(const Napi::Value& v) {
  Bytes b = BytesOf(v, "flow key");
  if (b.length < kFlowKeyLen) throw Napi::RangeError::New(v.Env(), "fastPath: flow key too short");
  FlowKey k;
  std::memcpy(k.bytes, b.data, kFlowKeyLen);
  return k;
}

// What an installed tunnel keeps alive: its JS Aead objects and shared ArrayBuffer.
struct Keep {
  Napi::ObjectReference encrypt, decrypt, shared;
};

// Uint32Array arguments (offsets, lengths) with at least `count` elements.
const uint32_t* Uint32sArg(const Napi::Value& v, size_t count, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
      v.As<Napi::Uint32Array>().ElementLength() < count) {
    throw Napi::TypeError::New(v.Env(), std::string("fastPath: ") + what + " must be a Uint32Array of count elements");
  }
  return v.As<Napi::Uint32Array>().Data();
}

}  // namespace

class FastPathObject : public Napi::ObjectWrap<FastPathObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FastPath", {
      InstanceMethod<&FastPathObject::SetTunnelJs>("setTunnel"),
      InstanceMethod<&FastPathObject::RemoveTunnelJs>("removeTunnel"),
      InstanceMethod<&FastPathObject::SetRemoteJs>("setRemote"),
      InstanceMethod<&FastPathObject::ClearTunnelsJs>("clearTunnels"),
      InstanceMethod<&FastPathObject::SetFlowJs>("setFlow"),
      InstanceMethod<&FastPathObject::RemoveFlowJs>("removeFlow"),
      InstanceMethod<&FastPathObject::FlowExpiresJs>("flowExpires"),
      InstanceMethod<&FastPathObject::ClearFlowsJs>("clearFlows"),
      InstanceMethod<&FastPathObject::SetRulesVersionJs>("setRulesVersion"),
      InstanceMethod<&FastPathObject::SetOverlayNetworksJs>("setOverlayNetworks"),
      InstanceMethod<&FastPathObject::TotalsJs>("totals"),
      InstanceMethod<&FastPathObject::InboundJs>("inbound"),
      InstanceMethod<&FastPathObject::OutboundJs>("outbound"),
    });
  }

  explicit FastPathObject(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<FastPathObject>(info), core_(std::make_shared<FastPath>()) {}

  const std::shared_ptr<FastPath>& core() const { return core_; }

 private:
  // setTunnel(localIndex, remoteIndex, address, port, peer: Uint8Array(17), overlay: Uint8Array(17n),
  //           encrypt: Aead, decrypt: Aead, shared: ArrayBuffer): false when the AEADs are not this
  //           addon's (node:crypto ones), so the tunnel stays on the JS path.
  Napi::Value SetTunnelJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Tunnel t;
    t.local_index = Uint32Of(info[0], "localIndex");
    t.remote_index = Uint32Of(info[1], "remoteIndex");
    t.remote = EndpointArg(info[2], info[3]);
    Bytes peer = BytesOf(info[4], "peer");
    Bytes overlay = BytesOf(info[5], "overlay");
    if (peer.length != kAddrRecord || overlay.length % kAddrRecord != 0) throw Napi::RangeError::New(env, "fastPath: bad address records");
    t.peer = AddrFrom(peer.data);
    for (size_t at = 0; at < overlay.length; at += kAddrRecord) t.overlay.push_back(AddrFrom(overlay.data + at));
    t.encrypt = UnwrapAead(env, info[6]);
    t.decrypt = UnwrapAead(env, info[7]);
    if (t.encrypt == nullptr || t.decrypt == nullptr) return Napi::Boolean::New(env, false);
    if (!info[8].IsArrayBuffer()) throw Napi::TypeError::New(env, "fastPath: shared must be an ArrayBuffer");
    Napi::ArrayBuffer shared = info[8].As<Napi::ArrayBuffer>();
    if (shared.ByteLength() < sizeof(TunnelShared) || reinterpret_cast<uintptr_t>(shared.Data()) % alignof(double) != 0) {
      throw Napi::RangeError::New(env, "fastPath: shared state too small or misaligned");
    }
    t.shared = static_cast<TunnelShared*>(shared.Data());
    auto keep = std::make_shared<Keep>();
    keep->encrypt = Napi::Persistent(info[6].As<Napi::Object>());
    keep->decrypt = Napi::Persistent(info[7].As<Napi::Object>());
    keep->shared = Napi::Persistent(shared.As<Napi::Object>());
    t.keep = keep;
    core_->SetTunnel(std::move(t));
    return Napi::Boolean::New(env, true);
  }

  void RemoveTunnelJs(const Napi::CallbackInfo& info) { core_->RemoveTunnel(Uint32Of(info[0], "localIndex")); }
  void SetRemoteJs(const Napi::CallbackInfo& info) { core_->SetRemote(Uint32Of(info[0], "localIndex"), EndpointArg(info[1], info[2])); }
  void ClearTunnelsJs(const Napi::CallbackInfo&) { core_->ClearTunnels(); }

  // setFlow(key: Uint8Array(40), peer: Uint8Array(17), rulesVersion, expires, timeout)
  void SetFlowJs(const Napi::CallbackInfo& info) {
    FlowKey key = FlowKeyArg(info[0]);
    Bytes peer = BytesOf(info[1], "peer");
    if (peer.length != kAddrRecord) throw Napi::RangeError::New(info.Env(), "fastPath: bad peer record");
    Flow f;
    f.peer = AddrFrom(peer.data);
    f.rules_version = static_cast<int32_t>(NumberOf(info[2], "rulesVersion"));
    f.expires = NumberOf(info[3], "expires");
    f.timeout = NumberOf(info[4], "timeout");
    core_->SetFlow(key, f);
  }

  void RemoveFlowJs(const Napi::CallbackInfo& info) { core_->RemoveFlow(FlowKeyArg(info[0])); }
  Napi::Value FlowExpiresJs(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), core_->FlowExpires(FlowKeyArg(info[0]))); }
  void ClearFlowsJs(const Napi::CallbackInfo&) { core_->ClearFlows(); }
  void SetRulesVersionJs(const Napi::CallbackInfo& info) { core_->SetRulesVersion(static_cast<int32_t>(NumberOf(info[0], "rulesVersion"))); }

  // setOverlayNetworks(pairs: Uint32Array of (network, mask))
  void SetOverlayNetworksJs(const Napi::CallbackInfo& info) {
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
      throw Napi::TypeError::New(info.Env(), "fastPath: networks must be a Uint32Array");
    }
    Napi::Uint32Array a = info[0].As<Napi::Uint32Array>();
    std::vector<std::pair<uint32_t, uint32_t>> nets;
    for (size_t i = 0; i + 1 < a.ElementLength(); i += 2) nets.emplace_back(a[i] & a[i + 1], a[i + 1]);
    core_->SetOverlayNetworks(std::move(nets));
  }

  Napi::Value TotalsJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Totals& t = core_->totals();
    Napi::Object o = Napi::Object::New(env);
    o.Set("rxPackets", static_cast<double>(t.rx_packets));
    o.Set("rxBytes", static_cast<double>(t.rx_bytes));
    o.Set("txPackets", static_cast<double>(t.tx_packets));
    o.Set("txBytes", static_cast<double>(t.tx_bytes));
    o.Set("tunnels", static_cast<double>(core_->tunnel_count()));
    o.Set("flows", static_cast<double>(core_->flow_count()));
    return o;
  }

  // The entries (offsets[i], lengths[i]) of buf, each checked to lie inside it, as exact copies
  // owned by `copies`.
  static std::vector<offload::Span> SpansArg(const Napi::CallbackInfo& info, size_t* count, std::vector<std::vector<uint8_t>>& copies) {
    Bytes buf = BytesOf(info[0], "buffer");
    double c = NumberOf(info[3], "count");
    if (!(c >= 0 && c <= 4096) || c != static_cast<double>(static_cast<size_t>(c))) throw Napi::RangeError::New(info.Env(), "fastPath: invalid count");
    *count = static_cast<size_t>(c);
    const uint32_t* offsets = Uint32sArg(info[1], *count, "offsets");
    const uint32_t* lengths = Uint32sArg(info[2], *count, "lengths");
    std::vector<offload::Span> spans;
    for (size_t i = 0; i < *count; i++) {
      if (size_t{offsets[i]} + lengths[i] > buf.length) throw Napi::RangeError::New(info.Env(), "fastPath: entry out of bounds");
      spans.push_back({buf.data + offsets[i], lengths[i]});
    }
    UseExactCopies(spans, copies);
    return spans;
  }

  // inbound(buf, offsets, lengths, count, addresses: string[], ports: number[], now): the step the
  // UDP read path runs, for tests: { handled: Uint8Array, written: Buffer[] }.
  Napi::Value InboundJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    size_t n;
    std::vector<std::vector<uint8_t>> copies;
    std::vector<offload::Span> spans = SpansArg(info, &n, copies);
    if (!info[4].IsArray() || !info[5].IsArray()) throw Napi::TypeError::New(env, "fastPath: addresses and ports must be arrays");
    Napi::Array addresses = info[4].As<Napi::Array>(), ports = info[5].As<Napi::Array>();
    if (addresses.Length() < n || ports.Length() < n) throw Napi::RangeError::New(env, "fastPath: addresses or ports shorter than count");
    std::vector<InDatagram> d;
    for (size_t i = 0; i < n; i++) {
      d.push_back({spans[i].data, spans[i].len, EndpointArg(addresses.Get(static_cast<uint32_t>(i)), ports.Get(static_cast<uint32_t>(i)))});
    }
    Napi::Uint8Array handled = Napi::Uint8Array::New(env, n);
    core_->Inbound(d.data(), n, NumberOf(info[6], "now"), handled.Data());
    Napi::Array written = Napi::Array::New(env);
    for (const offload::Span& s : core_->to_tun()) written.Set(written.Length(), Napi::Buffer<uint8_t>::Copy(env, s.data, s.len));
    Napi::Object result = Napi::Object::New(env);
    result.Set("handled", handled);
    result.Set("written", written);
    return result;
  }

  // outbound(buf, offsets, lengths, count, now): the step the TUN read path runs, for tests:
  // { handled: Uint8Array, sent: { data: Buffer, address: string, port: number }[] }.
  Napi::Value OutboundJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    size_t n;
    std::vector<std::vector<uint8_t>> copies;
    std::vector<offload::Span> spans = SpansArg(info, &n, copies);
    Napi::Uint8Array handled = Napi::Uint8Array::New(env, n);
    core_->Outbound(spans.data(), n, NumberOf(info[4], "now"), handled.Data());
    Napi::Array sent = Napi::Array::New(env);
    for (const OutDatagram& o : core_->to_udp()) {
      Napi::Object item = Napi::Object::New(env);
      item.Set("data", Napi::Buffer<uint8_t>::Copy(env, o.data, o.len));
      char text[INET6_ADDRSTRLEN] = "";
      static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
      if (std::memcmp(o.to.ip, kMapped, 12) == 0) inet_ntop(AF_INET, o.to.ip + 12, text, sizeof(text));
      else inet_ntop(AF_INET6, o.to.ip, text, sizeof(text));
      item.Set("address", text);
      item.Set("port", o.to.port);
      sent.Set(sent.Length(), item);
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("handled", handled);
    result.Set("sent", sent);
    return result;
  }

  std::shared_ptr<FastPath> core_;
};

static Napi::FunctionReference* fast_path_class = nullptr;

std::shared_ptr<FastPath> FastPathOf(Napi::Env env, const Napi::Value& value) {
  if (fast_path_class == nullptr || !value.IsObject() || !value.As<Napi::Object>().InstanceOf(fast_path_class->Value())) {
    throw Napi::TypeError::New(env, "expected a FastPath");
  }
  return FastPathObject::Unwrap(value.As<Napi::Object>())->core();
}

}  // namespace mesh::fastpath

Napi::Object InitFastPath(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = mesh::fastpath::FastPathObject::Define(env);
  if (mesh::fastpath::fast_path_class == nullptr) mesh::fastpath::fast_path_class = new Napi::FunctionReference(Napi::Persistent(cls));
  exports.Set("FastPath", cls);
  return exports;
}
