// Shared helpers for the mesh native addon (Linux only).
#pragma once

#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace mesh {

// Throws a JS Error whose message is "<what>: <strerror(err)> (<ERRNAME>)" and whose `code`
// property is the errno name (e.g. "EPERM"), like Node's own system errors.
[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& what, int err);

// Returns the libuv loop of the environment or throws.
uv_loop_t* LoopOf(Napi::Env env);

// An allocator whose resize() leaves new bytes uninitialised: a large read buffer then costs
// resident memory only for the pages that reads actually fill (a zeroing resize touches them all).
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  using std::allocator<T>::allocator;
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

// A byte buffer for kernel reads: grown without zeroing (see DefaultInitAllocator).
using ReadBuffer = std::vector<char, DefaultInitAllocator<char>>;

}  // namespace mesh

Napi::Object InitTun(Napi::Env env, Napi::Object exports);
Napi::Object InitUdp(Napi::Env env, Napi::Object exports);
Napi::Object InitAead(Napi::Env env, Napi::Object exports);
Napi::Object InitFastPath(Napi::Env env, Napi::Object exports);
