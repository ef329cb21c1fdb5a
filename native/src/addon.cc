// Entry point of the mesh native addon: a TUN device and a batched UDP socket, both polled in the
// libuv loop (no threads), both delivering one JS callback per batch of packets; and the transport
// AEAD on OpenSSL contexts kept per tunnel direction.
#include "common.h"

#ifdef __GLIBC__
#include <malloc.h>
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

// Hands the malloc heap's free pages back to the kernel. glibc returns only the free top of its
// heap by itself; what start-up freed below live blocks (config and certificate parsing, the read
// of the start-up snapshot) stays resident until malloc_trim. True when memory was released; false
// where there is nothing to do, or no glibc (musl returns freed pages itself).
static Napi::Value TrimHeap(const Napi::CallbackInfo& info) {
#ifdef __GLIBC__
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
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
  exports.Set("trimHeap", Napi::Function::New(env, mesh::TrimHeap, "trimHeap"));
  return exports;
}

NODE_API_MODULE(mesh_native, Init)
