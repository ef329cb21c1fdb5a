// TUN device: /dev/net/tun with IFF_TUN | IFF_NO_PI, configured with ioctls (MTU, address,
// tx queue length, up) and rtnetlink (routes). Reads are driven by a uv_poll_t in the JS thread:
// each wake-up reads packets until EAGAIN or the batch limit and delivers them in one JS call.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "netlink.h"
#include "polled_fd.h"

namespace mesh {

class Tun : public PolledFd<Tun> {
 public:
  // new Tun(name: string)  — "" lets the kernel pick (tun%d); a pattern like "mesh%d" works too.
  explicit Tun(const Napi::CallbackInfo& info) : PolledFd(info, "tun", "MeshTun") {
    Napi::Env env = info.Env();
    std::string name = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    if (name.size() >= IFNAMSIZ) {
      throw Napi::Error::New(env, "tun: interface name \"" + name + "\" is longer than 15 characters");
    }
    fd_ = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) ThrowErrno(env, "tun: open /dev/net/tun", errno);
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (ioctl(fd_, TUNSETIFF, &ifr) < 0) {
      int err = errno;
      std::string what = "tun: create interface \"" + name + "\" (TUNSETIFF)";
      if (err == EBUSY) what += ": name in use by another device";
      ThrowErrno(env, what, err);
    }
    name_.assign(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
  }

 private:
  friend class PolledFd<Tun>;

  Napi::Value GetName(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }
  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
  std::string Subject() const { return "device " + name_; }

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

  // For start(callback: (data: ArrayBuffer | undefined, count: number, error?: Error) => void, batch?: number).
  // Batch layout of `data`: count little-endian uint32 lengths, then the packets back to back.
  void PrepareReads(const Napi::CallbackInfo& info) {
    if (info.Length() > 1 && info[1].IsNumber()) batch_ = ClampBatch(info[1].As<Napi::Number>().Int32Value());
  }

  void ReadBatch(Napi::Env env, int status) {
    int maxPacket = std::max(mtu_, 1500) + 64;
    size_t want = static_cast<size_t>(batch_) * static_cast<size_t>(maxPacket);
    if (slab_.size() < want) slab_.resize(want);
    lens_.clear();
    size_t used = 0;
    int err = status < 0 ? EIO : 0;
    while (err == 0 && static_cast<int>(lens_.size()) < batch_ && slab_.size() - used >= static_cast<size_t>(maxPacket)) {
      ssize_t n = read(fd_, slab_.data() + used, slab_.size() - used);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        err = errno;
        break;
      }
      lens_.push_back(static_cast<uint32_t>(n));
      used += static_cast<size_t>(n);
    }
    rx_packets_ += lens_.size();
    if (!lens_.empty()) {
      char* payload;
      Napi::ArrayBuffer batch = NewBatch(env, lens_, used, &payload);
      std::memcpy(payload, slab_.data(), used);
      Deliver(env, {batch, Napi::Number::New(env, static_cast<double>(lens_.size()))});
    }
    if (err != 0 && fd_ >= 0) {
      // The device went away (e.g. deleted with `ip link del`): stop polling and report once.
      StopPolling();
      std::string msg = std::string("tun: read from ") + name_ + ": " + std::strerror(err);
      Deliver(env, {env.Undefined(), Napi::Number::New(env, 0), Napi::Error::New(env, msg).Value()});
      DropSelfRef();
    }
  }

  // write(packets: Uint8Array[]): number of packets the kernel accepted. EAGAIN (queue full)
  // drops the packet and counts it in stats().txDropped; other errors count in txErrors.
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    Napi::Array arr = info[0].As<Napi::Array>();
    uint32_t n = arr.Length();
    uint32_t ok = 0;
    for (uint32_t i = 0; i < n; i++) {
      Napi::Value v = arr.Get(i);
      if (!v.IsTypedArray()) throw Napi::TypeError::New(env, "tun.write: packets must be Uint8Arrays");
      Napi::Uint8Array p = v.As<Napi::Uint8Array>();
      for (;;) {
        ssize_t w = ::write(fd_, p.Data(), p.ByteLength());
        if (w >= 0) { ok++; break; }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) tx_dropped_++;
        else CountTxError(errno);
        break;
      }
    }
    tx_packets_ += ok;
    return Napi::Number::New(env, ok);
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    return StatsWith(info.Env(), {{"rxPackets", rx_packets_}, {"txPackets", tx_packets_}});
  }

  // The JS members besides those PolledFd defines.
  static std::vector<Property> Members() {
    return {
      InstanceAccessor<&Tun::GetName>("name"),
      InstanceAccessor<&Tun::GetFd>("fd"),
      InstanceMethod<&Tun::SetMtu>("setMtu"),
      InstanceMethod<&Tun::SetAddress>("setAddress"),
      InstanceMethod<&Tun::SetTxQueueLength>("setTxQueueLength"),
      InstanceMethod<&Tun::Up>("up"),
      InstanceMethod<&Tun::AddRoute>("addRoute"),
      InstanceMethod<&Tun::RemoveRoute>("removeRoute"),
      InstanceMethod<&Tun::Write>("write"),
    };
  }

  std::string name_;
  int mtu_ = 1500;
  std::vector<char> slab_;
  std::vector<uint32_t> lens_;
  uint64_t rx_packets_ = 0, tx_packets_ = 0;
};

}  // namespace mesh

Napi::Object InitTun(Napi::Env env, Napi::Object exports) {
  exports.Set("Tun", mesh::Tun::Define(env, "Tun"));
  return exports;
}
