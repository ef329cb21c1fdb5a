#include "offload.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace mesh::offload {

namespace {

// linux/virtio_net.h values (spelled out so older headers still build).
constexpr uint8_t kNeedsCsum = 1;
constexpr uint8_t kGsoNone = 0, kGsoTcpV4 = 1, kGsoUdpL4 = 5, kGsoTcpV6 = 4, kGsoEcn = 0x80;
constexpr uint8_t kTcpFin = 0x01, kTcpPsh = 0x08, kTcpAck = 0x10, kTcpCwr = 0x80;
constexpr uint8_t kProtoTcp = 6, kProtoUdp = 17;

uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Get32(const uint8_t* p) { return static_cast<uint32_t>(Get16(p)) << 16 | Get16(p + 2); }
void Put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void Put32(uint8_t* p, uint32_t v) {
  Put16(p, v >> 16);
  Put16(p + 2, v);
}

// Sum of the pseudo-header of a TCP/UDP packet whose IP header starts at `ip`.
uint64_t PseudoSum(const uint8_t* ip, uint8_t proto, size_t l4_len) {
  bool v4 = (ip[0] >> 4) == 4;
  uint64_t sum = v4 ? SumBytes(ip + 12, 8, 0) : SumBytes(ip + 8, 32, 0);
  return sum + proto + l4_len;
}

// Stores the complemented checksum; UDP sends a computed zero as 0xffff (zero means "none").
void StoreChecksum(uint8_t* field, uint64_t sum, bool udp) {
  uint16_t c = static_cast<uint16_t>(~Fold(sum));
  if (c == 0 && udp) c = 0xffff;
  Put16(field, c);
}

}  // namespace

uint64_t SumBytes(const uint8_t* data, size_t len, uint64_t sum) {
  // Native-order words: the one's complement sum commutes with byte swapping (RFC 1071), so the
  // folded native sum is converted to network order once at the end. 64-bit words with the carry
  // added back (end-around), two lanes so the adds do not wait on each other: this runs over every
  // datagram the TUN reads (checksum to fill in) and writes (checksum to verify before coalescing).
  uint64_t a = 0, b = 0;
  auto add = [](uint64_t& acc, uint64_t w) { acc += w; acc += acc < w; };
  for (; len >= 16; data += 16, len -= 16) {
    uint64_t w0, w1;
    std::memcpy(&w0, data, 8);
    std::memcpy(&w1, data + 8, 8);
    add(a, w0);
    add(b, w1);
  }
  uint8_t tail[16] = {};
  std::memcpy(tail, data, len);
  uint64_t w0, w1;
  std::memcpy(&w0, tail, 8);
  std::memcpy(&w1, tail + 8, 8);
  add(a, w0);
  add(b, w1);
  add(a, b);
  uint64_t acc = (a & 0xffffffff) + (a >> 32);
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return sum + ntohs(static_cast<uint16_t>(acc));
}

uint16_t Fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

VnetHdr ReadVnetHdr(const uint8_t* p) {
  VnetHdr h;
  h.flags = p[0];
  h.gso_type = p[1];
  std::memcpy(&h.hdr_len, p + 2, 2);
  std::memcpy(&h.gso_size, p + 4, 2);
  std::memcpy(&h.csum_start, p + 6, 2);
  std::memcpy(&h.csum_offset, p + 8, 2);
  return h;
}

void WriteVnetHdr(const VnetHdr& h, uint8_t* p) {
  p[0] = h.flags;
  p[1] = h.gso_type;
  std::memcpy(p + 2, &h.hdr_len, 2);
  std::memcpy(p + 4, &h.gso_size, 2);
  std::memcpy(p + 6, &h.csum_start, 2);
  std::memcpy(p + 8, &h.csum_offset, 2);
}

