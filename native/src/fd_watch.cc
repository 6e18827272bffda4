#include "fd_watch.h"

#include <fcntl.h>

#include <cerrno>

namespace iser {

FdWatch* FdWatch::Start(Napi::Env env, int fd, std::function<void()> on_ready) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) ThrowErrno(env, "fcntl(O_NONBLOCK)", errno);
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr)
    throw Napi::Error::New(env, "napi_get_uv_event_loop failed");

  auto* w = new FdWatch();
  w->on_ready_ = std::move(on_ready);
  int rc = uv_poll_init(loop, &w->poll_, fd);
  if (rc != 0) {
    delete w;
    ThrowErrno(env, "uv_poll_init", -rc);
  }
  w->poll_.data = w;
  w->open_handles_ = 1;
  uv_idle_init(loop, &w->idle_);  // cannot fail
  w->idle_.data = w;
  w->open_handles_ = 2;
  rc = uv_poll_start(&w->poll_, UV_READABLE, OnPoll);
  if (rc != 0) {
    w->Close([] {});
    ThrowErrno(env, "uv_poll_start", -rc);
  }
  return w;
}

void FdWatch::ContinueSoon() {
  if (!closing_) uv_idle_start(&idle_, OnIdle);
}

void FdWatch::SetRef(bool ref) {
  if (closing_) return;
  auto* h = reinterpret_cast<uv_handle_t*>(&poll_);
  if (ref) uv_ref(h); else uv_unref(h);
}

void FdWatch::Close(std::function<void()> after_close) {
  if (closing_) return;
  closing_ = true;
  after_close_ = std::move(after_close);
  uv_poll_stop(&poll_);
  uv_idle_stop(&idle_);
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), OnClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_), OnClosed);
}

void FdWatch::OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  auto* w = static_cast<FdWatch*>(handle->data);
  // An error status (e.g. EBADF) still means "look at the fd": the owner's non-blocking reads report it.
  (void)status;
  if (!w->closing_) w->on_ready_();
}

void FdWatch::OnIdle(uv_idle_t* handle) {
  auto* w = static_cast<FdWatch*>(handle->data);
  uv_idle_stop(handle);
  if (!w->closing_) w->on_ready_();
}

void FdWatch::OnClosed(uv_handle_t* handle) {
  auto* w = static_cast<FdWatch*>(handle->data);
  if (--w->open_handles_ > 0) return;
  if (w->after_close_) w->after_close_();
  delete w;
}

}  // namespace iser
