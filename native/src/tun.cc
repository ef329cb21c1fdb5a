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

#include <memory>
#include <vector>

#include "common.h"
#include "netlink.h"

namespace mesh {

class Tun : public Napi::ObjectWrap<Tun> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Tun", {
      InstanceAccessor<&Tun::GetName>("name"),
      InstanceAccessor<&Tun::GetFd>("fd"),
      InstanceMethod<&Tun::SetMtu>("setMtu"),
      InstanceMethod<&Tun::SetAddress>("setAddress"),
      InstanceMethod<&Tun::SetTxQueueLength>("setTxQueueLength"),
      InstanceMethod<&Tun::Up>("up"),
      InstanceMethod<&Tun::AddRoute>("addRoute"),
      InstanceMethod<&Tun::RemoveRoute>("removeRoute"),
      InstanceMethod<&Tun::Start>("start"),
      InstanceMethod<&Tun::Write>("write"),
      InstanceMethod<&Tun::Ref>("ref"),
      InstanceMethod<&Tun::Unref>("unref"),
      InstanceMethod<&Tun::Stats>("stats"),
      InstanceMethod<&Tun::Close>("close"),
    });
  }

  // new Tun(name: string)  — "" lets the kernel pick (tun%d); a pattern like "mesh%d" works too.
  explicit Tun(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tun>(info) {
    Napi::Env env = info.Env();
    std::string name = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    if (name.size() >= IFNAMSIZ) {
      throw Napi::Error::New(env, "tun: interface name \"" + name + "\" is longer than 15 characters");
    }
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) ThrowErrno(env, "tun: open /dev/net/tun", errno);
    ifreq ifr;
    std::memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
      int err = errno;
      close(fd);
      std::string what = "tun: create interface \"" + name + "\" (TUNSETIFF)";
      if (err == EBUSY) what += ": name in use by another device";
      ThrowErrno(env, what, err);
    }
    fd_ = fd;
    name_.assign(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
  }

  ~Tun() override { CloseFd(); }

 private:
  Napi::Value GetName(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }
  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }

  void CheckOpen(Napi::Env env) {
    if (fd_ < 0) throw Napi::Error::New(env, "tun: device " + name_ + " is closed");
  }

  // Runs an interface ioctl on an AF_INET control socket.
  void IfIoctl(Napi::Env env, unsigned long req, ifreq* ifr, const char* what) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) ThrowErrno(env, std::string("tun: ") + what + ": socket", errno);
    std::strncpy(ifr->ifr_name, name_.c_str(), IFNAMSIZ - 1);
    if (ioctl(s, req, ifr) < 0) {
      int err = errno;
      close(s);
      ThrowErrno(env, "tun: " + name_ + ": " + what, err);
    }
    close(s);
  }

  void SetMtu(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    ifreq ifr;
    std::memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_mtu = info[0].As<Napi::Number>().Int32Value();
    IfIoctl(env, SIOCSIFMTU, &ifr, "set MTU");
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
    ifreq ifr;
    std::memset(&ifr, 0, sizeof(ifr));
    auto* sin = reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(ip);
    IfIoctl(env, SIOCSIFADDR, &ifr, "set address");
    std::memset(&ifr, 0, sizeof(ifr));
    sin = reinterpret_cast<sockaddr_in*>(&ifr.ifr_netmask);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(mask);
    IfIoctl(env, SIOCSIFNETMASK, &ifr, "set netmask");
  }

  void SetTxQueueLength(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    ifreq ifr;
    std::memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_qlen = info[0].As<Napi::Number>().Int32Value();
    IfIoctl(env, SIOCSIFTXQLEN, &ifr, "set tx queue length");
  }

  void Up(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    ifreq ifr;
    std::memset(&ifr, 0, sizeof(ifr));
    IfIoctl(env, SIOCGIFFLAGS, &ifr, "get flags");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    IfIoctl(env, SIOCSIFFLAGS, &ifr, "bring up");
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

  // start(callback: (data: ArrayBuffer | undefined, count: number, error?: Error) => void, batch?: number)
  // Batch layout of `data`: count little-endian uint32 lengths, then the packets back to back.
  void Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    if (poller_.active()) throw Napi::Error::New(env, "tun: already started");
    callback_ = Napi::Persistent(info[0].As<Napi::Function>());
    if (info.Length() > 1 && info[1].IsNumber()) batch_ = std::max(1, std::min(1024, info[1].As<Napi::Number>().Int32Value()));
    context_ = std::make_unique<Napi::AsyncContext>(env, "MeshTun");
    int rc = poller_.Start(LoopOf(env), fd_, this, &Tun::OnReadable);
    if (rc != 0) throw Napi::Error::New(env, std::string("tun: uv_poll_start: ") + uv_strerror(rc));
    if (!self_ref_) { Napi::ObjectWrap<Tun>::Ref(); self_ref_ = true; }
  }

  static void OnReadable(void* owner, int status) { static_cast<Tun*>(owner)->ReadBatch(status); }

  void ReadBatch(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
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
      size_t header = lens_.size() * 4;
      Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, header + used);
      std::memcpy(ab.Data(), lens_.data(), header);
      std::memcpy(static_cast<char*>(ab.Data()) + header, slab_.data(), used);
      CallFromLoop(env, callback_, *context_, {ab, Napi::Number::New(env, static_cast<double>(lens_.size()))});
    }
    if (err != 0 && fd_ >= 0) {
      // The device went away (e.g. deleted with `ip link del`): stop polling and report once.
      poller_.Close();
      std::string msg = std::string("tun: read from ") + name_ + ": " + std::strerror(err);
      CallFromLoop(env, callback_, *context_, {env.Undefined(), Napi::Number::New(env, 0), Napi::Error::New(env, msg).Value()});
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
        else { tx_errors_++; last_tx_errno_ = errno; }
        break;
      }
    }
    tx_packets_ += ok;
    return Napi::Number::New(env, ok);
  }

  void Ref(const Napi::CallbackInfo&) { poller_.SetRef(true); }
  void Unref(const Napi::CallbackInfo&) { poller_.SetRef(false); }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("rxPackets", Napi::Number::New(env, static_cast<double>(rx_packets_)));
    o.Set("txPackets", Napi::Number::New(env, static_cast<double>(tx_packets_)));
    o.Set("txDropped", Napi::Number::New(env, static_cast<double>(tx_dropped_)));
    o.Set("txErrors", Napi::Number::New(env, static_cast<double>(tx_errors_)));
    o.Set("lastTxError", last_tx_errno_ ? Napi::String::New(env, std::strerror(last_tx_errno_)) : env.Null());
    return o;
  }

  void Close(const Napi::CallbackInfo&) {
    CloseFd();
    DropSelfRef();
  }

  void DropSelfRef() {
    if (self_ref_) { self_ref_ = false; Napi::ObjectWrap<Tun>::Unref(); }
  }

  // Closing the fd of a non-persistent TUN removes the interface and its routes.
  void CloseFd() {
    poller_.Close();
    if (fd_ >= 0) { ::close(fd_); fd_ = -1; }
  }

  int fd_ = -1;
  std::string name_;
  int mtu_ = 1500;
  int batch_ = 64;
  ReadPoller poller_;
  bool self_ref_ = false;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
  std::vector<char> slab_;
  std::vector<uint32_t> lens_;
  uint64_t rx_packets_ = 0, tx_packets_ = 0, tx_dropped_ = 0, tx_errors_ = 0;
  int last_tx_errno_ = 0;
};

}  // namespace mesh

Napi::Object InitTun(Napi::Env env, Napi::Object exports) {
  exports.Set("Tun", mesh::Tun::Define(env));
  return exports;
}
