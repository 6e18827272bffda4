// CmId: one rdma_cm_id (RDMA_PS_TCP) and, once created, its RC queue pair. Address resolution, listen,
// connect/accept/reject/disconnect with private data, and posting work requests map one to one to librdmacm
// and libibverbs; the outcome of the asynchronous ones arrives as events on the owning EventChannel.
#pragma once

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "common.h"

namespace iser {

class Cq;
class EventChannel;

class CmId : public Napi::ObjectWrap<CmId> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // Only the addon constructs these (EventChannel.createId, connect requests): new CmId(External<rdma_cm_id>,
  // channel).
  explicit CmId(const Napi::CallbackInfo& info);
  ~CmId() override;

  rdma_cm_id* id() const { return id_; }
  // The device context, or a thrown EINVAL when the id is not bound to a device yet.
  ibv_context* Verbs(Napi::Env env) const;

 private:
  Napi::Value BindAddr(const Napi::CallbackInfo& info);
  Napi::Value ResolveAddr(const Napi::CallbackInfo& info);
  Napi::Value ResolveRoute(const Napi::CallbackInfo& info);
  Napi::Value Listen(const Napi::CallbackInfo& info);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value Accept(const Napi::CallbackInfo& info);
  Napi::Value Reject(const Napi::CallbackInfo& info);
  Napi::Value Disconnect(const Napi::CallbackInfo& info);
  Napi::Value SetAckTimeout(const Napi::CallbackInfo& info);
  Napi::Value SetMinRnrTimer(const Napi::CallbackInfo& info);
  Napi::Value CreateQp(const Napi::CallbackInfo& info);
  Napi::Value DestroyQp(const Napi::CallbackInfo& info);
  Napi::Value DestroyQpAsync(const Napi::CallbackInfo& info);
  Napi::Value QpState(const Napi::CallbackInfo& info);
  Napi::Value PostSend(const Napi::CallbackInfo& info);
  Napi::Value PostRecv(const Napi::CallbackInfo& info);
  Napi::Value LocalAddress(const Napi::CallbackInfo& info);
  Napi::Value PeerAddress(const Napi::CallbackInfo& info);
  Napi::Value DeviceName(const Napi::CallbackInfo& info);
  Napi::Value QueryDevice(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  Napi::Value DestroyAsync(const Napi::CallbackInfo& info);

  rdma_cm_id* Live(Napi::Env env) const;
  ibv_qp* Qp(Napi::Env env) const;
  void ReleaseQp();

  rdma_cm_id* id_ = nullptr;
  // A worker is destroying the QP: nothing on the JS thread may touch the id until it is done.
  bool qp_busy_ = false;
  EventChannel* channel_ = nullptr;
  Napi::ObjectReference channel_ref_;  // the channel outlives its ids
  Cq* send_cq_ = nullptr;
  Cq* recv_cq_ = nullptr;
  Napi::ObjectReference send_cq_ref_;
  Napi::ObjectReference recv_cq_ref_;
};

}  // namespace iser
