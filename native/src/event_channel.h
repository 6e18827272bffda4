// EventChannel: an rdma_cm event channel watched on the loop. Each event is copied out (private data
// included), acknowledged at once — rdma_destroy_id blocks until its events are acked — and only then handed to
// JS, one call per event, at most kBudget per loop turn.
#pragma once

#include <rdma/rdma_cma.h>

#include <memory>

#include "common.h"
#include "fd_watch.h"

namespace iser {

class EventChannel : public Napi::ObjectWrap<EventChannel> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // new EventChannel(onEvent(event))
  explicit EventChannel(const Napi::CallbackInfo& info);
  ~EventChannel() override;

  rdma_event_channel* channel() const { return channel_; }
  // Wraps a fresh rdma_cm_id (from createId or a connect request) in a JS CmId bound to this channel.
  Napi::Object Adopt(rdma_cm_id* id);
  // The channel keeps the process alive only while it has ids (a listener, a connection) to report on.
  void IdDestroyed() {
    if (--live_ids_ == 0 && watch_ != nullptr) watch_->SetRef(false);
  }

 private:
  Napi::Value CreateId(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  void Drain();
  void Shutdown(bool env_teardown);
  static void OnEnvTeardown(void* self);

  Napi::Env env_;
  rdma_event_channel* channel_ = nullptr;
  FdWatch* watch_ = nullptr;
  Napi::FunctionReference on_event_;
  std::unique_ptr<Napi::AsyncContext> async_;
  int live_ids_ = 0;
  bool hook_ = false;
};

}  // namespace iser
