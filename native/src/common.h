// Shared helpers for the mesh native addon (Linux only).
#pragma once

#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace mesh {

// Throws a JS Error whose message is "<what>: <strerror(err)> (<ERRNAME>)" and whose `code`
// property is the errno name (e.g. "EPERM"), like Node's own system errors.
[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& what, int err);

// Returns the libuv loop of the environment or throws.
uv_loop_t* LoopOf(Napi::Env env);

// Calls `cb(args)` as a top-level callback from a libuv handle. If the JS function throws, the
// exception is reported as an uncaught exception (process 'uncaughtException'), never swallowed.
void CallFromLoop(Napi::Env env, Napi::FunctionReference& cb, Napi::AsyncContext& ctx,
                  const std::initializer_list<napi_value>& args);

}  // namespace mesh

Napi::Object InitTun(Napi::Env env, Napi::Object exports);
Napi::Object InitUdp(Napi::Env env, Napi::Object exports);
Napi::Object InitAead(Napi::Env env, Napi::Object exports);

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
  int Start(uv_loop_t* loop, int fd, void* owner, Fn fn) {
    if (handle_) return 0;
    auto* h = new Handle();
    h->owner = owner;
    h->fn = fn;
    int rc = uv_poll_init(loop, &h->poll, fd);
    if (rc != 0) { delete h; return rc; }
    h->poll.data = h;
    rc = uv_poll_start(&h->poll, UV_READABLE, OnPoll);
    if (rc != 0) { uv_close(reinterpret_cast<uv_handle_t*>(&h->poll), OnClosed); return rc; }
    handle_ = h;
    if (!refed_) uv_unref(reinterpret_cast<uv_handle_t*>(&h->poll));
    return 0;
  }
  bool active() const { return handle_ != nullptr; }
  void SetRef(bool ref) {
    refed_ = ref;
    if (!handle_) return;
    if (ref) uv_ref(reinterpret_cast<uv_handle_t*>(&handle_->poll));
    else uv_unref(reinterpret_cast<uv_handle_t*>(&handle_->poll));
  }
  // Stops polling; must be called before the fd is closed.
  void Close() {
    if (!handle_) return;
    uv_poll_stop(&handle_->poll);
    handle_->owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&handle_->poll), OnClosed);
    handle_ = nullptr;
  }

 private:
  struct Handle { uv_poll_t poll; void* owner; Fn fn; };
  static void OnPoll(uv_poll_t* p, int status, int events) {
    auto* h = static_cast<Handle*>(p->data);
    if (h->owner) h->fn(h->owner, status);
  }
  static void OnClosed(uv_handle_t* p) { delete static_cast<Handle*>(p->data); }
  Handle* handle_ = nullptr;
  bool refed_ = true;
};

}  // namespace mesh
