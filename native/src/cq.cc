#include "cq.h"

#include <cerrno>

#include "cm_id.h"
#include "names.h"

namespace iser {

namespace {
constexpr int kPollBatch = 16;     // ibv_poll_cq batch
constexpr int kBudget = 256;       // completions per loop turn, so a busy CQ cannot starve the loop
constexpr unsigned kAckBatch = 16;  // ibv_ack_cq_events takes a lock: ack several at once
}  // namespace

void Cq::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "Cq",
                                    {
                                        InstanceMethod<&Cq::Close>("close"),
                                        InstanceMethod<&Cq::CloseAsync>("closeAsync"),
                                    });
  Data(env).cq = Napi::Persistent(ctor);
  exports.Set("Cq", ctor);
}

Cq::Cq(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Cq>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  CmId* id = UnwrapAs<CmId>(info[0], Data(env).cmId, "cmId");
  int cqe = info[1].As<Napi::Number>().Int32Value();
  if (!info[2].IsFunction()) throw Napi::TypeError::New(env, "new Cq(cmId, cqe, onCompletions)");
  ibv_context* ctx = id->Verbs(env);

  channel_ = ibv_create_comp_channel(ctx);
  if (channel_ == nullptr) ThrowErrno(env, "ibv_create_comp_channel", errno);
  cq_ = ibv_create_cq(ctx, cqe, nullptr, channel_, 0);
  if (cq_ == nullptr) {
    int err = errno;
    ibv_destroy_comp_channel(channel_);
    ThrowErrno(env, "ibv_create_cq", err);
  }
  int err = ibv_req_notify_cq(cq_, 0);
  if (err == 0) {
    try {
      watch_ = FdWatch::Start(env, channel_->fd, [this] { Drain(); });
    } catch (...) {
      ibv_destroy_cq(cq_);
      ibv_destroy_comp_channel(channel_);
      throw;
    }
  } else {
    ibv_destroy_cq(cq_);
    ibv_destroy_comp_channel(channel_);
    ThrowErrno(env, "ibv_req_notify_cq", err);
  }
  on_completions_ = Napi::Persistent(info[2].As<Napi::Function>());
  async_ = std::make_unique<Napi::AsyncContext>(env, "iser:verbs:cq");
  Ref();  // alive while open, even if JS drops it: the loop still calls into it
  napi_add_env_cleanup_hook(env, OnEnvTeardown, this);
  hook_ = true;
}

Cq::~Cq() {
  // Normally closed already (an open Cq holds a reference to itself).
  if (hook_) napi_remove_env_cleanup_hook(env_, OnEnvTeardown, this);
}

void Cq::AckEvents() {
  if (unacked_ > 0 && cq_ != nullptr) ibv_ack_cq_events(cq_, unacked_);
  unacked_ = 0;
}