long Segment(const uint8_t* frame, size_t len, uint8_t* out, size_t cap, std::vector<uint32_t>& lens) {
  if (len <= kVnetHdrLen) return -1;
  const VnetHdr h = ReadVnetHdr(frame);
  const uint8_t* pkt = frame + kVnetHdrLen;
  const size_t n = len - kVnetHdrLen;
  const uint8_t gso = h.gso_type & ~kGsoEcn;

  if (gso == kGsoNone) {
    if (n > cap) return -1;
    if (h.flags & kNeedsCsum) {
      // CHECKSUM_PARTIAL: the field holds the pseudo-header sum; add the rest from csum_start.
      size_t start = h.csum_start, field = start + h.csum_offset;
      if (start >= n || field + 2 > n) return -1;
      std::memcpy(out, pkt, n);
      bool udp = h.csum_offset == 6;
      StoreChecksum(out + field, SumBytes(out + start, n - start, 0), udp);
    } else {
      std::memcpy(out, pkt, n);
    }
    lens.push_back(static_cast<uint32_t>(n));
    return static_cast<long>(n);
  }
  if (gso != kGsoTcpV4 && gso != kGsoTcpV6 && gso != kGsoUdpL4) return -1;

  // The headers are parsed from the packet itself; hdr_len and csum_start are only hints.
  if (n < 40) return -1;
  const int version = pkt[0] >> 4;
  size_t ip_len;
  uint8_t proto;
  if (version == 4 && gso != kGsoTcpV6) {
    ip_len = static_cast<size_t>(pkt[0] & 0x0f) * 4;
    if (ip_len < 20 || Get16(pkt + 2) != n || (Get16(pkt + 6) & 0x3fff) != 0) return -1;
    proto = pkt[9];
  } else if (version == 6 && gso != kGsoTcpV4) {
    ip_len = 40;
    if (Get16(pkt + 4) + 40u != n) return -1;
    proto = pkt[6];  // extension headers are not segmented: anything but TCP/UDP here is dropped
  } else {
    return -1;
  }
  const bool udp = gso == kGsoUdpL4;
  if (proto != (udp ? kProtoUdp : kProtoTcp)) return -1;
  size_t l4_len = 8;
  if (!udp) {
    if (n < ip_len + 20) return -1;
    l4_len = static_cast<size_t>(pkt[ip_len + 12] >> 4) * 4;
    if (l4_len < 20) return -1;
  }
  const size_t hdrs = ip_len + l4_len;
  if (n < hdrs || h.gso_size == 0) return -1;
  const size_t payload = n - hdrs;
  // gso_size is what the kernel would have cut to itself (the MSS from the route's MTU, or the
  // sender's UDP_SEGMENT size), so the packets are the ones it would send without offloads.
  const size_t mss = h.gso_size;
  const size_t segments = payload == 0 ? 1 : (payload + mss - 1) / mss;
  if (payload > cap || segments > cap / hdrs || segments * hdrs > cap - payload) return -1;

  const uint16_t id0 = version == 4 ? Get16(pkt + 4) : 0;
  const uint32_t seq0 = udp ? 0 : Get32(pkt + ip_len + 4);
  size_t pos = 0;
  for (size_t i = 0; i < segments; i++) {
    const size_t offset = i * mss;
    const size_t chunk = std::min(mss, payload - offset);
    const size_t total = hdrs + chunk;
    uint8_t* o = out + pos;
    std::memcpy(o, pkt, hdrs);
    std::memcpy(o + hdrs, pkt + hdrs + offset, chunk);
    if (version == 4) {
      Put16(o + 2, static_cast<uint32_t>(total));
      Put16(o + 4, static_cast<uint16_t>(id0 + i));
      Put16(o + 10, 0);
      Put16(o + 10, static_cast<uint16_t>(~Fold(SumBytes(o, ip_len, 0))));
    } else {
      Put16(o + 4, static_cast<uint32_t>(total - 40));
    }
    uint8_t* l4 = o + ip_len;
    const size_t segment_l4 = total - ip_len;
    uint8_t* check;
    if (udp) {
      Put16(l4 + 4, static_cast<uint32_t>(segment_l4));
      check = l4 + 6;
    } else {
      Put32(l4 + 4, seq0 + static_cast<uint32_t>(offset));
      if (i + 1 < segments) l4[13] &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
      if (i > 0) l4[13] &= static_cast<uint8_t>(~kTcpCwr);
      check = l4 + 16;
    }
    Put16(check, 0);
    StoreChecksum(check, PseudoSum(o, proto, segment_l4) + SumBytes(l4, segment_l4, 0), udp);
    lens.push_back(static_cast<uint32_t>(total));
    pos += total;
  }
  return static_cast<long>(pos);
}

