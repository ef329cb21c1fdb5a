// TUN device: /dev/net/tun with IFF_TUN | IFF_NO_PI, configured with ioctls (MTU, address,
// tx queue length, up) and rtnetlink (routes). Reads are driven by a uv_poll_t in the JS thread:
// each wake-up reads packets until EAGAIN or the batch limit and delivers them in one JS call.
// With offloads (IFF_VNET_HDR + TUNSETOFFLOAD) the kernel hands over TCP/UDP super-packets of up
// to 64 KiB, split here into MTU-sized packets, and takes coalesced TCP (and with USO UDP) super-packets on write
// (src/offload.cc), so JS still sees and writes ordinary IP packets.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <vector>

#include "fastpath.h"
#include "netlink.h"
#include "offload.h"
#include "polled_fd.h"
#include "uring_reads.h"

namespace mesh {

namespace {

// linux/if_tun.h offload bits (USO arrived in Linux 6.2; spelled out for older headers).
constexpr unsigned kTunCsum = 0x01, kTunTso4 = 0x02, kTunTso6 = 0x04, kTunUso4 = 0x20, kTunUso6 = 0x40;

// Offload sets to try, best first: each kernel takes the first one it knows.
constexpr unsigned kOffloadSets[] = {
    kTunCsum | kTunTso4 | kTunTso6 | kTunUso4 | kTunUso6,
    kTunCsum | kTunTso4 | kTunTso6,
    kTunCsum,
};

// Views of a JS array of Uint8Arrays (valid while the call runs).
void ReadSpans(Napi::Env env, Napi::Value value, const char* what, std::vector<offload::Span>& spans) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, std::string(what) + ": packets must be an array");
  Napi::Array arr = value.As<Napi::Array>();
  spans.clear();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw Napi::TypeError::New(env, std::string(what) + ": packets must be Uint8Arrays");
    }
    Napi::Uint8Array p = v.As<Napi::Uint8Array>();
    spans.push_back({p.Data(), p.ByteLength()});
  }
}

// The writev vector of one TUN write: virtio_net_hdr, rewritten headers, then the payloads.
void BuildIov(const offload::TunWrite& w, const std::vector<offload::Span>& spans, std::vector<iovec>& iov) {
  iov.clear();
  iov.push_back({const_cast<uint8_t*>(w.vnet), offload::kVnetHdrLen});
  if (w.head_len > 0) iov.push_back({const_cast<uint8_t*>(w.head), w.head_len});
  for (size_t i = w.first; i < w.first + w.count; i++) {
    iov.push_back({const_cast<uint8_t*>(spans[i].data + w.skip), spans[i].len - w.skip});
  }
}

}  // namespace

