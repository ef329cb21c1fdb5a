// Shared helpers for the mesh native addon (Linux only).
#pragma once

#include <napi.h>
#include <sys/mman.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "offload.h"

namespace mesh {

// Throws a JS Error whose message is "<what>: <strerror(err)> (<ERRNAME>)" and whose `code`
// property is the errno name (e.g. "EPERM"), like Node's own system errors.
[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& what, int err);

// Returns the libuv loop of the environment or throws.
uv_loop_t* LoopOf(Napi::Env env);

// A large byte buffer for kernel reads in a mapping of its own, so that only the pages written
// become resident, wherever malloc would have put it (glibc raises its mmap threshold once Node
// frees the start-up snapshot's 4 MB, and a malloc'd buffer then sits in the brk heap, where a
// host with transparent huge pages always on makes it resident 2 MiB at a time). Reserve grows it
// with a new mapping: what it held is not kept.
class MappedBuffer {
 public:
  MappedBuffer() = default;
  ~MappedBuffer() { Release(); }
  MappedBuffer(const MappedBuffer&) = delete;
  MappedBuffer& operator=(const MappedBuffer&) = delete;

  char* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  void Reserve(size_t n) {
    if (n <= size_) return;
    void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    Release();
    data_ = static_cast<char*>(p);
    size_ = n;
  }

 private:
  void Release() noexcept {
    if (data_ != nullptr) munmap(data_, size_);
    data_ = nullptr;
    size_ = 0;
  }

  char* data_ = nullptr;
  size_t size_ = 0;
};

// For the entry points that exist for tests (segmentTunFrame, coalesceTunPackets, FastPath's
// inbound/outbound): each input copied into an allocation of exactly its length, owned by
// `copies`, and its span pointed there. A sanitizer build (test/integration/native-sanitizers.test.ts)
// then reports any read past an input's end, which a view into a larger JS buffer would hide.
inline void UseExactCopies(std::vector<offload::Span>& spans, std::vector<std::vector<uint8_t>>& copies) {
  copies.clear();
  copies.reserve(spans.size());
  for (offload::Span& s : spans) {
    copies.emplace_back(s.data, s.data + s.len);
    s.data = copies.back().data();
  }
}

}  // namespace mesh

Napi::Object InitTun(Napi::Env env, Napi::Object exports);
Napi::Object InitUdp(Napi::Env env, Napi::Object exports);
Napi::Object InitAead(Napi::Env env, Napi::Object exports);
Napi::Object InitFastPath(Napi::Env env, Napi::Object exports);
