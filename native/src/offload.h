// TUN offload helpers, free of N-API so they can be tested on hostile input: split a super-packet
// read with a virtio_net_hdr into ordinary IP packets (TSO/USO segmentation and partial checksum
// completion), and merge consecutive in-order TCP segments (and UDP datagrams) of one flow into
// super-packets to write with a virtio_net_hdr. Every length comes from the packet being parsed and is checked against the
// buffer before use: bad input is dropped, never read or written out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mesh::offload {

// struct virtio_net_hdr (the TUN default TUNSETVNETHDRSZ, host byte order on a legacy device).
constexpr size_t kVnetHdrLen = 10;
struct VnetHdr {
  uint8_t flags = 0;
  uint8_t gso_type = 0;
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;
};
VnetHdr ReadVnetHdr(const uint8_t* p);
void WriteVnetHdr(const VnetHdr& h, uint8_t* p);

// The largest IP packet a virtio_net_hdr frame can carry (IPv4 total length is 16 bits).
constexpr size_t kMaxSuperPacket = 65535;
// Output room that always holds a legitimate super-packet split to segments of >= 536 bytes.
constexpr size_t kSegmentRoom = 2 * 65536;

// Splits one frame read from TUN (virtio_net_hdr + packet) into IP packets carrying gso_size bytes
// of payload each (the kernel derives it from the route's MTU), back to back in out[0..cap),
// appending each length to `lens`. Returns the bytes written, or -1 when the frame is malformed or
// its segments would not fit in `cap` (nothing is appended then).
long Segment(const uint8_t* frame, size_t len, uint8_t* out, size_t cap, std::vector<uint32_t>& lens);

// One write to TUN: a virtio_net_hdr, `head` (the rewritten IP and TCP headers of a super-packet;
// empty for a packet passed through), then packets[first .. first+count) each minus its first
// `skip` bytes.
struct TunWrite {
  uint8_t vnet[kVnetHdrLen] = {};
  uint8_t head[120] = {};
  size_t head_len = 0;
  size_t skip = 0;
  size_t first = 0;
  size_t count = 1;
};
struct Span {
  const uint8_t* data;
  size_t len;
};
// Most segments merged into one super-packet (bounds the writev vector).
constexpr size_t kMaxCoalesce = 64;

// Groups consecutive packets: runs of in-order IPv4 TCP data segments of one flow (same addresses,
// ports, IP header fields, ACK number and TCP options; ACK flag only, PSH allowed on the last;
// equal sizes except a shorter last; valid TCP checksum) become one GSO super-packet; with `udp`
// (the device has USO) so do runs of IPv4 UDP datagrams of one flow (same addresses, ports and IP
// header fields, equal sizes except a shorter last, valid non-zero UDP checksum). Anything else is
// passed through whole with a plain virtio_net_hdr. Order is kept.
void Coalesce(const std::vector<Span>& packets, std::vector<TunWrite>& writes, bool udp);

// Internet checksum (RFC 1071) arithmetic: SumBytes adds data as big-endian 16-bit words to `sum`;
// Fold reduces a sum to 16 bits (not complemented).
uint64_t SumBytes(const uint8_t* data, size_t len, uint64_t sum);
uint16_t Fold(uint64_t sum);

}  // namespace mesh::offload
