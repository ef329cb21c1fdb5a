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

}  // namespace mesh

Napi::Object InitTun(Napi::Env env, Napi::Object exports);
Napi::Object InitUdp(Napi::Env env, Napi::Object exports);
Napi::Object InitAead(Napi::Env env, Napi::Object exports);
Napi::Object InitFastPath(Napi::Env env, Napi::Object exports);
