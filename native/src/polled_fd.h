// What Tun and Udp share: a non-blocking fd polled for readability on the JS thread's libuv loop
// (no threads), whose reads are handed to one JS callback per batch.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common.h"

namespace mesh {

// A uv_poll_t watching a non-blocking fd for readability. Heap-allocated because libuv needs the
// memory until its close callback runs, which can be after the owner is gone.
class ReadPoller {
 public:
  using Fn = void (*)(void* owner, int status);
  ReadPoller() = default;
  ReadPoller(const ReadPoller&) = delete;
  ReadPoller& operator=(const ReadPoller&) = delete;
  ~ReadPoller() { Close(); }

  // Returns 0 or a libuv error code.
  int Start(uv_loop_t* loop, int fd, void* owner, Fn fn);
  bool active() const { return handle_ != nullptr; }
  void SetRef(bool ref);
  // Stops polling; must be called before the fd is closed. Idempotent.
  void Close() noexcept;

 private:
  struct Handle { uv_poll_t poll; void* owner; Fn fn; };
  static void OnPoll(uv_poll_t* p, int status, int events);
  static void OnClosed(uv_handle_t* p);
  Handle* handle_ = nullptr;
  bool refed_ = true;
};

// Calls `cb(args)` as a top-level callback from a libuv handle. If the JS function throws, the
// exception is reported as an uncaught exception (process 'uncaughtException'), never swallowed.
void CallFromLoop(Napi::Env env, Napi::FunctionReference& cb, Napi::AsyncContext& ctx,
                  const std::initializer_list<napi_value>& args);

// Reports an exception raised inside a libuv callback, where no JS caller can catch it, as an
// uncaught exception: a JS error as it is, anything else as an Error "<kind>: <what>".
void ReportUncaught(Napi::Env env, const char* kind, const Napi::Error& e) noexcept;
void ReportUncaught(Napi::Env env, const char* kind, const char* what) noexcept;

// A fresh ArrayBuffer for one batch: `header` (uint32 fields per item), then `payload_bytes` bytes
// for the caller to fill from *payload.
Napi::ArrayBuffer NewBatch(Napi::Env env, const std::vector<uint32_t>& header, size_t payload_bytes, char** payload);

// Base of Tun and Udp (CRTP). Owns the fd, its poller, the read callback and the reference the
// object holds on itself while reading (so a device nobody else references keeps delivering).
// It defines the JS methods start, ref, unref, stats and close; Derived provides:
//   static std::vector<Property> Members();                   // its other JS properties
//   void PrepareReads(const Napi::CallbackInfo& start_info);  // before polling begins
//   void ReadBatch(Napi::Env env, int status);                // on readability; may throw
//   Napi::Value Stats(const Napi::CallbackInfo& info);
//   std::string Subject() const;                              // names it in errors: "socket"
//   void ReleaseReads() noexcept;                             // on close(): what reading holds besides the fd
template <typename Derived>
class PolledFd : public Napi::ObjectWrap<Derived> {
 public:
  ~PolledFd() override { CloseFd(); }

  // The JS class: Derived::Members(), then start, ref, unref, stats and close.
  static Napi::Function Define(Napi::Env env, const char* name) {
    std::vector<Property> members = Derived::Members();
    members.push_back(Wrap::InstanceMethod("start", &PolledFd::Start));
    members.push_back(Wrap::InstanceMethod("ref", &PolledFd::RefPoller));
    members.push_back(Wrap::InstanceMethod("unref", &PolledFd::UnrefPoller));
    members.push_back(Wrap::InstanceMethod("stats", &Derived::Stats));
    members.push_back(Wrap::InstanceMethod("close", &PolledFd::Close));
    return Wrap::DefineClass(env, name, members);
  }

 protected:
  using Wrap = Napi::ObjectWrap<Derived>;
  using Property = typename Wrap::PropertyDescriptor;

  // `kind` prefixes error messages ("tun"); `async_name` names the read callbacks' async resource.
  PolledFd(const Napi::CallbackInfo& info, const char* kind, const char* async_name)
      : Wrap(info), kind_(kind), async_name_(async_name) {}

  static int ClampBatch(int batch) { return std::max(1, std::min(1024, batch)); }

