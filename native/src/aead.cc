// Transport AEAD on OpenSSL's EVP API (the copy linked into node; its symbols are exported by the
// node binary, so nothing extra is linked). One EVP_CIPHER_CTX per direction, keyed once; per
// packet only the nonce is set. This replaces a createCipheriv/createDecipheriv per packet, whose
// object churn dominated the data path.
//
// Nonce = 4 zero bytes + 64-bit counter, big-endian for AES-256-GCM, little-endian for
// ChaCha20-Poly1305 (Nebula/Noise rules). Tags are 16 bytes. Output layouts match src/protocol/aead.ts.
#include <dlfcn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <chrono>
#include <climits>
#include <cstdint>

#include "aead.h"
#include "common.h"

namespace mesh {

namespace {

constexpr int kKeyLen = 32;
constexpr int kNonceLen = 12;
// Approximate native footprint of one object with both contexts (OpenSSL's GCM/ChaCha state + ours).
constexpr int64_t kExternalBytes = 2048;
// EVP_CipherInit_ex's `enc` for "keep the direction the context was made for".
constexpr int kKeepDirection = -1;
// Largest integer a JS number holds exactly (2^53 - 1): the bound for counters.
constexpr double kMaxSafeInteger = 9007199254740991.0;
// A tunnel's own keyed context costs ~1.4 KB of OpenSSL state per direction (~280 MiB for a
// lighthouse's 100,000 tunnels, each carrying a message every few seconds). A direction borrows
// this thread's shared context, keyed for each call (~1 us more per call), until it is busy:
// kBusyCalls calls in a row, each within kBusyGap of the one before; then it gets its own.
constexpr uint32_t kBusyCalls = 32;
constexpr std::chrono::milliseconds kBusyGap{1000};

// This thread's shared contexts, by cipher (AES-GCM, ChaCha20-Poly1305) and direction (open, seal).
struct SharedContexts {
  EVP_CIPHER_CTX* slots[2][2] = {};
  ~SharedContexts() {
    for (auto& by_direction : slots) {
      for (EVP_CIPHER_CTX* ctx : by_direction) {
        if (ctx) EVP_CIPHER_CTX_free(ctx);
      }
    }
  }
};
thread_local SharedContexts shared_contexts;

struct Span {
  uint8_t* data;
  size_t length;
};

Span SpanOf(const Napi::Value& v) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(v.Env(), "aead: expected a Uint8Array");
  Napi::TypedArray t = v.As<Napi::TypedArray>();
  if (t.TypedArrayType() != napi_uint8_array) throw Napi::TypeError::New(v.Env(), "aead: expected a Uint8Array");
  Napi::Uint8Array u = v.As<Napi::Uint8Array>();
  return {u.Data(), u.ByteLength()};
}

// Returns false for anything that is not an integer counter in [0, 2^53).
bool CounterOf(const Napi::Value& v, uint64_t* out) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= kMaxSafeInteger) || d != static_cast<double>(static_cast<uint64_t>(d))) return false;
  *out = static_cast<uint64_t>(d);
  return true;
}

}  // namespace

