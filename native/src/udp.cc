// Batched UDP socket: recvmmsg/sendmmsg on a non-blocking socket polled in the libuv loop. One
// JS callback per recvmmsg batch. IPv4 ("0.0.0.0") or dual-stack IPv6 ("::", IPV6_V6ONLY=0);
// IPv4-mapped peers of a dual-stack socket are reported as plain IPv4 text.
// With offload: UDP GSO (equal-sized datagrams to one destination leave in one message with
// UDP_SEGMENT) and UDP GRO (the kernel hands over runs of datagrams as one buffer, split here by
// the gso_size it reports); GSO falls back to one message per datagram when the kernel refuses it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "fastpath.h"
#include "polled_fd.h"

namespace mesh {

namespace {

// Parses textual IPv4/IPv6 into `out` for a socket of `family`. Returns the sockaddr length or 0.
socklen_t ParseAddress(const std::string& text, int port, int family, sockaddr_storage* out) {
  std::memset(out, 0, sizeof(*out));
  in_addr v4;
  in6_addr v6;
  std::string host = text;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    if (family == AF_INET) {
      auto* sin = reinterpret_cast<sockaddr_in*>(out);
      sin->sin_family = AF_INET;
      sin->sin_port = htons(static_cast<uint16_t>(port));
      sin->sin_addr = v4;
      return sizeof(sockaddr_in);
    }
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(out);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(port));
    sin6->sin6_addr.s6_addr[10] = 0xff;
    sin6->sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&sin6->sin6_addr.s6_addr[12], &v4, 4);
    return sizeof(sockaddr_in6);
  }
  if (family == AF_INET6 && inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(out);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(port));
    sin6->sin6_addr = v6;
    return sizeof(sockaddr_in6);
  }
  return 0;
}

std::string FormatAddress(const sockaddr_storage& ss, int* port) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    *port = ntohs(sin->sin_port);
    inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
  } else if (ss.ss_family == AF_INET6) {
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    *port = ntohs(sin6->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], buf, sizeof(buf));
    else inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
  } else {
    *port = 0;
  }
  return buf;
}

int SetBuffer(int fd, int force, int plain, int size) {
  if (size <= 0) return 0;
  if (setsockopt(fd, SOL_SOCKET, force, &size, sizeof(size)) == 0) return 0;
  if (setsockopt(fd, SOL_SOCKET, plain, &size, sizeof(size)) == 0) return 0;
  return errno;
}

// Most datagrams in one GSO message (the kernel's UDP_MAX_SEGMENTS is 64 on older kernels) and
// most bytes (an IPv4 or IPv6 UDP payload must fit in 64 KiB with its headers).
constexpr size_t kMaxGsoSegments = 64;
constexpr size_t kMaxGsoBytes = 65000;
// Receive buffer per message with GRO: a coalesced run can be a whole 64 KiB.
constexpr int kGroBuffer = 65535;

int GetBuffer(int fd, int opt) {
  int v = 0;
  socklen_t l = sizeof(v);
  getsockopt(fd, SOL_SOCKET, opt, &v, &l);
  return v;
}

}  // namespace

