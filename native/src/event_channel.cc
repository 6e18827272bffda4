#include "event_channel.h"

#include <cerrno>
#include <cstring>
#include <vector>

#include "cm_id.h"
#include "names.h"

namespace iser {

namespace {
constexpr int kBudget = 64;  // events per loop turn; the fd stays readable, so the rest come next turn

bool CarriesConnParam(rdma_cm_event_type t) {
  switch (t) {
    case RDMA_CM_EVENT_CONNECT_REQUEST:
    case RDMA_CM_EVENT_CONNECT_RESPONSE:
    case RDMA_CM_EVENT_ESTABLISHED:
    case RDMA_CM_EVENT_REJECTED:
    case RDMA_CM_EVENT_DISCONNECTED:
      return true;
    default:
      return false;
  }
}
}  // namespace

void EventChannel::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "EventChannel",
                                    {
                                        InstanceMethod<&EventChannel::CreateId>("createId"),
                                        InstanceMethod<&EventChannel::Close>("close"),
                                    });
  Data(env).eventChannel = Napi::Persistent(ctor);
  exports.Set("EventChannel", ctor);
}

EventChannel::EventChannel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EventChannel>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "new EventChannel(onEvent)");
  errno = 0;
  channel_ = rdma_create_event_channel();
  if (channel_ == nullptr) ThrowErrno(env, "rdma_create_event_channel", errno != 0 ? errno : ENODEV);
  try {
    watch_ = FdWatch::Start(env, channel_->fd, [this] { Drain(); });
  } catch (...) {
    rdma_destroy_event_channel(channel_);
    throw;
  }
  on_event_ = Napi::Persistent(info[0].As<Napi::Function>());
  async_ = std::make_unique<Napi::AsyncContext>(env, "iser:verbs:cm");
  watch_->SetRef(false);  // no ids yet: nothing to wait for
  Ref();                  // alive while open: the loop calls into it
  napi_add_env_cleanup_hook(env, OnEnvTeardown, this);
  hook_ = true;
}

EventChannel::~EventChannel() {
  if (hook_) napi_remove_env_cleanup_hook(env_, OnEnvTeardown, this);
}

Napi::Object EventChannel::Adopt(rdma_cm_id* id) {
  Napi::Object obj = Data(env_).cmId.New({Napi::External<rdma_cm_id>::New(env_, id), Value()});
  if (live_ids_++ == 0) watch_->SetRef(true);
  return obj;
}

Napi::Value EventChannel::CreateId(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (channel_ == nullptr) ThrowErrno(env, "rdma_create_id", EBADF);
  rdma_cm_id* id = nullptr;
  if (rdma_create_id(channel_, &id, nullptr, RDMA_PS_TCP) != 0) ThrowErrno(env, "rdma_create_id", errno);
  try {
    return Adopt(id);
  } catch (...) {
    rdma_destroy_id(id);
    throw;
  }
}

void EventChannel::Drain() {
  if (channel_ == nullptr) return;
  Napi::HandleScope scope(env_);
  Napi::Object self = Value();  // `this` of the callbacks; also keeps us alive across them
  for (int i = 0; i < kBudget && channel_ != nullptr; ++i) {
    rdma_cm_event* ev = nullptr;
    if (rdma_get_cm_event(channel_, &ev) != 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        Napi::Object o = Napi::Object::New(env_);
        o.Set("type", "CHANNEL_ERROR");
        o.Set("errno", ErrnoName(errno));
        CallFromLoop(env_, self, on_event_, *async_, {o});
      }
      return;
    }
    // Copy out everything JS needs: private data and the event itself are freed by the ack.
    Napi::Object o = Napi::Object::New(env_);
    o.Set("type", CmEventName(ev->event));
    o.Set("status", ev->status);
    if (ev->status < 0) o.Set("errno", ErrnoName(-ev->status));
    bool adopt_failed = false;
    if (ev->event == RDMA_CM_EVENT_CONNECT_REQUEST) {
      try {
        o.Set("id", Adopt(ev->id));
      } catch (const Napi::Error&) {
        adopt_failed = true;
      }
      if (ev->listen_id != nullptr && ev->listen_id->context != nullptr)
        o.Set("listenId", static_cast<CmId*>(ev->listen_id->context)->Value());
    } else if (ev->id != nullptr && ev->id->context != nullptr) {
      o.Set("id", static_cast<CmId*>(ev->id->context)->Value());
    }
    if (CarriesConnParam(ev->event)) {
      const rdma_conn_param& p = ev->param.conn;
      o.Set("privateData", p.private_data != nullptr && p.private_data_len > 0
                               ? Napi::Buffer<uint8_t>::Copy(env_, static_cast<const uint8_t*>(p.private_data),
                                                             p.private_data_len)
                               : Napi::Buffer<uint8_t>::New(env_, 0));
      o.Set("responderResources", p.responder_resources);
      o.Set("initiatorDepth", p.initiator_depth);
      o.Set("retryCount", p.retry_count);
      o.Set("rnrRetryCount", p.rnr_retry_count);
    }
    rdma_cm_id* orphan = adopt_failed ? ev->id : nullptr;
    rdma_ack_cm_event(ev);
    if (orphan != nullptr) {
      rdma_reject(orphan, nullptr, 0);  // we could not represent it in JS: refuse rather than leak
      rdma_destroy_id(orphan);
      continue;
    }
    CallFromLoop(env_, self, on_event_, *async_, {o});
  }
}

Napi::Value EventChannel::Close(const Napi::CallbackInfo& info) {
  if (channel_ == nullptr) return info.Env().Undefined();
  if (live_ids_ > 0) ThrowErrno(info.Env(), "rdma_destroy_event_channel", EBUSY);  // destroy the ids first
  Shutdown(false);
  return info.Env().Undefined();
}

void EventChannel::Shutdown(bool env_teardown) {
  if (hook_ && !env_teardown) napi_remove_env_cleanup_hook(env_, OnEnvTeardown, this);
  hook_ = false;
  rdma_event_channel* ch = channel_;
  channel_ = nullptr;
  FdWatch* w = watch_;
  watch_ = nullptr;
  if (w != nullptr) {
    w->Close([ch, env_teardown] {
      if (!env_teardown && ch != nullptr) rdma_destroy_event_channel(ch);
    });
  }
  if (!env_teardown) Unref();
}

void EventChannel::OnEnvTeardown(void* self) { static_cast<EventChannel*>(self)->Shutdown(true); }

}  // namespace iser