class Tun : public PolledFd<Tun>, public fastpath::TunSink {
 public:
  // new Tun(name: string, offload?: boolean, ioUring?: boolean)  — "" lets the kernel pick (tun%d);
  // a pattern like "mesh%d" works too. With offload, IFF_VNET_HDR and the best offload set the
  // kernel accepts; a kernel that refuses IFF_VNET_HDR gets a plain device (see `offloads`). With
  // ioUring, queued packets are read in io_uring batches where the kernel allows (see `readMode`).
  explicit Tun(const Napi::CallbackInfo& info) : PolledFd(info, "tun", "MeshTun") {
    Napi::Env env = info.Env();
    std::string name = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    bool offload = info.Length() > 1 && info[1].ToBoolean();
    bool io_uring = info.Length() > 2 && info[2].ToBoolean();
    if (name.size() >= IFNAMSIZ) {
      throw Napi::Error::New(env, "tun: interface name \"" + name + "\" is longer than 15 characters");
    }
    fd_ = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) ThrowErrno(env, "tun: open /dev/net/tun", errno);
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0);
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    int rc = ioctl(fd_, TUNSETIFF, &ifr);
    if (rc < 0 && errno == EINVAL && offload) {
      ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
      rc = ioctl(fd_, TUNSETIFF, &ifr);
    }
    if (rc < 0) {
      int err = errno;
      std::string what = "tun: create interface \"" + name + "\" (TUNSETIFF)";
      if (err == EBUSY) what += ": name in use by another device";
      ThrowErrno(env, what, err);
    }
    name_.assign(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
    vnet_hdr_ = (ifr.ifr_flags & IFF_VNET_HDR) != 0;
    if (io_uring) uring_.Open();
    if (vnet_hdr_) {
      for (unsigned set : kOffloadSets) {
        if (ioctl(fd_, TUNSETOFFLOAD, static_cast<unsigned long>(set)) == 0) {
          offloads_ = set;
          break;
        }
      }
    }
  }

  ~Tun() override {
    if (fast_path_) fast_path_->DetachTun(this);
  }

  // The fast path's TUN writes: as write(), with the same coalescing and counting.
  void WritePackets(const std::vector<offload::Span>& packets) override {
    if (fd_ >= 0) tx_packets_ += WriteSpans(packets);
  }

 private:
  friend class PolledFd<Tun>;

  // setFastPath(fastPath | null): packets read are offered to it first; it writes through this device.
  void SetFastPath(const Napi::CallbackInfo& info) {
    if (fast_path_) fast_path_->DetachTun(this);
    fast_path_.reset();
    if (info[0].IsNull() || info[0].IsUndefined()) return;
    fast_path_ = fastpath::FastPathOf(info.Env(), info[0]);
    fast_path_->AttachTun(this);
  }

  Napi::Value GetName(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }
  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
  // "io_uring" (batches of reads in one system call) or "read" (one read(2) per packet).
  Napi::Value GetReadMode(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), uring_.IsOpen() ? "io_uring" : "read"); }
  // After close(): the ring goes with the device.
  void ReleaseReads() noexcept { uring_.Close(); }
  std::string Subject() const { return "device " + name_; }

  // The active offloads: "vnet_hdr", then "csum", "tso4", "tso6", "uso4", "uso6" as enabled.
  Napi::Value GetOffloads(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array list = Napi::Array::New(env);
    if (!vnet_hdr_) return list;
    list.Set(0u, "vnet_hdr");
    const std::pair<unsigned, const char*> names[] = {
        {kTunCsum, "csum"}, {kTunTso4, "tso4"}, {kTunTso6, "tso6"}, {kTunUso4, "uso4"}, {kTunUso6, "uso6"}};
    for (const auto& [bit, label] : names) {
      if (offloads_ & bit) list.Set(list.Length(), label);
    }
    return list;
  }

  // A zeroed interface request for this device; throws first when the device is closed.
  ifreq Request(Napi::Env env) {
    CheckOpen(env);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name_.c_str(), IFNAMSIZ - 1);
    return ifr;
  }

  // Runs an interface ioctl on an AF_INET control socket.
  void IfIoctl(Napi::Env env, unsigned long req, ifreq* ifr, const char* what) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) ThrowErrno(env, std::string("tun: ") + what + ": socket", errno);
    if (ioctl(s, req, ifr) < 0) {
      int err = errno;
      close(s);
      ThrowErrno(env, "tun: " + name_ + ": " + what, err);
    }
    close(s);
  }

  void SetMtu(const Napi::CallbackInfo& info) {
    ifreq ifr = Request(info.Env());
    ifr.ifr_mtu = info[0].As<Napi::Number>().Int32Value();
    IfIoctl(info.Env(), SIOCSIFMTU, &ifr, "set MTU");
    mtu_ = ifr.ifr_mtu;
  }

  // setAddress(ip: uint32, bits: number)
  void SetAddress(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    uint32_t ip = info[0].As<Napi::Number>().Uint32Value();
    int bits = info[1].As<Napi::Number>().Int32Value();
    if (bits < 0 || bits > 32) throw Napi::RangeError::New(env, "tun: prefix length must be 0..32");
    uint32_t mask = bits == 0 ? 0 : (0xffffffffu << (32 - bits));
    SetIpv4(env, SIOCSIFADDR, ip, "set address");
    SetIpv4(env, SIOCSIFNETMASK, mask, "set netmask");
  }

  // An ioctl whose argument is one IPv4 sockaddr (ifr_addr and ifr_netmask share that place).
  void SetIpv4(Napi::Env env, unsigned long req, uint32_t value, const char* what) {
    ifreq ifr = Request(env);
    auto* sin = reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(value);
    IfIoctl(env, req, &ifr, what);
  }

  void SetTxQueueLength(const Napi::CallbackInfo& info) {
    ifreq ifr = Request(info.Env());
    ifr.ifr_qlen = info[0].As<Napi::Number>().Int32Value();
    IfIoctl(info.Env(), SIOCSIFTXQLEN, &ifr, "set tx queue length");
  }

  void Up(const Napi::CallbackInfo& info) {
    ifreq ifr = Request(info.Env());
    IfIoctl(info.Env(), SIOCGIFFLAGS, &ifr, "get flags");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    IfIoctl(info.Env(), SIOCSIFFLAGS, &ifr, "bring up");
  }

  void ChangeRoute(const Napi::CallbackInfo& info, bool add) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    RouteSpec r;
    r.dst = info[0].As<Napi::Number>().Uint32Value();
    r.bits = info[1].As<Napi::Number>().Int32Value();
    r.mtu = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 0;
    r.metric = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Int64Value() : -1;
    r.ifindex = static_cast<int>(if_nametoindex(name_.c_str()));
    if (r.ifindex == 0) ThrowErrno(env, "tun: " + name_ + ": interface index", errno);
    int err = RouteChange(add, r);
    if (err != 0) {
      char dst[INET_ADDRSTRLEN];
      uint32_t be = htonl(r.dst);
      inet_ntop(AF_INET, &be, dst, sizeof(dst));
      ThrowErrno(env, std::string("tun: ") + (add ? "add" : "remove") + " route " + dst + "/" +
                          std::to_string(r.bits) + " dev " + name_, err);
    }
  }
  void AddRoute(const Napi::CallbackInfo& info) { ChangeRoute(info, true); }
  void RemoveRoute(const Napi::CallbackInfo& info) { ChangeRoute(info, false); }

  // 16 address bytes from a Uint8Array argument.
  static void Ip6Arg(Napi::Env env, const Napi::Value& value, unsigned char out[16]) {
    if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
        value.As<Napi::Uint8Array>().ByteLength() != 16) {
      throw Napi::TypeError::New(env, "tun: an IPv6 address must be a Uint8Array of 16 bytes");
    }
    std::memcpy(out, value.As<Napi::Uint8Array>().Data(), 16);
  }

  int IfIndex(Napi::Env env) {
    int index = static_cast<int>(if_nametoindex(name_.c_str()));
    if (index == 0) ThrowErrno(env, "tun: " + name_ + ": interface index", errno);
    return index;
  }

  static std::string Ip6Text(const unsigned char addr[16], int bits) {
    char text[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, addr, text, sizeof(text));
    return std::string(text) + "/" + std::to_string(bits);
  }

  // addAddress6(addr: Uint8Array(16), bits: number)
  void AddAddress6(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    unsigned char addr[16];
    Ip6Arg(env, info[0], addr);
    int bits = info[1].As<Napi::Number>().Int32Value();
    if (bits < 0 || bits > 128) throw Napi::RangeError::New(env, "tun: IPv6 prefix length must be 0..128");
    int err = AddressAdd(AF_INET6, IfIndex(env), addr, bits);
    if (err != 0) ThrowErrno(env, "tun: " + name_ + ": add address " + Ip6Text(addr, bits), err);
  }

  // addAddress4(ip: uint32, bits: number): a further IPv4 address (setAddress sets the first).
  void AddAddress4(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    uint32_t be = htonl(info[0].As<Napi::Number>().Uint32Value());
    int bits = info[1].As<Napi::Number>().Int32Value();
    if (bits < 0 || bits > 32) throw Napi::RangeError::New(env, "tun: prefix length must be 0..32");
    int err = AddressAdd(AF_INET, IfIndex(env), reinterpret_cast<const unsigned char*>(&be), bits);
    if (err != 0) {
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &be, text, sizeof(text));
      ThrowErrno(env, "tun: " + name_ + ": add address " + text + "/" + std::to_string(bits), err);
    }
  }

  // addRoute6 / removeRoute6(dst: Uint8Array(16), bits: number, mtu?: number, metric?: number)
  void ChangeRoute6(const Napi::CallbackInfo& info, bool add) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    Route6Spec r;
    Ip6Arg(env, info[0], r.dst);
    r.bits = info[1].As<Napi::Number>().Int32Value();
    r.mtu = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 0;
    r.metric = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Int64Value() : -1;
    r.ifindex = IfIndex(env);
    int err = Route6Change(add, r);
    if (err != 0) ThrowErrno(env, std::string("tun: ") + (add ? "add" : "remove") + " route " + Ip6Text(r.dst, r.bits) + " dev " + name_, err);
  }
  void AddRoute6(const Napi::CallbackInfo& info) { ChangeRoute6(info, true); }
  void RemoveRoute6(const Napi::CallbackInfo& info) { ChangeRoute6(info, false); }

  // For start(callback: (data: ArrayBuffer | undefined, count: number, error?: Error) => void, batch?: number).
  // Batch layout of `data`: count little-endian uint32 lengths, then the packets back to back.
  void PrepareReads(const Napi::CallbackInfo& info) {
    if (info.Length() > 1 && info[1].IsNumber()) batch_ = ClampBatch(info[1].As<Napi::Number>().Int32Value());
    if (info.Length() > 2 && info[2].IsNumber()) headroom_ = std::max(0, std::min(kMaxHeadroom, info[2].As<Napi::Number>().Int32Value()));
  }

  void ReadBatch(Napi::Env env, int status) {
    int maxPacket = std::max(mtu_, 1500) + 64;
    // With a vnet header one read can yield a 64 KiB super-packet: keep room to split one more.
    size_t room = vnet_hdr_ ? offload::kSegmentRoom : static_cast<size_t>(maxPacket);
    // One read's buffer: a whole super-packet after its vnet header, or one packet.
    size_t frame_size = vnet_hdr_ ? offload::kVnetHdrLen + offload::kMaxSuperPacket : static_cast<size_t>(maxPacket);
    size_t frames = uring_.IsOpen() ? UringReads::kEntries : 1;
    // The batch, plus room to split what each read of one io_uring round may bring.
    size_t want = static_cast<size_t>(batch_) * static_cast<size_t>(maxPacket) + (uring_.IsOpen() ? frames * room : (vnet_hdr_ ? room : 0));
    slab_.Reserve(want);
    frames_.Reserve(frames * frame_size);
    lens_.clear();
    size_t used = 0;
    int err = status < 0 ? EIO : 0;
    // Reads per round: one read(2) first; while each read brings one packet (a queue of small
    // packets), io_uring rounds of 2, 4, 8, ... reads in one system call; after a super-packet (a
    // bulk TCP flow, already 64 KiB a read) one read(2) at a time again.
    size_t next = 1;
    int results[UringReads::kEntries];
    while (err == 0 && lens_.size() < static_cast<size_t>(batch_) && slab_.size() - used >= room) {
      size_t k = 1;
      if (next > 1 && uring_.IsOpen()) {
        k = std::min({next, frames, static_cast<size_t>(batch_) - lens_.size(), (slab_.size() - used) / room});
      }
      // Without a vnet header a single read lands in the batch itself.
      bool in_place = k == 1 && !vnet_hdr_;
      rx_reads_++;
      if (k == 1) {
        char* into = in_place ? slab_.data() + used : frames_.data();
        ssize_t n = read(fd_, into, in_place ? slab_.size() - used : frame_size);
        results[0] = n < 0 ? -errno : static_cast<int>(n);
      } else if (uring_.Read(fd_, frames_.data(), frame_size, static_cast<unsigned>(k), results) < 0) {
        uring_.Close();  // what it read is in results; one read(2) at a time from now on
      }
      bool drained = false, single = true;
      for (size_t i = 0; i < k; i++) {
        int n = results[i];
        if (n == -EAGAIN || n == -EWOULDBLOCK) {
          drained = true;
          continue;
        }
        if (n == -EINTR) continue;
        if (k > 1 && (n == -EOPNOTSUPP || n == -EINVAL)) {
          uring_.Close();  // this kernel cannot read a TUN without waiting: read(2) it is
          continue;
        }
        if (n < 0) {
          err = -n;
          break;
        }
        const char* data = in_place ? slab_.data() + used : frames_.data() + i * frame_size;
        if (!Take(data, static_cast<size_t>(n), in_place ? slab_.size() - used : frame_size, in_place, used)) single = false;
      }
      if (drained) break;
      next = single && uring_.IsOpen() ? k * 2 : 1;
    }
    rx_packets_ += lens_.size();
    if (!lens_.empty()) DeliverUnhandled(env, used);
    if (err != 0 && fd_ >= 0) {
      // The device went away (e.g. deleted with `ip link del`): stop polling and report once.
      StopPolling();
      std::string msg = std::string("tun: read from ") + name_ + ": " + std::strerror(err);
      Deliver(env, {env.Undefined(), Napi::Number::New(env, 0), Napi::Error::New(env, msg).Value()});
      DropSelfRef();
    }
  }

  // Adds what one read brought (`n` bytes in a buffer of `cap`) to the batch at slab_ + used: a
  // packet as it is (copied unless read in place), a super-packet split to the MTU. False for a
  // super-packet. The slab has room for it: the read loop keeps `room` free per read.
  bool Take(const char* data, size_t n, size_t cap, bool in_place, size_t& used) {
    if (n > cap) {
      rx_invalid_++;  // a kernel that reports more than it could copy
      return true;
    }
    if (!vnet_hdr_) {
      if (!in_place) std::memcpy(slab_.data() + used, data, n);
      lens_.push_back(static_cast<uint32_t>(n));
      used += n;
      return true;
    }
    size_t before = lens_.size();
    long wrote = offload::Segment(reinterpret_cast<const uint8_t*>(data), n, reinterpret_cast<uint8_t*>(slab_.data() + used), slab_.size() - used, lens_);
    if (wrote < 0) {
      rx_invalid_++;
      return true;
    }
    used += static_cast<size_t>(wrote);
    if (lens_.size() - before <= 1) return true;
    rx_super_packets_++;
    return false;
  }

  // Offers the packets read (lens_, back to back in slab_) to the fast path, and hands the rest to JS
  // in one batch (none when the fast path took them all).
  void DeliverUnhandled(Napi::Env env, size_t used) {
    size_t n = lens_.size();
    read_spans_.clear();
    size_t from = 0;
    for (uint32_t len : lens_) {
      read_spans_.push_back({reinterpret_cast<const uint8_t*>(slab_.data() + from), len});
      from += len;
    }
    handled_.assign(n, 0);
    if (fast_path_) fast_path_->Outbound(read_spans_.data(), n, fastpath::NowMs(), handled_.data());
    js_lens_.clear();
    size_t js_bytes = 0;
    for (size_t i = 0; i < n; i++) {
      if (handled_[i]) continue;
      js_lens_.push_back(lens_[i]);
      js_bytes += lens_[i];
    }
    if (js_lens_.empty()) return;
    char* payload;
    const size_t room = static_cast<size_t>(headroom_);
    Napi::ArrayBuffer batch = NewBatch(env, js_lens_, js_bytes + 2 * room * js_lens_.size(), &payload);
    // Each packet with `room` free bytes before and after it, where it is sealed in place.
    for (size_t i = 0; i < n; i++) {
      if (handled_[i]) continue;
      std::memcpy(payload + room, read_spans_[i].data, read_spans_[i].len);
      payload += room + read_spans_[i].len + room;
    }
    Deliver(env, {batch, Napi::Number::New(env, static_cast<double>(js_lens_.size()))});
  }

  // write(packets: Uint8Array[]): number of packets the kernel accepted. EAGAIN (queue full)
  // drops the packet and counts it in stats().txDropped; other errors count in txErrors. With a
  // vnet header, runs of one TCP flow go to the kernel as one super-packet (counted per packet).
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    ReadSpans(env, info[0], "tun.write", spans_);
    uint32_t ok = WriteSpans(spans_);
    tx_packets_ += ok;
    return Napi::Number::New(env, ok);
  }

  // Writes the packets (coalesced with a vnet header); how many the kernel accepted.
  uint32_t WriteSpans(const std::vector<offload::Span>& packets) {
    uint32_t ok = 0;
    if (!vnet_hdr_) {
      for (const offload::Span& p : packets) {
        if (WriteOnce(p.data, p.len, nullptr, 0)) ok++;
      }
      return ok;
    }
    offload::Coalesce(packets, writes_, (offloads_ & kTunUso4) != 0);
    for (const offload::TunWrite& w : writes_) {
      BuildIov(w, packets, iov_);
      if (WriteOnce(nullptr, 0, iov_.data(), static_cast<int>(iov_.size()))) {
        ok += static_cast<uint32_t>(w.count);
        if (w.count > 1) tx_super_packets_++;
      }
    }
    return ok;
  }

  // One write (or writev when iov is given); false when the packet was dropped or failed.
  bool WriteOnce(const uint8_t* data, size_t len, const iovec* iov, int iovcnt) {
    for (;;) {
      ssize_t w = iov ? ::writev(fd_, iov, iovcnt) : ::write(fd_, data, len);
      if (w >= 0) return true;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) tx_dropped_++;
      else CountTxError(errno);
      return false;
    }
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    return StatsWith(info.Env(), {{"rxPackets", rx_packets_},
                                  {"txPackets", tx_packets_},
                                  {"rxSuperPackets", rx_super_packets_},
                                  {"rxReads", rx_reads_},
                                  {"rxInvalid", rx_invalid_},
                                  {"txSuperPackets", tx_super_packets_}});
  }

  // The JS members besides those PolledFd defines.
  static std::vector<Property> Members() {
    return {
      InstanceAccessor<&Tun::GetName>("name"),
      InstanceAccessor<&Tun::GetFd>("fd"),
      InstanceAccessor<&Tun::GetOffloads>("offloads"),
      InstanceAccessor<&Tun::GetReadMode>("readMode"),
      InstanceMethod<&Tun::SetMtu>("setMtu"),
      InstanceMethod<&Tun::SetAddress>("setAddress"),
      InstanceMethod<&Tun::SetTxQueueLength>("setTxQueueLength"),
      InstanceMethod<&Tun::Up>("up"),
      InstanceMethod<&Tun::AddRoute>("addRoute"),
      InstanceMethod<&Tun::AddRoute6>("addRoute6"),
      InstanceMethod<&Tun::RemoveRoute6>("removeRoute6"),
      InstanceMethod<&Tun::AddAddress6>("addAddress6"),
      InstanceMethod<&Tun::AddAddress4>("addAddress4"),
      InstanceMethod<&Tun::RemoveRoute>("removeRoute"),
      InstanceMethod<&Tun::Write>("write"),
      InstanceMethod<&Tun::SetFastPath>("setFastPath"),
    };
  }

  std::string name_;
  int mtu_ = 1500;
  bool vnet_hdr_ = false;
  unsigned offloads_ = 0;
  // Free bytes around each delivered packet (start's third argument), for the tunnel header and tag.
  static constexpr int kMaxHeadroom = 256;
  int headroom_ = 0;
  MappedBuffer slab_;
  // The buffers of one round of reads (one, or UringReads::kEntries with io_uring).
  MappedBuffer frames_;
  UringReads uring_;
  std::vector<uint32_t> lens_;
  std::vector<offload::Span> spans_;
  std::vector<offload::TunWrite> writes_;
  std::vector<iovec> iov_;
  std::shared_ptr<fastpath::FastPath> fast_path_;
  std::vector<offload::Span> read_spans_;
  std::vector<uint8_t> handled_;
  std::vector<uint32_t> js_lens_;
  uint64_t rx_packets_ = 0, tx_packets_ = 0, rx_super_packets_ = 0, rx_invalid_ = 0, tx_super_packets_ = 0, rx_reads_ = 0;
};