class Udp : public PolledFd<Udp>, public fastpath::UdpSink {
 public:
  // new Udp(host, port, readBuffer, writeBuffer, batch, maxDatagram, offload?)
  explicit Udp(const Napi::CallbackInfo& info) : PolledFd(info, "udp", "MeshUdp") {
    Napi::Env env = info.Env();
    std::string host = info[0].As<Napi::String>().Utf8Value();
    int port = info[1].As<Napi::Number>().Int32Value();
    int rbuf = info[2].As<Napi::Number>().Int32Value();
    int wbuf = info[3].As<Napi::Number>().Int32Value();
    batch_ = ClampBatch(info[4].As<Napi::Number>().Int32Value());
    max_datagram_ = std::max(9001, std::min(65535, info[5].As<Napi::Number>().Int32Value()));
    if (port < 0 || port > 65535) throw Napi::RangeError::New(env, "udp: port must be 0..65535");

    sockaddr_storage addr;
    in6_addr probe;
    std::string bare = host;
    if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') bare = bare.substr(1, bare.size() - 2);
    family_ = inet_pton(AF_INET6, bare.c_str(), &probe) == 1 ? AF_INET6 : AF_INET;
    socklen_t len = ParseAddress(bare, port, family_, &addr);
    if (len == 0) throw Napi::Error::New(env, "udp: invalid bind address \"" + host + "\" (need a numeric IPv4 or IPv6 address)");

    fd_ = socket(family_, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) ThrowErrno(env, "udp: socket", errno);
    if (family_ == AF_INET6) {
      int off = 0;
      setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
    }
    int err = SetBuffer(fd_, SO_RCVBUFFORCE, SO_RCVBUF, rbuf);
    if (err == 0) err = SetBuffer(fd_, SO_SNDBUFFORCE, SO_SNDBUF, wbuf);
    if (err != 0) ThrowErrno(env, "udp: set socket buffer size", err);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) < 0) {
      err = errno;
      ThrowErrno(env, "udp: bind " + host + ":" + std::to_string(port), err);
    }
    sockaddr_storage local;
    socklen_t llen = sizeof(local);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &llen);
    local_address_ = FormatAddress(local, &local_port_);
    if (info.Length() > 6 && info[6].ToBoolean()) {
      int on = 1, zero = 0;
      gro_ = setsockopt(fd_, SOL_UDP, UDP_GRO, &on, sizeof(on)) == 0;
      // Probing with size 0 tells whether the kernel knows UDP_SEGMENT (4.18+) without enabling it.
      gso_ = setsockopt(fd_, SOL_UDP, UDP_SEGMENT, &zero, sizeof(zero)) == 0;
    }
  }

  ~Udp() override {
    if (fast_path_) fast_path_->DetachUdp(this);
  }

  // The fast path's sends: as send(), with GSO and the same counting.
  void SendDatagrams(const std::vector<fastpath::OutDatagram>& datagrams) override {
    if (fd_ < 0) return;
    size_t n = datagrams.size();
    tx_msgs_.resize(n);
    tx_iov_.resize(n);
    tx_addr_.resize(n);
    size_t m = 0;
    for (const fastpath::OutDatagram& d : datagrams) {
      socklen_t alen = SockaddrOf(d.to, &tx_addr_[m]);
      if (alen == 0) { CountTxError(EAFNOSUPPORT); continue; }
      FillTxMessage(m, const_cast<uint8_t*>(d.data), d.len, alen);
      m++;
    }
    tx_datagrams_ += gso_ ? SendSegmented(m) : SendEach(0, m);
  }

 private:
  friend class PolledFd<Udp>;

  // setFastPath(fastPath | null): datagrams received are offered to it first; it sends through this socket.
  void SetFastPath(const Napi::CallbackInfo& info) {
    if (fast_path_) fast_path_->DetachUdp(this);
    fast_path_.reset();
    if (info[0].IsNull() || info[0].IsUndefined()) return;
    fast_path_ = fastpath::FastPathOf(info.Env(), info[0]);
    fast_path_->AttachUdp(this);
  }

  // The sockaddr of an endpoint for this socket's family; 0 when it cannot reach it (IPv6 on IPv4).
  socklen_t SockaddrOf(const fastpath::Endpoint& e, sockaddr_storage* out) const {
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    std::memset(out, 0, sizeof(*out));
    if (family_ == AF_INET) {
      if (std::memcmp(e.ip, kMapped, 12) != 0) return 0;
      auto* sin = reinterpret_cast<sockaddr_in*>(out);
      sin->sin_family = AF_INET;
      sin->sin_port = htons(e.port);
      std::memcpy(&sin->sin_addr, e.ip + 12, 4);
      return sizeof(sockaddr_in);
    }
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(out);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(e.port);
    std::memcpy(&sin6->sin6_addr, e.ip, 16);
    return sizeof(sockaddr_in6);
  }

  Napi::Value GetLocalPort(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), local_port_); }
  Napi::Value GetLocalAddress(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), local_address_); }
  std::string Subject() const { return "socket"; }
  void ReleaseReads() noexcept {}

  // Active offloads: any of "gso", "gro".
  Napi::Value GetOffloads(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array list = Napi::Array::New(env);
    if (gso_) list.Set(list.Length(), "gso");
    if (gro_) list.Set(list.Length(), "gro");
    return list;
  }

  // Why GSO was turned off after the kernel refused it (null while it works or was never on).
  Napi::Value GetGsoError(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (gso_error_ == 0) return env.Null();
    return Napi::String::New(env, std::string(std::strerror(gso_error_)));
  }

  // For start(callback: (batch: ArrayBuffer | undefined, count: number, addresses: string[], error?: Error) => void).
  // A batch from the same single address as the one before gets the same addresses array again.
  void PrepareReads(const Napi::CallbackInfo&) {
    size_t n = static_cast<size_t>(batch_);
    rx_size_ = gro_ ? std::max(max_datagram_, kGroBuffer) : max_datagram_;
    slab_.Reserve(n * static_cast<size_t>(rx_size_));
    rx_msgs_.resize(n);
    rx_iov_.resize(n);
    rx_addr_.resize(n);
    rx_control_.resize(gro_ ? n * CMSG_SPACE(sizeof(int)) : 0);
  }

  // The gso_size of a message received with UDP_GRO, or 0 when it is one datagram.
  static int GroSegmentSize(msghdr& h) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        int size;
        std::memcpy(&size, CMSG_DATA(c), sizeof(size));
        return size;
      }
    }
    return 0;
  }

  void ReadBatch(Napi::Env env, int status) {
    size_t n = static_cast<size_t>(batch_);
    for (size_t i = 0; i < n; i++) {
      rx_iov_[i].iov_base = slab_.data() + i * static_cast<size_t>(rx_size_);
      rx_iov_[i].iov_len = static_cast<size_t>(rx_size_);
      std::memset(&rx_msgs_[i].msg_hdr, 0, sizeof(msghdr));
      rx_msgs_[i].msg_hdr.msg_iov = &rx_iov_[i];
      rx_msgs_[i].msg_hdr.msg_iovlen = 1;
      rx_msgs_[i].msg_hdr.msg_name = &rx_addr_[i];
      rx_msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      if (gro_) {
        rx_msgs_[i].msg_hdr.msg_control = rx_control_.data() + i * CMSG_SPACE(sizeof(int));
        rx_msgs_[i].msg_hdr.msg_controllen = CMSG_SPACE(sizeof(int));
      }
      rx_msgs_[i].msg_len = 0;
    }
    int got;
    do {
      got = recvmmsg(fd_, rx_msgs_.data(), static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        rx_error_streak_ = 0;
        return;
      }
      // Errors such as ECONNREFUSED (ICMP port unreachable for an earlier send) clear on reading and
      // are counted. One that every wake-up repeats would spin the loop: report it and stop reading.
      rx_errors_++;
      last_rx_errno_ = err;
      if (++rx_error_streak_ >= kPersistentRxErrors) {
        StopPolling();
        std::string msg = std::string("udp: recvmmsg: ") + std::strerror(err) + " on every read, no longer reading";
        Deliver(env, {env.Undefined(), Napi::Number::New(env, 0), Napi::Array::New(env), Napi::Error::New(env, msg).Value()});
        DropSelfRef();
      }
      return;
    }
    rx_error_streak_ = 0;
    // The datagrams (a GRO run split back into its datagrams: gso_size each, the last may be shorter).
    segments_.clear();
    for (int i = 0; i < got; i++) {
      mmsghdr& m = rx_msgs_[static_cast<size_t>(i)];
      if (m.msg_hdr.msg_flags & MSG_TRUNC) { rx_truncated_++; continue; }
      uint32_t segment = m.msg_len;
      if (gro_) {
        int size = GroSegmentSize(m.msg_hdr);
        if (size > 0 && static_cast<uint32_t>(size) < m.msg_len) {
          segment = static_cast<uint32_t>(size);
          rx_gro_batches_++;
        }
      }
      if (segment > static_cast<uint32_t>(max_datagram_)) {
        // Larger than maxDatagram, as without GRO's bigger buffers.
        rx_truncated_++;
        continue;
      }
      uint32_t off = 0;
      do {  // once for an empty datagram
        segments_.push_back({static_cast<uint32_t>(i), off, std::min(segment, m.msg_len - off)});
        off += segment;
      } while (off < m.msg_len);
    }
    size_t kept = segments_.size();
    rx_datagrams_ += kept;
    if (kept == 0) return;
    handled_.assign(kept, 0);
    if (fast_path_) {
      offered_.clear();
      for (const Segment& g : segments_) {
        offered_.push_back({SegmentData(g), g.len, fastpath::EndpointFromSockaddr(rx_addr_[g.msg])});
      }
      fast_path_->Inbound(offered_.data(), kept, fastpath::NowMs(), handled_.data());
    }
    // What is left goes to JS. Header: per datagram (length, port, address index); then payloads.
    std::vector<uint32_t> header;
    header.reserve(kept * 3);
    size_t total = 0;
    names_.clear();
    uint32_t naddr = 0;
    const sockaddr_storage* last = nullptr;
    socklen_t last_len = 0;
    for (size_t k = 0; k < kept; k++) {
      if (handled_[k]) continue;
      const Segment& g = segments_[k];
      const mmsghdr& m = rx_msgs_[g.msg];
      const sockaddr_storage& ss = rx_addr_[g.msg];
      int port = 0;
      if (!last || last_len != m.msg_hdr.msg_namelen || std::memcmp(last, &ss, last_len) != 0) {
        names_.push_back(FormatAddress(ss, &port));
        naddr++;
        last = &ss;
        last_len = m.msg_hdr.msg_namelen;
      } else {
        FormatPort(ss, &port);
      }
      header.push_back(g.len);
      header.push_back(static_cast<uint32_t>(port));
      header.push_back(naddr - 1);
      total += g.len;
    }
    size_t count = header.size() / 3;
    if (count == 0) return;
    char* out;
    Napi::ArrayBuffer batch = NewBatch(env, header, total, &out);
    for (size_t k = 0; k < kept; k++) {
      if (handled_[k]) continue;
      std::memcpy(out, SegmentData(segments_[k]), segments_[k].len);
      out += segments_[k].len;
    }
    Deliver(env, {batch, Napi::Number::New(env, static_cast<double>(count)), Addresses(env)});
  }

  // One datagram of a received message: message index, offset in its buffer, length.
  struct Segment {
    uint32_t msg, off, len;
  };
  const uint8_t* SegmentData(const Segment& g) const {
    return static_cast<const uint8_t*>(rx_iov_[g.msg].iov_base) + g.off;
  }

  // names_ as the callback's addresses argument. A peer's datagrams mostly come from one address:
  // the array of a lone address is kept and handed over again while it stays the same (the
  // callback reads it synchronously), sparing an array and a string per batch.
  Napi::Value Addresses(Napi::Env env) {
    bool lone = names_.size() == 1;
    if (lone && !last_list_.IsEmpty() && names_[0] == last_name_) return last_list_.Value();
    Napi::Array list = Napi::Array::New(env, names_.size());
    for (size_t i = 0; i < names_.size(); i++) list.Set(static_cast<uint32_t>(i), Napi::String::New(env, names_[i]));
    if (lone) {
      last_list_ = Napi::Persistent(list);
      last_name_ = names_[0];
    }
    return list;
  }

  static void FormatPort(const sockaddr_storage& ss, int* port) {
    *port = ss.ss_family == AF_INET ? ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port)
                                    : ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
  }

  // send(data: Uint8Array[], addresses: string[], ports: number[]): number accepted by the kernel.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    Napi::Array datas = info[0].As<Napi::Array>();
    Napi::Array addrs = info[1].As<Napi::Array>();
    Napi::Array ports = info[2].As<Napi::Array>();
    uint32_t n = datas.Length();
    if (addrs.Length() != n || ports.Length() != n) throw Napi::TypeError::New(env, "udp.send: array lengths differ");
    tx_msgs_.resize(n);
    tx_iov_.resize(n);
    tx_addr_.resize(n);
    size_t m = 0;
    std::string last_host;
    int last_port = -1;
    socklen_t last_len = 0;
    for (uint32_t i = 0; i < n; i++) {
      Napi::Value v = datas.Get(i);
      if (!v.IsTypedArray()) throw Napi::TypeError::New(env, "udp.send: data must be Uint8Arrays");
      Napi::Uint8Array d = v.As<Napi::Uint8Array>();
      std::string host = addrs.Get(i).As<Napi::String>().Utf8Value();
      int port = ports.Get(i).As<Napi::Number>().Int32Value();
      socklen_t alen;
      if (m > 0 && host == last_host && port == last_port) {
        tx_addr_[m] = tx_addr_[m - 1];
        alen = last_len;
      } else {
        alen = (port > 0 && port <= 65535) ? ParseAddress(host, port, family_, &tx_addr_[m]) : 0;
      }
      if (alen == 0) { CountTxError(EINVAL); continue; }
      last_host = std::move(host);
      last_port = port;
      last_len = alen;
      FillTxMessage(m, d.Data(), d.ByteLength(), alen);
      m++;
    }
    size_t sent = gso_ ? SendSegmented(m) : SendEach(0, m);
    tx_datagrams_ += sent;
    return Napi::Number::New(env, static_cast<double>(sent));
  }

  // Sends tx_msgs_[from, to), one datagram per message; returns how many the kernel took.
  size_t SendEach(size_t from, size_t to) {
    size_t i = from, sent = 0;
    while (i < to) {
      int r = sendmmsg(fd_, tx_msgs_.data() + i, static_cast<unsigned>(std::min<size_t>(to - i, 1024)), MSG_DONTWAIT);
      if (r > 0) { i += static_cast<size_t>(r); sent += static_cast<size_t>(r); continue; }
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) { tx_dropped_ += to - i; break; }
      // The datagram at i failed (e.g. ENETUNREACH, EMSGSIZE, EPERM): count it and go on.
      CountTxError(r < 0 ? errno : EIO);
      i++;
    }
    return sent;
  }

  // Sends the m prepared datagrams with GSO: runs to one destination of one size (the last of a run
  // may be shorter) go as one message with UDP_SEGMENT. If the kernel refuses a GSO message, GSO is
  // off for this socket from then on and the rest goes one datagram per message.
  // Message m of the next send: one iovec over `data`, to tx_addr_[m] (`alen` bytes of it).
  void FillTxMessage(size_t m, void* data, size_t len, socklen_t alen) {
    tx_iov_[m].iov_base = data;
    tx_iov_[m].iov_len = len;
    std::memset(&tx_msgs_[m], 0, sizeof(mmsghdr));
    tx_msgs_[m].msg_hdr.msg_name = &tx_addr_[m];
    tx_msgs_[m].msg_hdr.msg_namelen = alen;
    tx_msgs_[m].msg_hdr.msg_iov = &tx_iov_[m];
    tx_msgs_[m].msg_hdr.msg_iovlen = 1;
  }

  size_t SendSegmented(size_t m) {
    tx_runs_.clear();
    for (size_t i = 0; i < m;) {
      size_t size = tx_iov_[i].iov_len, bytes = size, j = i + 1;
      while (size > 0 && j < m && j - i < kMaxGsoSegments && tx_iov_[j].iov_len <= size && bytes + tx_iov_[j].iov_len <= kMaxGsoBytes &&
             tx_msgs_[j].msg_hdr.msg_namelen == tx_msgs_[i].msg_hdr.msg_namelen &&
             std::memcmp(&tx_addr_[j], &tx_addr_[i], tx_msgs_[i].msg_hdr.msg_namelen) == 0) {
        bytes += tx_iov_[j].iov_len;
        if (tx_iov_[j++].iov_len < size) break;
      }
      tx_runs_.push_back({i, j - i});
      i = j;
    }
    tx_run_msgs_.resize(tx_runs_.size());
    tx_control_.resize(tx_runs_.size() * CMSG_SPACE(sizeof(uint16_t)));
    for (size_t r = 0; r < tx_runs_.size(); r++) {
      auto [first, count] = tx_runs_[r];
      mmsghdr& msg = tx_run_msgs_[r];
      msg = tx_msgs_[first];
      msg.msg_hdr.msg_iov = &tx_iov_[first];
      msg.msg_hdr.msg_iovlen = count;
      if (count > 1) {
        char* control = tx_control_.data() + r * CMSG_SPACE(sizeof(uint16_t));
        std::memset(control, 0, CMSG_SPACE(sizeof(uint16_t)));
        msg.msg_hdr.msg_control = control;
        msg.msg_hdr.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
        cmsghdr* c = CMSG_FIRSTHDR(&msg.msg_hdr);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t size = static_cast<uint16_t>(tx_iov_[first].iov_len);
        std::memcpy(CMSG_DATA(c), &size, sizeof(size));
      }
    }
    size_t r = 0, sent = 0;
    while (r < tx_runs_.size()) {
      int done = sendmmsg(fd_, tx_run_msgs_.data() + r, static_cast<unsigned>(std::min<size_t>(tx_runs_.size() - r, 1024)), MSG_DONTWAIT);
      if (done > 0) {
        for (size_t k = r; k < r + static_cast<size_t>(done); k++) {
          sent += tx_runs_[k].second;
          if (tx_runs_[k].second > 1) tx_gso_batches_++;
        }
        r += static_cast<size_t>(done);
        continue;
      }
      int err = done < 0 ? errno : EIO;
      if (err == EINTR) continue;
      auto [first, count] = tx_runs_[r];
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
        tx_dropped_ += m - first;
        break;
      }
      if (count > 1) {
        // Refused as a GSO message (EIO: no checksum offload on the route's device; EINVAL:
        // segment larger than the path MTU; ...): per datagram from here on.
        gso_ = false;
        gso_error_ = err;
        return sent + SendEach(first, m);
      }
      CountTxError(err);
      r++;
    }
    return sent;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object stats = StatsWith(env, {{"rxDatagrams", rx_datagrams_},
                                         {"rxTruncated", rx_truncated_},
                                         {"rxErrors", rx_errors_},
                                         {"txDatagrams", tx_datagrams_},
                                         {"rxGroBatches", rx_gro_batches_},
                                         {"txGsoBatches", tx_gso_batches_}});
    stats.Set("lastRxError", last_rx_errno_ ? Napi::String::New(env, std::strerror(last_rx_errno_)) : env.Null());
    stats.Set("recvBufferSize", Napi::Number::New(env, fd_ >= 0 ? GetBuffer(fd_, SO_RCVBUF) : 0));
    stats.Set("sendBufferSize", Napi::Number::New(env, fd_ >= 0 ? GetBuffer(fd_, SO_SNDBUF) : 0));
    return stats;
  }

  // The JS members besides those PolledFd defines.
  static std::vector<Property> Members() {
    return {
      InstanceAccessor<&Udp::GetLocalPort>("localPort"),
      InstanceAccessor<&Udp::GetLocalAddress>("localAddress"),
      InstanceMethod<&Udp::Send>("send"),
      InstanceAccessor<&Udp::GetOffloads>("offloads"),
      InstanceAccessor<&Udp::GetGsoError>("gsoError"),
      InstanceMethod<&Udp::SetFastPath>("setFastPath"),
    };
  }

  int family_ = AF_INET;
  int local_port_ = 0;
  std::string local_address_;
  int max_datagram_ = 9216;
  int rx_size_ = 9216;  // receive buffer per message
  bool gso_ = false, gro_ = false;
  int gso_error_ = 0;
  MappedBuffer slab_;  // up to batch x 64 KiB with GRO: resident only where reads wrote
  std::vector<char> rx_control_;
  std::vector<std::string> names_;  // source addresses of the batch being read
  Napi::Reference<Napi::Array> last_list_;
  std::string last_name_;
  std::vector<std::pair<size_t, size_t>> tx_runs_;
  std::vector<mmsghdr> tx_run_msgs_;
  std::vector<char> tx_control_;
  std::vector<mmsghdr> rx_msgs_;
  std::vector<iovec> rx_iov_;
  std::vector<sockaddr_storage> rx_addr_;
  std::vector<mmsghdr> tx_msgs_;
  std::vector<iovec> tx_iov_;
  std::vector<sockaddr_storage> tx_addr_;
  std::shared_ptr<fastpath::FastPath> fast_path_;
  std::vector<Segment> segments_;
  std::vector<fastpath::InDatagram> offered_;
  std::vector<uint8_t> handled_;
  uint64_t rx_datagrams_ = 0, rx_truncated_ = 0, tx_datagrams_ = 0, rx_gro_batches_ = 0, tx_gso_batches_ = 0;
  // recvmmsg failures other than EAGAIN; the streak counts them since the last good or empty read.
  static constexpr int kPersistentRxErrors = 1000;
  uint64_t rx_errors_ = 0;
  int last_rx_errno_ = 0;
  int rx_error_streak_ = 0;
};

}  // namespace mesh

Napi::Object InitUdp(Napi::Env env, Napi::Object exports) {
  exports.Set("Udp", mesh::Udp::Define(env, "Udp"));
  return exports;
}