class Aead : public Napi::ObjectWrap<Aead>, public AeadCore {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Aead", {
      InstanceMethod<&Aead::SealInto>("sealInto"),
      InstanceMethod<&Aead::OpenInto>("openInto"),
      InstanceMethod<&Aead::SealPacket>("sealPacket"),
      InstanceMethod<&Aead::OpenPacket>("openPacket"),
      InstanceMethod<&Aead::SealBatch>("sealBatch"),
      InstanceMethod<&Aead::OpenBatch>("openBatch"),
    });
  }

  bool SealTo(uint8_t* p, const uint8_t* pt, size_t len) override {
    EVP_CIPHER_CTX* ctx = TryContext(true);
    return ctx != nullptr && len <= INT_MAX - kHeaderLen - kTagLen &&
           Encrypt(ctx, HeaderCounter(p), p, kHeaderLen, pt, len, p + kHeaderLen);
  }

  int OpenTo(const uint8_t* p, size_t len, uint8_t* out) override {
    EVP_CIPHER_CTX* ctx = TryContext(false);
    if (ctx == nullptr || len < kHeaderLen + kTagLen || len > INT_MAX) return -1;
    return Decrypt(ctx, HeaderCounter(p), p, kHeaderLen, p + kHeaderLen, len - kHeaderLen - kTagLen, out);
  }

  // new Aead(cipher: 'aes' | 'chachapoly', key: Uint8Array(32))
  explicit Aead(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Aead>(info) {
    Napi::Env env = info.Env();
    std::string cipher = info[0].As<Napi::String>().Utf8Value();
    if (cipher == "aes") {
      big_endian_nonce_ = true;
      cipher_ = EVP_aes_256_gcm();
    } else if (cipher == "chachapoly") {
      big_endian_nonce_ = false;
      cipher_ = EVP_chacha20_poly1305();
    } else {
      throw Napi::Error::New(env, "aead: unknown cipher " + cipher);
    }
    Span key = SpanOf(info[1]);
    if (key.length != kKeyLen) throw Napi::RangeError::New(env, "aead: key must be 32 bytes");
    std::memcpy(key_, key.data, kKeyLen);
    // The contexts live outside the V8 heap; telling V8 their size lets tunnel churn trigger the GC
    // that finalizes (and frees) the dropped ones.
    Napi::MemoryManagement::AdjustExternalMemory(env, kExternalBytes);
  }

  // Runs from the garbage collector's finalizer once the tunnel's JS object is gone.
  ~Aead() override {
    if (seal_ctx_) EVP_CIPHER_CTX_free(seal_ctx_);
    if (open_ctx_) EVP_CIPHER_CTX_free(open_ctx_);
    OPENSSL_cleanse(key_, sizeof(key_));
    Napi::MemoryManagement::AdjustExternalMemory(Env(), -kExternalBytes);
  }

 private:
  // Contexts are made on first use: a tunnel direction only ever seals or only ever opens. Null
  // when OpenSSL cannot make one.
  // The context for one call (or one batch) in a direction, keyed with this tunnel's key.
  EVP_CIPHER_CTX* TryContext(bool encrypt) {
    EVP_CIPHER_CTX*& slot = encrypt ? seal_ctx_ : open_ctx_;
    if (slot) return slot;
    Busy& busy = encrypt ? seal_busy_ : open_busy_;
    auto now = std::chrono::steady_clock::now();
    busy.calls = now - busy.last > kBusyGap ? 1 : busy.calls + 1;
    busy.last = now;
    if (busy.calls < kBusyCalls) {
      EVP_CIPHER_CTX*& shared = shared_contexts.slots[big_endian_nonce_ ? 0 : 1][encrypt ? 1 : 0];
      if (!shared) shared = NewContext(encrypt);
      if (shared && EVP_CipherInit_ex(shared, nullptr, nullptr, key_, nullptr, encrypt ? 1 : 0) == 1) return shared;
      return nullptr;
    }
    slot = NewContext(encrypt);
    if (slot && EVP_CipherInit_ex(slot, nullptr, nullptr, key_, nullptr, encrypt ? 1 : 0) != 1) {
      EVP_CIPHER_CTX_free(slot);
      slot = nullptr;
    }
    return slot;
  }

  // A context for cipher_ in one direction, without a key yet.
  EVP_CIPHER_CTX* NewContext(bool encrypt) const {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    bool ok = ctx != nullptr &&
              EVP_CipherInit_ex(ctx, cipher_, nullptr, nullptr, nullptr, encrypt ? 1 : 0) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, kNonceLen, nullptr) == 1;
    if (!ok) {
      EVP_CIPHER_CTX_free(ctx);
      return nullptr;
    }
    return ctx;
  }

  EVP_CIPHER_CTX* Context(Napi::Env env, bool encrypt) {
    EVP_CIPHER_CTX* ctx = TryContext(encrypt);
    if (!ctx) throw Napi::Error::New(env, "aead: cannot create the OpenSSL cipher context");
    return ctx;
  }

  void Nonce(uint64_t counter, uint8_t* out) const {
    std::memset(out, 0, 4);
    for (int i = 0; i < 8; i++) {
      uint8_t byte = static_cast<uint8_t>(counter >> (8 * i));
      out[big_endian_nonce_ ? 11 - i : 4 + i] = byte;
    }
  }

  // What sealing and opening share: sets the nonce, authenticates the AD and runs `in` through the
  // cipher in the context's direction. Returns the bytes written at out, or -1 on an OpenSSL failure.
  int Crypt(EVP_CIPHER_CTX* ctx, uint64_t counter, const uint8_t* ad, size_t ad_len, const uint8_t* in,
            size_t in_len, uint8_t* out) const {
    uint8_t nonce[kNonceLen];
    Nonce(counter, nonce);
    int n = 0;
    if (EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, nonce, kKeepDirection) != 1) return -1;
    if (ad_len > 0 && EVP_CipherUpdate(ctx, nullptr, &n, ad, static_cast<int>(ad_len)) != 1) return -1;
    if (in_len == 0) return 0;
    if (EVP_CipherUpdate(ctx, out, &n, in, static_cast<int>(in_len)) != 1) return -1;
    return n;
  }

  // Writes ciphertext || tag (plaintext.length + 16 bytes) at out. False on an OpenSSL failure.
  bool Encrypt(EVP_CIPHER_CTX* ctx, uint64_t counter, const uint8_t* ad, size_t ad_len, const uint8_t* pt,
               size_t pt_len, uint8_t* out) const {
    int written = Crypt(ctx, counter, ad, ad_len, pt, pt_len, out);
    int n = 0;
    return written >= 0 && EVP_CipherFinal_ex(ctx, out + written, &n) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kTagLen, out + written + n) == 1;
  }

  // Writes the plaintext of ciphertext || tag at out; its length, or -1 when authentication fails
  // (out may then hold unauthenticated bytes, which the caller discards).
  int Decrypt(EVP_CIPHER_CTX* ctx, uint64_t counter, const uint8_t* ad, size_t ad_len, const uint8_t* sealed,
              size_t ct_len, uint8_t* out) const {
    int written = Crypt(ctx, counter, ad, ad_len, sealed, ct_len, out);
    int n = 0;
    // The tag is read, not written; OpenSSL's ctrl takes a non-const pointer.
    bool ok = written >= 0 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, kTagLen, const_cast<uint8_t*>(sealed + ct_len)) == 1 &&
              EVP_CipherFinal_ex(ctx, out + written, &n) == 1;
    return ok ? written + n : -1;
  }

  // The arguments of sealInto and sealPacket: (out, counter, ad or header, plaintext).
  struct SealArgs {
    Span out;
    uint64_t counter;
    Span ad;
    Span pt;
  };

  static SealArgs SealArgsOf(const Napi::CallbackInfo& info) {
    Span out = SpanOf(info[0]);
    uint64_t counter;
    if (!CounterOf(info[1], &counter)) throw Napi::RangeError::New(info.Env(), "aead: invalid counter");
    return {out, counter, SpanOf(info[2]), SpanOf(info[3])};
  }

  // Writes ciphertext || tag at out[0], or with `ad_first` the AD || ciphertext || tag.
  void Seal(Napi::Env env, const SealArgs& a, bool ad_first) {
    size_t prefix = ad_first ? a.ad.length : 0;
    if (a.ad.length > INT_MAX || a.pt.length > INT_MAX - prefix - kTagLen) {
      throw Napi::RangeError::New(env, "aead: input too large");
    }
    if (a.out.length < prefix + a.pt.length + kTagLen) throw Napi::RangeError::New(env, "aead: output too small");
    const uint8_t* ad = a.ad.data;
    if (ad_first) {
      // The header may overlap out (hence memmove); it is authenticated where it lands.
      std::memmove(a.out.data, a.ad.data, prefix);
      ad = a.out.data;
    }
    if (!Encrypt(Context(env, true), a.counter, ad, a.ad.length, a.pt.data, a.pt.length, a.out.data + prefix)) {
      throw Napi::Error::New(env, "aead: encryption failed");
    }
  }

  // sealInto(out, counter, ad, plaintext): writes ciphertext || tag at out[0].
  void SealInto(const Napi::CallbackInfo& info) { Seal(info.Env(), SealArgsOf(info), false); }

  // sealPacket(out, counter, header, plaintext): writes header(16, the AD) || ciphertext || tag at out[0].
  void SealPacket(const Napi::CallbackInfo& info) {
    SealArgs a = SealArgsOf(info);
    if (a.ad.length != kHeaderLen) throw Napi::RangeError::New(info.Env(), "aead: header must be 16 bytes");
    Seal(info.Env(), a, true);
  }

  // Writes the plaintext of sealed = ciphertext || tag at out[0]; returns its length, or -1 when the
  // counter is invalid, sealed is too short or authentication fails.
  Napi::Value Open(Napi::Env env, Span out, const Napi::Value& counter_arg, Span ad, Span sealed) {
    uint64_t counter;
    if (!CounterOf(counter_arg, &counter) || sealed.length < kTagLen) return Napi::Number::New(env, -1);
    size_t ct_len = sealed.length - kTagLen;
    if (ad.length > INT_MAX || ct_len > INT_MAX) throw Napi::RangeError::New(env, "aead: input too large");
    if (out.length < ct_len) throw Napi::RangeError::New(env, "aead: output too small");
    int length = Decrypt(Context(env, false), counter, ad.data, ad.length, sealed.data, ct_len, out.data);
    return Napi::Number::New(env, length);
  }

  // openInto(out, counter, ad, sealed): see Open.
  Napi::Value OpenInto(const Napi::CallbackInfo& info) {
    Span out = SpanOf(info[0]);
    Span ad = SpanOf(info[2]);
    Span sealed = SpanOf(info[3]);
    return Open(info.Env(), out, info[1], ad, sealed);
  }

  // openPacket(out, counter, packet): packet = header(16, the AD) || ciphertext || tag; otherwise as
  // openInto. Spares the caller two subarrays.
  Napi::Value OpenPacket(const Napi::CallbackInfo& info) {
    Span out = SpanOf(info[0]);
    Span packet = SpanOf(info[2]);
    if (packet.length < kHeaderLen) return Napi::Number::New(info.Env(), -1);
    return Open(info.Env(), out, info[1], {packet.data, kHeaderLen}, {packet.data + kHeaderLen, packet.length - kHeaderLen});
  }

  // The arguments of sealBatch and openBatch: (buf, offsets, lengths, count), every entry checked
  // against buf before any byte is touched. `extra` is what an entry occupies beyond its length.
  struct Batch {
    Span buf;
    const uint32_t* offsets;
    const uint32_t* lengths;
    size_t count;
  };

  static const uint32_t* Uint32sOf(const Napi::Value& v, size_t count, const char* what) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
      throw Napi::TypeError::New(v.Env(), std::string("aead: ") + what + " must be a Uint32Array");
    }
    Napi::Uint32Array a = v.As<Napi::Uint32Array>();
    if (a.ElementLength() < count) throw Napi::RangeError::New(v.Env(), std::string("aead: ") + what + " shorter than count");
    return a.Data();
  }

  static Batch BatchOf(const Napi::CallbackInfo& info, size_t extra, size_t min_length) {
    Napi::Env env = info.Env();
    Batch b;
    b.buf = SpanOf(info[0]);
    if (!info[3].IsNumber()) throw Napi::TypeError::New(env, "aead: count must be a number");
    double count = info[3].As<Napi::Number>().DoubleValue();
    if (!(count >= 0 && count <= 1e6) || count != static_cast<double>(static_cast<size_t>(count))) {
      throw Napi::RangeError::New(env, "aead: invalid count");
    }
    b.count = static_cast<size_t>(count);
    b.offsets = Uint32sOf(info[1], b.count, "offsets");
    b.lengths = Uint32sOf(info[2], b.count, "lengths");
    for (size_t i = 0; i < b.count; i++) {
      size_t off = b.offsets[i], len = b.lengths[i];
      // Sizes are 32-bit, so the sums cannot wrap a 64-bit size_t.
      if (len < min_length || len > INT_MAX - extra || off + len + extra > b.buf.length) {
        throw Napi::RangeError::New(env, "aead: batch entry " + std::to_string(i) + " out of bounds");
      }
    }
    return b;
  }

  // The message counter of the Nebula header at p (bytes 8-15, big-endian): the nonce of its packet.
  static uint64_t HeaderCounter(const uint8_t* p) {
    uint64_t c = 0;
    for (int i = 8; i < 16; i++) c = c << 8 | p[i];
    return c;
  }

  // sealBatch(buf, offsets, lengths, count): entry i is a packet in place in buf: header (16 bytes,
  // the AD, its counter the nonce) at offsets[i], lengths[i] bytes of plaintext after it, then 16
  // bytes of room; seals it there into header || ciphertext || tag. One call for a whole batch.
  void SealBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Batch b = BatchOf(info, kHeaderLen + kTagLen, 0);
    EVP_CIPHER_CTX* ctx = Context(env, true);
    for (size_t i = 0; i < b.count; i++) {
      uint8_t* p = b.buf.data + b.offsets[i];
      uint8_t* body = p + kHeaderLen;
      if (!Encrypt(ctx, HeaderCounter(p), p, kHeaderLen, body, b.lengths[i], body)) {
        throw Napi::Error::New(env, "aead: encryption failed");
      }
    }
  }

  // openBatch(buf, offsets, lengths, count, results: Int32Array): entry i is a datagram of
  // lengths[i] bytes at offsets[i] (header || ciphertext || tag); opens it in place, the plaintext
  // right after the header. results[i] = its length, or -1 when it is shorter than header and tag
  // or does not authenticate (the bytes after the header are then garbage).
  void OpenBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Batch b = BatchOf(info, 0, 0);
    if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      throw Napi::TypeError::New(env, "aead: results must be an Int32Array");
    }
    Napi::Int32Array results = info[4].As<Napi::Int32Array>();
    if (results.ElementLength() < b.count) throw Napi::RangeError::New(env, "aead: results shorter than count");
    EVP_CIPHER_CTX* ctx = Context(env, false);
    for (size_t i = 0; i < b.count; i++) {
      uint8_t* p = b.buf.data + b.offsets[i];
      size_t len = b.lengths[i];
      if (len < kHeaderLen + kTagLen) {
        results[i] = -1;
        continue;
      }
      uint8_t* body = p + kHeaderLen;
      results[i] = Decrypt(ctx, HeaderCounter(p), p, kHeaderLen, body, len - kHeaderLen - kTagLen, body);
    }
  }

  const EVP_CIPHER* cipher_ = nullptr;
  bool big_endian_nonce_ = true;
  uint8_t key_[kKeyLen];
  EVP_CIPHER_CTX* seal_ctx_ = nullptr;
  EVP_CIPHER_CTX* open_ctx_ = nullptr;
  // How busy a direction on the shared context is: calls in a row within kBusyGap, and the last.
  struct Busy {
    uint32_t calls = 0;
    std::chrono::steady_clock::time_point last;
  };
  Busy seal_busy_;
  Busy open_busy_;
};

}  // namespace mesh