// segmentTunFrame(frame: Uint8Array, cap?: number): Buffer[] | null — offload::Segment
// on one frame as read from a vnet-header TUN (null when it is dropped); for tests.
Napi::Value SegmentTunFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array frame = info[0].As<Napi::Uint8Array>();
  size_t cap = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : offload::kSegmentRoom;
  std::vector<offload::Span> in{{frame.Data(), frame.ByteLength()}};
  std::vector<std::vector<uint8_t>> copies;
  UseExactCopies(in, copies);
  std::vector<uint8_t> out(cap);
  std::vector<uint32_t> lens;
  long wrote = offload::Segment(in[0].data, in[0].len, out.data(), cap, lens);
  if (wrote < 0) return env.Null();
  Napi::Array result = Napi::Array::New(env, lens.size());
  size_t pos = 0;
  for (size_t i = 0; i < lens.size(); i++) {
    result.Set(static_cast<uint32_t>(i), Napi::Buffer<uint8_t>::Copy(env, out.data() + pos, lens[i]));
    pos += lens[i];
  }
  return result;
}

// coalesceTunPackets(packets: Uint8Array[], udp?: boolean): Buffer[] — the bytes each TUN write of
// offload::Coalesce would carry (virtio_net_hdr first; `udp`: as on a device with USO); for tests.
Napi::Value CoalesceTunPackets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<offload::Span> spans;
  std::vector<offload::TunWrite> writes;
  std::vector<iovec> iov;
  std::vector<std::vector<uint8_t>> copies;
  ReadSpans(env, info[0], "coalesceTunPackets", spans);
  UseExactCopies(spans, copies);
  offload::Coalesce(spans, writes, info.Length() > 1 && info[1].ToBoolean());
  Napi::Array result = Napi::Array::New(env, writes.size());
  for (size_t i = 0; i < writes.size(); i++) {
    BuildIov(writes[i], spans, iov);
    std::vector<uint8_t> bytes;
    for (const iovec& v : iov) {
      const uint8_t* base = static_cast<const uint8_t*>(v.iov_base);
      bytes.insert(bytes.end(), base, base + v.iov_len);
    }
    result.Set(static_cast<uint32_t>(i), Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size()));
  }
  return result;
}

}  // namespace mesh

Napi::Object InitTun(Napi::Env env, Napi::Object exports) {
  exports.Set("Tun", mesh::Tun::Define(env, "Tun"));
  exports.Set("segmentTunFrame", Napi::Function::New<mesh::SegmentTunFrame>(env, "segmentTunFrame"));
  exports.Set("coalesceTunPackets", Napi::Function::New<mesh::CoalesceTunPackets>(env, "coalesceTunPackets"));
  return exports;
}
