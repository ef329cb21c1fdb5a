// Entry point of the mesh native addon: a TUN device and a batched UDP socket, both polled in the
// libuv loop (no threads), both delivering one JS callback per batch of packets; and the transport
// AEAD on OpenSSL contexts kept per tunnel direction.
#include "common.h"

#include <dlfcn.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif
#ifdef __linux__
#include <sys/prctl.h>
#endif

namespace mesh {

static const char* ErrnoName(int err) {
  switch (err) {
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(EIO) E(ENXIO) E(EBADF) E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY)
    E(EEXIST) E(ENODEV) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOSPC) E(ERANGE) E(ENOTSUP)
    E(EADDRINUSE) E(EADDRNOTAVAIL) E(ENETDOWN) E(ENETUNREACH) E(EHOSTUNREACH) E(EMSGSIZE)
    E(EAFNOSUPPORT) E(EPROTONOSUPPORT) E(ENOBUFS) E(ESRCH) E(ENOTDIR) E(ETIMEDOUT) E(EPROTO)
#undef E
    default: return "EUNKNOWN";
  }
}

void ThrowErrno(Napi::Env env, const std::string& what, int err) {
  std::string msg = what + ": " + std::strerror(err) + " (" + ErrnoName(err) + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("errno", Napi::Number::New(env, -err));
  throw e;
}

uv_loop_t* LoopOf(Napi::Env env) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    throw Napi::Error::New(env, "mesh native: cannot get the libuv event loop");
  }
  return loop;
}

// Returns the memory a settled process no longer uses: V8's low-memory collection (compacting,
// handing emptied pages back; its memory reducer would run it only after a full collection, which
// an idle node may never have), then glibc's free pages (it returns only the free top of its heap
// by itself). V8's call is looked up by name: N-API has no such call, and a runtime without it gets
// only the trim. Returns whether malloc released pages.
static Napi::Value ReleaseMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  using GetCurrent = void* (*)();
  using LowMemoryNotification = void (*)(void*);
  static auto current = reinterpret_cast<GetCurrent>(dlsym(RTLD_DEFAULT, "_ZN2v87Isolate10GetCurrentEv"));
  static auto notify = reinterpret_cast<LowMemoryNotification>(dlsym(RTLD_DEFAULT, "_ZN2v87Isolate21LowMemoryNotificationEv"));
  void* isolate = current != nullptr ? current() : nullptr;
  if (isolate != nullptr && notify != nullptr) notify(isolate);
#ifdef __GLIBC__
  return Napi::Boolean::New(env, malloc_trim(0) == 1);
#else
  return Napi::Boolean::New(env, false);
#endif
}

// Keeps the kernel from backing this process's memory with transparent huge pages from now on. A
// daemon that idles on a few MiB gains nothing from them: where THP is "always", V8's heap pages
// became resident 2 MiB at a time (an idle node 51.5-53.6 MiB instead of 49.5). Redis does the
// same (disable-thp). Children inherit it; pages already huge stay until freed. Returns whether the
// kernel took it.
static Napi::Value DisableHugePages(const Napi::CallbackInfo& info) {
#ifdef __linux__
  return Napi::Boolean::New(info.Env(), prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

}  // namespace mesh

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
#ifndef MESH_NO_NATIVE_IO
  InitTun(env, exports);
  InitUdp(env, exports);
  InitFastPath(env, exports);
#endif
  InitAead(env, exports);
  exports.Set("releaseMemory", Napi::Function::New(env, mesh::ReleaseMemory, "releaseMemory"));
  exports.Set("disableHugePages", Napi::Function::New(env, mesh::DisableHugePages, "disableHugePages"));
  return exports;
}

NODE_API_MODULE(mesh_native, Init)