// The OpenSSL functions are resolved lazily from the process (node exports its copy); a runtime built
// without them would abort at the first call, so Aead is only offered when all of them are present,
// and JS falls back to node:crypto otherwise.
static bool OpenSslAvailable() {
  static const char* const kSymbols[] = {
      "EVP_aes_256_gcm", "EVP_chacha20_poly1305", "EVP_CIPHER_CTX_new", "EVP_CIPHER_CTX_free",
      "EVP_CIPHER_CTX_ctrl", "EVP_CipherInit_ex", "EVP_CipherUpdate", "EVP_CipherFinal_ex", "OPENSSL_cleanse",
  };
  for (const char* name : kSymbols) {
    if (dlsym(RTLD_DEFAULT, name) == nullptr) return false;
  }
  return true;
}

namespace mesh {

// The Aead class of this environment, for UnwrapAead's instanceof check.
static Napi::FunctionReference* aead_class = nullptr;

AeadCore* UnwrapAead(Napi::Env env, const Napi::Value& value) {
  if (aead_class == nullptr || !value.IsObject()) return nullptr;
  Napi::Object object = value.As<Napi::Object>();
  if (!object.InstanceOf(aead_class->Value())) return nullptr;
  return Aead::Unwrap(object);
}

}  // namespace mesh

Napi::Object InitAead(Napi::Env env, Napi::Object exports) {
  if (OpenSslAvailable()) {
    Napi::Function cls = mesh::Aead::Define(env);
    // One addon instance per process in practice; the reference lives as long as the addon.
    if (mesh::aead_class == nullptr) mesh::aead_class = new Napi::FunctionReference(Napi::Persistent(cls));
    exports.Set("Aead", cls);
  }
  return exports;
}