void Cq::Drain() {
  if (cq_ == nullptr) {
    // Being destroyed: ibv_destroy_cq waits for every event it reported to be acked, so keep reading and
    // acking (no polling, no re-arming) or the fd would stay readable and the worker could wait forever.
    if (closing_ != nullptr && channel_ != nullptr) {
      ibv_cq* ev_cq = nullptr;
      void* ev_ctx = nullptr;
      while (ibv_get_cq_event(channel_, &ev_cq, &ev_ctx) == 0) ibv_ack_cq_events(ev_cq, 1);
    }
    return;
  }
  Napi::HandleScope scope(env_);
  Napi::Object self = Value();  // `this` of the callback; also keeps us alive across it

  // Take every pending notification, then re-arm BEFORE polling so a completion landing mid-drain raises a
  // fresh event instead of being missed.
  ibv_cq* ev_cq = nullptr;
  void* ev_ctx = nullptr;
  while (ibv_get_cq_event(channel_, &ev_cq, &ev_ctx) == 0) ++unacked_;
  if (unacked_ >= kAckBatch) AckEvents();
  int arm = ibv_req_notify_cq(cq_, 0);

  Napi::Array batch = Napi::Array::New(env_);
  uint32_t count = 0;
  ibv_wc wc[kPollBatch];
  int n = 0;
  const char* poll_error = nullptr;
  while (count < kBudget && (n = ibv_poll_cq(cq_, kPollBatch, wc)) > 0) {
    for (int i = 0; i < n; ++i) {
      const ibv_wc& c = wc[i];
      Napi::Object o = Napi::Object::New(env_);
      o.Set("wrId", Napi::Number::New(env_, static_cast<double>(c.wr_id)));
      o.Set("status", WcStatusName(c.status));
      o.Set("opcode", WcOpcodeName(c.opcode));  // not meaningful on error completions (verbs spec)
      o.Set("byteLen", c.byte_len);
      o.Set("qpNum", c.qp_num);
      if (c.status != IBV_WC_SUCCESS) o.Set("vendorErr", c.vendor_err);
      if (c.status == IBV_WC_SUCCESS) {
        o.Set("wcFlags", c.wc_flags);
        // The imm_data / invalidated_rkey union, raw. rxe reports remote invalidation with the kernel's flag
        // bit (IB_WC_WITH_INVALIDATE, 1 << 2), not IBV_WC_WITH_INV: the TypeScript side decides what it means.
        if ((c.wc_flags & ~IBV_WC_GRH) != 0) o.Set("exData", c.invalidated_rkey);
      }
      batch.Set(count++, o);
    }
    if (n < kPollBatch) break;
  }
  if (n < 0) poll_error = "EIO";  // ibv_poll_cq reports failure without an errno
  bool more = count >= kBudget;

  if (count > 0 || poll_error != nullptr || arm != 0) {
    Napi::Value err = poll_error != nullptr ? Napi::String::New(env_, poll_error)
                      : arm != 0            ? Napi::String::New(env_, ErrnoName(arm))
                                            : env_.Undefined();
    CallFromLoop(env_, self, on_completions_, *async_, {batch, err});
  }
  // The callback may have closed us.
  if (more && cq_ != nullptr && watch_ != nullptr) watch_->ContinueSoon();
}

Napi::Value Cq::Close(const Napi::CallbackInfo& info) {
  if (closing_ != nullptr) ThrowErrno(info.Env(), "ibv_destroy_cq", EBUSY);  // closeAsync is under way
  if (cq_ == nullptr) return info.Env().Undefined();
  if (qps_ > 0) ThrowErrno(info.Env(), "ibv_destroy_cq", EBUSY);  // destroy the QP first
  AckEvents();  // ibv_destroy_cq waits for every event to be acked
  int err = ibv_destroy_cq(cq_);
  if (err != 0) ThrowErrno(info.Env(), "ibv_destroy_cq", err);
  cq_ = nullptr;
  Shutdown(false);
  return info.Env().Undefined();
}

// closeAsync(): Promise<void>. ibv_destroy_cq on a thread of its own; the CQ leaves JS at once (no more
// completions are delivered) and the completion channel is destroyed only after it.
Napi::Value Cq::CloseAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closing_ != nullptr) ThrowErrno(env, "ibv_destroy_cq", EBUSY);
  if (cq_ == nullptr) return Resolved(env);
  if (qps_ > 0) ThrowErrno(env, "ibv_destroy_cq", EBUSY);  // destroy the QP first
  AckEvents();
  ibv_cq* cq = cq_;
  closing_ = cq;
  cq_ = nullptr;
  return BlockingCall::Start(
      env, Value(), "ibv_destroy_cq", [cq] { return ibv_destroy_cq(cq); },
      [this, cq](Napi::Env, int err) {
        closing_ = nullptr;
        if (torn_down_) return;  // the environment went first; process exit reclaims the rest
        if (err != 0) {
          cq_ = cq;  // still alive: a later close may retry
          return;
        }
        Shutdown(false);
      });
}

// Stops the watch; the completion channel (whose fd libuv was polling) is destroyed only once libuv has let
// go of the handle.
void Cq::Shutdown(bool env_teardown) {
  if (hook_ && !env_teardown) napi_remove_env_cleanup_hook(env_, OnEnvTeardown, this);
  hook_ = false;
  ibv_comp_channel* ch = channel_;
  channel_ = nullptr;
  FdWatch* w = watch_;
  watch_ = nullptr;
  if (w != nullptr) {
    // At environment teardown the CQ may still have a QP: leave the verbs objects to process exit.
    w->Close([ch, env_teardown] {
      if (!env_teardown && ch != nullptr) ibv_destroy_comp_channel(ch);
    });
  }
  if (!env_teardown) Unref();
}

void Cq::OnEnvTeardown(void* self) {
  auto* cq = static_cast<Cq*>(self);
  cq->cq_ = nullptr;
  cq->torn_down_ = true;
  cq->Shutdown(true);
}

}  // namespace iser
