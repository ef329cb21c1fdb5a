// The non-template parts of the polled-fd base (polled_fd.h).
#include "polled_fd.h"

#include <cstdio>

namespace mesh {

int ReadPoller::Start(uv_loop_t* loop, int fd, void* owner, Fn fn) {
  if (handle_) return 0;
  auto* h = new Handle();
  h->owner = owner;
  h->fn = fn;
  int rc = uv_poll_init(loop, &h->poll, fd);
  if (rc != 0) {
    delete h;
    return rc;
  }
  h->poll.data = h;
  rc = uv_poll_start(&h->poll, UV_READABLE, OnPoll);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&h->poll), OnClosed);
    return rc;
  }
  handle_ = h;
  if (!refed_) uv_unref(reinterpret_cast<uv_handle_t*>(&h->poll));
  return 0;
}

void ReadPoller::SetRef(bool ref) {
  refed_ = ref;
  if (!handle_) return;
  if (ref) uv_ref(reinterpret_cast<uv_handle_t*>(&handle_->poll));
  else uv_unref(reinterpret_cast<uv_handle_t*>(&handle_->poll));
}

void ReadPoller::Close() noexcept {
  if (!handle_) return;
  uv_poll_stop(&handle_->poll);
  handle_->owner = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_->poll), OnClosed);
  handle_ = nullptr;
}

void ReadPoller::OnPoll(uv_poll_t* p, int status, int events) {
  auto* h = static_cast<Handle*>(p->data);
  if (h->owner) h->fn(h->owner, status);
}

void ReadPoller::OnClosed(uv_handle_t* p) { delete static_cast<Handle*>(p->data); }

void CallFromLoop(Napi::Env env, Napi::FunctionReference& cb, Napi::AsyncContext& ctx,
                  const std::initializer_list<napi_value>& args) {
  napi_value recv;
  napi_get_global(env, &recv);
  napi_value result;
  napi_status status = napi_make_callback(env, ctx, recv, cb.Value(), args.size(), args.begin(), &result);
  if (status != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
}

// Raw N-API calls and a fixed buffer: this runs in a catch handler, where nothing may throw.
void ReportUncaught(Napi::Env env, const char* kind, const char* what) noexcept {
  char text[512];
  std::snprintf(text, sizeof(text), "%s: %s", kind, what);
  napi_value message;
  napi_value error;
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message) != napi_ok) return;
  if (napi_create_error(env, nullptr, message, &error) != napi_ok) return;
  napi_fatal_exception(env, error);
}

void ReportUncaught(Napi::Env env, const char* kind, const Napi::Error& e) noexcept {
  napi_value error = nullptr;
  try {
    error = e.Value();
  } catch (...) {
    // Fall back to the message below.
  }
  if (error != nullptr) napi_fatal_exception(env, error);
  else ReportUncaught(env, kind, e.what());
}

Napi::ArrayBuffer NewBatch(Napi::Env env, const std::vector<uint32_t>& header, size_t payload_bytes, char** payload) {
  size_t header_bytes = header.size() * sizeof(uint32_t);
  Napi::ArrayBuffer batch = Napi::ArrayBuffer::New(env, header_bytes + payload_bytes);
  std::memcpy(batch.Data(), header.data(), header_bytes);
  *payload = static_cast<char*>(batch.Data()) + header_bytes;
  return batch;
}

}  // namespace mesh