namespace {

// An IPv4 TCP data segment that may join a super-packet.
struct Segment4 {
  size_t ip_len = 0, tcp_len = 0, payload = 0;
  uint32_t seq = 0;
  uint8_t flags = 0;
  size_t hdrs() const { return ip_len + tcp_len; }
};

bool ParseSegment4(const Span& p, Segment4* s) {
  const uint8_t* ip = p.data;
  const size_t n = p.len;
  if (n < 40 || (ip[0] >> 4) != 4) return false;
  s->ip_len = static_cast<size_t>(ip[0] & 0x0f) * 4;
  if (s->ip_len < 20 || Get16(ip + 2) != n || (Get16(ip + 6) & 0x3fff) != 0 || ip[9] != kProtoTcp) return false;
  if (n < s->ip_len + 20 || Fold(SumBytes(ip, s->ip_len, 0)) != 0xffff) return false;
  const uint8_t* tcp = ip + s->ip_len;
  s->tcp_len = static_cast<size_t>(tcp[12] >> 4) * 4;
  if (s->tcp_len < 20 || n <= s->hdrs()) return false;
  s->flags = tcp[13];
  if ((s->flags & ~kTcpPsh) != kTcpAck) return false;
  s->payload = n - s->hdrs();
  s->seq = Get32(tcp + 4);
  // The kernel checks neither checksum of a super-packet's segments: a corrupt one must reach it alone.
  return Fold(PseudoSum(ip, kProtoTcp, n - s->ip_len) + SumBytes(tcp, n - s->ip_len, 0)) == 0xffff;
}

bool SameBytes(const uint8_t* a, const uint8_t* b, size_t from, size_t to) {
  return std::memcmp(a + from, b + from, to - from) == 0;
}

// Whether `b`, the `k`th packet of a run that starts at `a`, has an IP id the kernel's GRO takes
// there: the first one's plus k, or with DF set (ids then mean nothing, RFC 6864) the first one's.
bool IpIdFits(const Span& a, const Span& b, size_t k) {
  const uint16_t first = Get16(a.data + 4), id = Get16(b.data + 4);
  return id == static_cast<uint16_t>(first + k) || ((Get16(b.data + 6) & 0x4000) != 0 && id == first);
}

// Same flow and same header fields except IP length/id/checksum and TCP seq/flags/checksum. The
// window too must be the same, as for the kernel's GRO: a super-packet carries only its first one's.
bool SameFlow(const Span& a, const Segment4& sa, const Span& b, const Segment4& sb) {
  if (sa.ip_len != sb.ip_len || sa.tcp_len != sb.tcp_len) return false;
  const uint8_t *x = a.data, *y = b.data;
  if (!SameBytes(x, y, 0, 2) || !SameBytes(x, y, 6, 10) || !SameBytes(x, y, 12, sa.ip_len)) return false;
  x += sa.ip_len;
  y += sb.ip_len;
  return SameBytes(x, y, 0, 4) && SameBytes(x, y, 8, 13) && SameBytes(x, y, 14, 16) && SameBytes(x, y, 18, sa.tcp_len);
}

void PassThrough(size_t index, std::vector<TunWrite>& writes) {
  TunWrite w;
  w.first = index;
  writes.push_back(w);
}


// A super-packet's IPv4 header: total length `total`, checksum recomputed. Returns `total`.
size_t SetIp4Length(uint8_t* ip, size_t ip_len, size_t total) {
  Put16(ip + 2, static_cast<uint32_t>(total));
  Put16(ip + 10, 0);
  Put16(ip + 10, static_cast<uint16_t>(~Fold(SumBytes(ip, ip_len, 0))));
  return total;
}

// The virtio_net_hdr of a super-packet whose segments carry `segment` payload bytes each, the
// transport checksum left to the kernel (CHECKSUM_PARTIAL at `csum_offset` in the transport header).
void WriteSuperPacketHdr(TunWrite& w, uint8_t gso_type, size_t ip_len, size_t segment, uint16_t csum_offset) {
  VnetHdr h;
  h.flags = kNeedsCsum;
  h.gso_type = gso_type;
  h.hdr_len = static_cast<uint16_t>(w.head_len);
  h.gso_size = static_cast<uint16_t>(segment);
  h.csum_start = static_cast<uint16_t>(ip_len);
  h.csum_offset = csum_offset;
  WriteVnetHdr(h, w.vnet);
}

void EmitGroup(const std::vector<Span>& packets, size_t first, size_t count, const Segment4& head,
               size_t total_payload, bool push, std::vector<TunWrite>& writes) {
  if (count == 1) return PassThrough(first, writes);
  TunWrite w;
  w.first = first;
  w.count = count;
  w.skip = w.head_len = head.hdrs();
  std::memcpy(w.head, packets[first].data, w.head_len);
  uint8_t* ip = w.head;
  const size_t total = SetIp4Length(ip, head.ip_len, w.head_len + total_payload);
  uint8_t* tcp = ip + head.ip_len;
  if (push) tcp[13] |= kTcpPsh;
  // CHECKSUM_PARTIAL: the field holds the (uncomplemented) pseudo-header sum.
  Put16(tcp + 16, Fold(PseudoSum(ip, kProtoTcp, total - head.ip_len)));
  WriteSuperPacketHdr(w, kGsoTcpV4, head.ip_len, head.payload, 16);
  writes.push_back(w);
}

// An IPv4 UDP datagram that may join a USO super-packet.
struct Datagram4 {
  size_t ip_len = 0, payload = 0;
};

bool ParseDatagram4(const Span& p, Datagram4* d) {
  const uint8_t* ip = p.data;
  const size_t n = p.len;
  if (n < 28 || (ip[0] >> 4) != 4) return false;
  d->ip_len = static_cast<size_t>(ip[0] & 0x0f) * 4;
  if (d->ip_len < 20 || Get16(ip + 2) != n || (Get16(ip + 6) & 0x3fff) != 0 || ip[9] != kProtoUdp) return false;
  if (n <= d->ip_len + 8 || Fold(SumBytes(ip, d->ip_len, 0)) != 0xffff) return false;
  const uint8_t* udp = ip + d->ip_len;
  // A datagram sent without a checksum (0) keeps it that way: it reaches the kernel alone.
  if (Get16(udp + 4) != n - d->ip_len || Get16(udp + 6) == 0) return false;
  d->payload = n - d->ip_len - 8;
  // As for TCP: the kernel does not check the segments of a super-packet, so a corrupt one goes alone.
  return Fold(PseudoSum(ip, kProtoUdp, n - d->ip_len) + SumBytes(udp, n - d->ip_len, 0)) == 0xffff;
}

// Same addresses, ports and IP header fields except length, id and checksum.
bool SameUdpFlow(const Span& a, const Datagram4& da, const Span& b, const Datagram4& db) {
  if (da.ip_len != db.ip_len) return false;
  const uint8_t *x = a.data, *y = b.data;
  return SameBytes(x, y, 0, 2) && SameBytes(x, y, 6, 10) && SameBytes(x, y, 12, da.ip_len) &&
         SameBytes(x + da.ip_len, y + db.ip_len, 0, 4);
}

void EmitUdpGroup(const std::vector<Span>& packets, size_t first, size_t count, const Datagram4& head,
                  size_t total_payload, std::vector<TunWrite>& writes) {
  if (count == 1) return PassThrough(first, writes);
  TunWrite w;
  w.first = first;
  w.count = count;
  w.skip = w.head_len = head.ip_len + 8;
  std::memcpy(w.head, packets[first].data, w.head_len);
  uint8_t* ip = w.head;
  const size_t total = SetIp4Length(ip, head.ip_len, w.head_len + total_payload);
  uint8_t* udp = ip + head.ip_len;
  Put16(udp + 4, static_cast<uint32_t>(total - head.ip_len));
  // CHECKSUM_PARTIAL over the whole super-packet; the kernel adjusts it to each segment's length.
  Put16(udp + 6, Fold(PseudoSum(ip, kProtoUdp, total - head.ip_len)));
  WriteSuperPacketHdr(w, kGsoUdpL4, head.ip_len, head.payload, 6);
  writes.push_back(w);
}

// The run of datagrams of one flow starting at packets[i] (i itself parsed as `head`): equal
// payloads, a shorter last one allowed. Returns how many.
size_t UdpRun(const std::vector<Span>& packets, size_t i, const Datagram4& head, size_t* total) {
  size_t count = 1;
  *total = head.payload;
  size_t last = head.payload;
  while (i + count < packets.size() && count < kMaxCoalesce && last == head.payload) {
    const Span& p = packets[i + count];
    Datagram4 d;
    if (!ParseDatagram4(p, &d) || !SameUdpFlow(packets[i], head, p, d) || !IpIdFits(packets[i], p, count) || d.payload > head.payload ||
        head.ip_len + 8 + *total + d.payload > kMaxSuperPacket) {
      break;
    }
    count++;
    *total += d.payload;
    last = d.payload;
  }
  return count;
}

}  // namespace

