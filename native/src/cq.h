// Cq: a completion queue with its own completion channel, drained on the loop and delivered to JS in batches.
#pragma once

#include <infiniband/verbs.h>

#include <memory>

#include "common.h"
#include "fd_watch.h"

namespace iser {

class Cq : public Napi::ObjectWrap<Cq> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // new Cq(cmId, cqe, onCompletions(wcs, pollError?)): the CQ lives on the device cmId is bound to.
  explicit Cq(const Napi::CallbackInfo& info);
  ~Cq() override;

  ibv_cq* cq() const { return cq_; }
  // Queue pairs using this CQ; it cannot be destroyed before them (QP -> CQ -> channel).
  void AddQp() { ++qps_; }
  void RemoveQp() { --qps_; }

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value CloseAsync(const Napi::CallbackInfo& info);
  void Drain();
  void AckEvents();
  void Shutdown(bool env_teardown);
  static void OnEnvTeardown(void* self);

  Napi::Env env_;
  ibv_comp_channel* channel_ = nullptr;
  ibv_cq* cq_ = nullptr;
  // The CQ a worker is destroying (cq_ is then NULL): events still read from the channel are acked at once.
  ibv_cq* closing_ = nullptr;
  bool torn_down_ = false;
  FdWatch* watch_ = nullptr;
  Napi::FunctionReference on_completions_;
  std::unique_ptr<Napi::AsyncContext> async_;
  unsigned unacked_ = 0;
  int qps_ = 0;
  bool hook_ = false;
};

}  // namespace iser
