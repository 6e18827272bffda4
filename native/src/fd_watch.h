// FdWatch: a non-blocking fd watched for readability with uv_poll on the environment's own loop
// (napi_get_uv_event_loop; uv_default_loop would be wrong in a worker thread), plus an idle handle to continue
// bounded work on the next loop turn. libuv owns the handle memory until uv_close's callback, so the watch
// frees itself (and runs the owner's release step) only there.
#pragma once

#include <uv.h>

#include <functional>

#include "common.h"

namespace iser {

class FdWatch {
 public:
  // Makes `fd` non-blocking and starts watching it; `on_ready` runs on the loop thread (also from the idle
  // handle, when the owner asked to continue). Throws an errno error when the fd or libuv refuses.
  static FdWatch* Start(Napi::Env env, int fd, std::function<void()> on_ready);

  // Runs on_ready once more on the next loop turn (for work left over after a bounded batch).
  void ContinueSoon();

  // Whether the watch keeps the event loop (and so the process) alive.
  void SetRef(bool ref);

  // Stops watching; `after_close` runs once libuv has released both handles, then the watch is freed.
  void Close(std::function<void()> after_close);

 private:
  FdWatch() = default;
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnIdle(uv_idle_t* handle);
  static void OnClosed(uv_handle_t* handle);

  uv_poll_t poll_{};
  uv_idle_t idle_{};
  int open_handles_ = 0;
  bool closing_ = false;
  std::function<void()> on_ready_;
  std::function<void()> after_close_;
};

}  // namespace iser