void Coalesce(const std::vector<Span>& packets, std::vector<TunWrite>& writes, bool udp) {
  writes.clear();
  size_t i = 0;
  while (i < packets.size()) {
    Datagram4 datagram;
    if (udp && ParseDatagram4(packets[i], &datagram)) {
      size_t total = 0;
      size_t count = UdpRun(packets, i, datagram, &total);
      EmitUdpGroup(packets, i, count, datagram, total, writes);
      i += count;
      continue;
    }
    Segment4 head;
    if (!ParseSegment4(packets[i], &head) || head.hdrs() > sizeof(TunWrite::head)) {
      PassThrough(i++, writes);
      continue;
    }
    size_t count = 1, total = head.payload;
    Segment4 last = head;
    uint32_t next_seq = head.seq + static_cast<uint32_t>(head.payload);
    while (i + count < packets.size() && count < kMaxCoalesce && !(last.flags & kTcpPsh) && last.payload == head.payload) {
      const Span& p = packets[i + count];
      Segment4 s;
      if (!ParseSegment4(p, &s) || !SameFlow(packets[i], head, p, s) || !IpIdFits(packets[i], p, count) || s.seq != next_seq || s.payload > head.payload ||
          head.hdrs() + total + s.payload > kMaxSuperPacket) {
        break;
      }
      count++;
      total += s.payload;
      next_seq += static_cast<uint32_t>(s.payload);
      last = s;
    }
    EmitGroup(packets, i, count, head, total, (last.flags & kTcpPsh) != 0, writes);
    i += count;
  }
}

}  // namespace mesh::offload
