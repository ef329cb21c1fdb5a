// The transport AEAD of aead.cc as other native code uses it: the fast path (fastpath.cc) seals
// and opens with the very OpenSSL contexts a tunnel's JS Aead objects hold, with no JS call.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace mesh {

class AeadCore {
 public:
  static constexpr size_t kHeaderLen = 16;
  static constexpr size_t kTagLen = 16;
  // Seals len bytes of plaintext at pt behind the header at p (16 bytes, the AD; its counter bytes
  // 8-15 the nonce): the ciphertext and tag are written at p + 16 (p needs len + 32 bytes). pt is
  // either p + 16 (in place) or outside those bytes, so the caller need not copy it next to the
  // header first. False on an OpenSSL failure.
  virtual bool SealTo(uint8_t* p, const uint8_t* pt, size_t len) = 0;
  // Opens the datagram at p (header || ciphertext || tag, len >= 32 bytes), the plaintext written
  // at out (len - 32 bytes; out must not overlap p). Its length, or -1 when it does not
  // authenticate or OpenSSL fails.
  virtual int OpenTo(const uint8_t* p, size_t len, uint8_t* out) = 0;

 protected:
  ~AeadCore() = default;
};

// The AeadCore behind a JS Aead object of this addon, or null for anything else.
AeadCore* UnwrapAead(Napi::Env env, const Napi::Value& value);

}  // namespace mesh