  void CheckOpen(Napi::Env env) const {
    if (fd_ < 0) {
      std::string subject = static_cast<const Derived*>(this)->Subject();
      throw Napi::Error::New(env, std::string(kind_) + ": " + subject + " is closed");
    }
  }

  void CountTxError(int err) {
    tx_errors_++;
    last_tx_errno_ = err;
  }

  // A stats object: `counts` in order, then txDropped, txErrors and lastTxError.
  Napi::Object StatsWith(Napi::Env env, std::initializer_list<std::pair<const char*, uint64_t>> counts) const {
    Napi::Object stats = Napi::Object::New(env);
    for (const auto& [name, value] : counts) stats.Set(name, Napi::Number::New(env, static_cast<double>(value)));
    stats.Set("txDropped", Napi::Number::New(env, static_cast<double>(tx_dropped_)));
    stats.Set("txErrors", Napi::Number::New(env, static_cast<double>(tx_errors_)));
    stats.Set("lastTxError", last_tx_errno_ ? Napi::String::New(env, std::strerror(last_tx_errno_)) : env.Null());
    return stats;
  }

  void Deliver(Napi::Env env, const std::initializer_list<napi_value>& args) {
    CallFromLoop(env, callback_, *context_, args);
  }

  // For a read failure that will not clear: no more wake-ups for it.
  void StopPolling() { poller_.Close(); }

  void DropSelfRef() {
    if (self_ref_) {
      self_ref_ = false;
      Wrap::Unref();
    }
  }

  // Owned from the moment it is set: even a throwing derived constructor leaves it to ~PolledFd.
  int fd_ = -1;
  int batch_ = 64;
  uint64_t tx_dropped_ = 0;

 private:
  // start(callback, ...): the callback's arguments are the derived class's batch layout.
  void Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    if (poller_.active()) throw Napi::Error::New(env, std::string(kind_) + ": already started");
    callback_ = Napi::Persistent(info[0].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, async_name_);
    static_cast<Derived*>(this)->PrepareReads(info);
    int rc = poller_.Start(LoopOf(env), fd_, this, &PolledFd::OnReadable);
    if (rc != 0) throw Napi::Error::New(env, std::string(kind_) + ": uv_poll_start: " + uv_strerror(rc));
    if (!self_ref_) {
      Wrap::Ref();
      self_ref_ = true;
    }
  }

  static void OnReadable(void* owner, int status) { static_cast<PolledFd*>(owner)->ReadFromLoop(status); }

  // Runs from libuv, which cannot take an exception: whatever ReadBatch throws becomes an uncaught
  // exception in JS. The wrapper is held strongly meanwhile: the JS callback may close() the device
  // and drop the last reference, and a GC inside the callback must not free `this` under ReadBatch.
  void ReadFromLoop(int status) noexcept {
    Napi::Env env = this->Env();
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    napi_ref self = static_cast<napi_ref>(*this);
    uint32_t refs = 0;
    bool held = self != nullptr && napi_reference_ref(env, self, &refs) == napi_ok;
    try {
      static_cast<Derived*>(this)->ReadBatch(env, status);
    } catch (const Napi::Error& e) {
      ReportUncaught(env, kind_, e);
    } catch (const std::exception& e) {
      ReportUncaught(env, kind_, e.what());
    } catch (...) {
      ReportUncaught(env, kind_, "unknown C++ exception");
    }
    if (held) napi_reference_unref(env, self, &refs);
    napi_close_handle_scope(env, scope);
  }

  void RefPoller(const Napi::CallbackInfo&) { poller_.SetRef(true); }
  void UnrefPoller(const Napi::CallbackInfo&) { poller_.SetRef(false); }

  void Close(const Napi::CallbackInfo&) {
    CloseFd();
    static_cast<Derived*>(this)->ReleaseReads();
    DropSelfRef();
  }

  // Idempotent. For a (non-persistent) TUN, closing the fd removes the interface and its routes.
  void CloseFd() noexcept {
    poller_.Close();
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  const char* kind_;
  const char* async_name_;
  ReadPoller poller_;
  bool self_ref_ = false;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
  uint64_t tx_errors_ = 0;
  int last_tx_errno_ = 0;
};

}  // namespace mesh
