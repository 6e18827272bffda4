#include "cm_id.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "cq.h"
#include "event_channel.h"
#include "names.h"
#include "pd.h"

namespace iser {

namespace {

constexpr uint32_t kMaxWrsPerPost = 4096;
constexpr uint32_t kMaxSgePerWr = 64;

sockaddr_storage ParseAddress(Napi::Env env, const Napi::Value& host, const Napi::Value& port) {
  if (!host.IsString() || !port.IsNumber()) throw Napi::TypeError::New(env, "address: (host: string, port: number)");
  std::string h = host.As<Napi::String>().Utf8Value();
  uint32_t p = port.As<Napi::Number>().Uint32Value();
  if (p > 65535) throw Napi::RangeError::New(env, "port out of range");
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(p));
  } else if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(p));
  } else {
    ThrowErrno(env, "inet_pton", EINVAL);  // numeric addresses only: name resolution is not ours to do here
  }
  return ss;
}

Napi::Value DescribeAddress(Napi::Env env, const sockaddr* sa, uint16_t port_be) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (sa == nullptr) return env.Undefined();
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  } else {
    return env.Undefined();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("host", buf);
  o.Set("port", ntohs(port_be));
  return o;
}

// rdma_conn_param from { privateData?, responderResources?, initiatorDepth?, retryCount?, rnrRetryCount? }.
rdma_conn_param ParseConnParam(Napi::Env env, const Napi::Value& v) {
  rdma_conn_param p{};
  if (v.IsUndefined()) return p;
  if (!v.IsObject()) throw Napi::TypeError::New(env, "connection parameters must be an object");
  Napi::Object o = v.As<Napi::Object>();
  const void* data = nullptr;
  size_t len = 0;
  BufferProp(o, "privateData", &data, &len);
  if (len > 255) ThrowErrno(env, "rdma_conn_param", EINVAL);  // the kernel enforces the per-message limit
  p.private_data = data;
  p.private_data_len = static_cast<uint8_t>(len);
  p.responder_resources = static_cast<uint8_t>(U32Prop(o, "responderResources", 1));
  p.initiator_depth = static_cast<uint8_t>(U32Prop(o, "initiatorDepth", 1));
  p.retry_count = static_cast<uint8_t>(U32Prop(o, "retryCount", 6));
  p.rnr_retry_count = static_cast<uint8_t>(U32Prop(o, "rnrRetryCount", 6));
  p.flow_control = 1;
  return p;
}

// A JS error for a failed ibv_post_* naming the first work request that was not posted.
[[noreturn]] void ThrowPostError(Napi::Env env, const char* call, int err, uint32_t bad_index) {
  Napi::Error e = ErrnoError(env, call, err);
  e.Set("badIndex", Napi::Number::New(env, bad_index));
  throw e;
}

// { mr: Mr, offset, length } -> ibv_sge, bounds-checked against the registration.
ibv_sge ParseSge(Napi::Env env, const Napi::Value& v) {
  if (!v.IsObject()) throw Napi::TypeError::New(env, "sge must be { mr, offset, length }");
  Napi::Object o = v.As<Napi::Object>();
  Mr* mr = UnwrapAs<Mr>(o.Get("mr"), Data(env).mr, "sge.mr");
  if (mr->mr() == nullptr) ThrowErrno(env, "sge: deregistered region", EINVAL);
  uint64_t offset = ToU64(o.Get("offset"), "sge.offset");
  uint64_t length = ToU64(o.Get("length"), "sge.length");
  if (length > UINT32_MAX || offset > mr->mr()->length || length > mr->mr()->length - offset)
    ThrowErrno(env, "sge: outside its region", ERANGE);
  ibv_sge s{};
  s.addr = reinterpret_cast<uintptr_t>(mr->mr()->addr) + offset;
  s.length = static_cast<uint32_t>(length);
  s.lkey = mr->mr()->lkey;
  return s;
}

Napi::Array SglOf(Napi::Env env, const Napi::Object& wr) {
  Napi::Value v = wr.Get("sgl");
  if (v.IsUndefined()) return Napi::Array::New(env, 0);
  if (!v.IsArray()) throw Napi::TypeError::New(env, "wr.sgl must be an array");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() > kMaxSgePerWr) ThrowErrno(env, "wr.sgl: too many entries", EINVAL);
  return a;
}

Napi::Array WrList(Napi::Env env, const Napi::Value& v) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, "work requests must be an array");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() > kMaxWrsPerPost) ThrowErrno(env, "post: too many work requests at once", EINVAL);
  return a;
}

}  // namespace

void CmId::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "CmId",
                                    {
                                        InstanceMethod<&CmId::BindAddr>("bindAddr"),
                                        InstanceMethod<&CmId::ResolveAddr>("resolveAddr"),
                                        InstanceMethod<&CmId::ResolveRoute>("resolveRoute"),
                                        InstanceMethod<&CmId::Listen>("listen"),
                                        InstanceMethod<&CmId::Connect>("connect"),
                                        InstanceMethod<&CmId::Accept>("accept"),
                                        InstanceMethod<&CmId::Reject>("reject"),
                                        InstanceMethod<&CmId::Disconnect>("disconnect"),
                                        InstanceMethod<&CmId::SetAckTimeout>("setAckTimeout"),
                                        InstanceMethod<&CmId::SetMinRnrTimer>("setMinRnrTimer"),
                                        InstanceMethod<&CmId::CreateQp>("createQp"),
                                        InstanceMethod<&CmId::DestroyQp>("destroyQp"),
                                        InstanceMethod<&CmId::DestroyQpAsync>("destroyQpAsync"),
                                        InstanceMethod<&CmId::QpState>("qpState"),
                                        InstanceMethod<&CmId::PostSend>("postSend"),
                                        InstanceMethod<&CmId::PostRecv>("postRecv"),
                                        InstanceMethod<&CmId::LocalAddress>("localAddress"),
                                        InstanceMethod<&CmId::PeerAddress>("peerAddress"),
                                        InstanceMethod<&CmId::DeviceName>("deviceName"),
                                        InstanceMethod<&CmId::QueryDevice>("queryDevice"),
                                        InstanceMethod<&CmId::Destroy>("destroy"),
                                        InstanceMethod<&CmId::DestroyAsync>("destroyAsync"),
                                    });
  Data(env).cmId = Napi::Persistent(ctor);
  exports.Set("CmId", ctor);
}

CmId::CmId(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CmId>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal()) throw Napi::TypeError::New(env, "CmId is created by EventChannel.createId");
  channel_ = UnwrapAs<EventChannel>(info[1], Data(env).eventChannel, "channel");
  id_ = info[0].As<Napi::External<rdma_cm_id>>().Data();
  id_->context = this;  // how channel events find their JS object
  channel_ref_ = Napi::Persistent(info[1].As<Napi::Object>());
  Ref();  // alive until destroy(): events for this id may still arrive
}

CmId::~CmId() {
  // Normally destroyed already (a live CmId holds a reference to itself).
  if (id_ != nullptr) id_->context = nullptr;
}

rdma_cm_id* CmId::Live(Napi::Env env) const {
  if (id_ == nullptr) ThrowErrno(env, "rdma_cm_id destroyed", EBADF);
  if (qp_busy_) ThrowErrno(env, "rdma_cm_id busy: its QP is being destroyed", EBUSY);
  return id_;
}

ibv_context* CmId::Verbs(Napi::Env env) const {
  rdma_cm_id* id = Live(env);
  if (id->verbs == nullptr) ThrowErrno(env, "rdma_cm_id has no device yet (resolve or bind first)", EINVAL);
  return id->verbs;
}

ibv_qp* CmId::Qp(Napi::Env env) const {
  if (qp_busy_) ThrowErrno(env, "QP being destroyed", EBADF);
  rdma_cm_id* id = Live(env);
  if (id->qp == nullptr) ThrowErrno(env, "rdma_cm_id has no QP", EINVAL);
  return id->qp;
}

Napi::Value CmId::BindAddr(const Napi::CallbackInfo& info) {
  sockaddr_storage ss = ParseAddress(info.Env(), info[0], info[1]);
  if (rdma_bind_addr(Live(info.Env()), reinterpret_cast<sockaddr*>(&ss)) != 0)
    ThrowErrno(info.Env(), "rdma_bind_addr", errno);
  return info.Env().Undefined();
}

// resolveAddr(host, port, timeoutMs, srcHost?): completes with ADDR_RESOLVED or ADDR_ERROR.
Napi::Value CmId::ResolveAddr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_storage dst = ParseAddress(env, info[0], info[1]);
  int timeout_ms = info[2].As<Napi::Number>().Int32Value();
  sockaddr_storage src{};
  sockaddr* srcp = nullptr;
  if (info.Length() > 3 && info[3].IsString()) {
    src = ParseAddress(env, info[3], Napi::Number::New(env, 0));
    srcp = reinterpret_cast<sockaddr*>(&src);
  }
  if (rdma_resolve_addr(Live(env), srcp, reinterpret_cast<sockaddr*>(&dst), timeout_ms) != 0)
    ThrowErrno(env, "rdma_resolve_addr", errno);
  return env.Undefined();
}

// resolveRoute(timeoutMs): completes with ROUTE_RESOLVED or ROUTE_ERROR.
Napi::Value CmId::ResolveRoute(const Napi::CallbackInfo& info) {
  if (rdma_resolve_route(Live(info.Env()), info[0].As<Napi::Number>().Int32Value()) != 0)
    ThrowErrno(info.Env(), "rdma_resolve_route", errno);
  return info.Env().Undefined();
}

Napi::Value CmId::Listen(const Napi::CallbackInfo& info) {
  int backlog = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 64;
  if (rdma_listen(Live(info.Env()), backlog) != 0) ThrowErrno(info.Env(), "rdma_listen", errno);
  return info.Env().Undefined();
}

// connect(param): completes with ESTABLISHED (privateData = the peer's REP data) or REJECTED/UNREACHABLE/
// CONNECT_ERROR.
Napi::Value CmId::Connect(const Napi::CallbackInfo& info) {
  rdma_conn_param p = ParseConnParam(info.Env(), info[0]);
  if (rdma_connect(Live(info.Env()), &p) != 0) ThrowErrno(info.Env(), "rdma_connect", errno);
  return info.Env().Undefined();
}

Napi::Value CmId::Accept(const Napi::CallbackInfo& info) {
  rdma_conn_param p = ParseConnParam(info.Env(), info[0]);
  if (rdma_accept(Live(info.Env()), &p) != 0) ThrowErrno(info.Env(), "rdma_accept", errno);
  return info.Env().Undefined();
}

Napi::Value CmId::Reject(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const void* data = nullptr;
  size_t len = 0;
  if (info.Length() > 0 && info[0].IsBuffer()) {
    auto b = info[0].As<Napi::Buffer<uint8_t>>();
    data = b.Data();
    len = b.Length();
  }
  if (len > 255) ThrowErrno(env, "rdma_reject", EINVAL);
  if (rdma_reject(Live(env), data, static_cast<uint8_t>(len)) != 0) ThrowErrno(env, "rdma_reject", errno);
  return env.Undefined();
}

// disconnect(): moves the QP to ERROR (flushing its queues) and sends a DREQ; DISCONNECTED follows.
Napi::Value CmId::Disconnect(const Napi::CallbackInfo& info) {
  if (rdma_disconnect(Live(info.Env())) != 0) ThrowErrno(info.Env(), "rdma_disconnect", errno);
  return info.Env().Undefined();
}

// setAckTimeout(t): the QP's local ACK timeout, 4.096 us * 2^t (rxe: 14 is about 67 ms).
Napi::Value CmId::SetAckTimeout(const Napi::CallbackInfo& info) {
  uint8_t t = static_cast<uint8_t>(info[0].As<Napi::Number>().Uint32Value());
  if (rdma_set_option(Live(info.Env()), RDMA_OPTION_ID, RDMA_OPTION_ID_ACK_TIMEOUT, &t, sizeof t) != 0)
    ThrowErrno(info.Env(), "rdma_set_option(ACK_TIMEOUT)", errno);
  return info.Env().Undefined();
}

// setMinRnrTimer(t): how long a peer waits before retrying a SEND we answered with RNR NAK (IB encoding: 1 is
// 0.01 ms, 20 is 10.24 ms, 0 is 655 ms). rdma_cm leaves it at 0; RTS -> RTS may change it, so call it once the
// QP is in RTS (after rdma_accept returns, or after ESTABLISHED on the connecting side).
Napi::Value CmId::SetMinRnrTimer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ibv_qp_attr attr{};
  attr.min_rnr_timer = static_cast<uint8_t>(info[0].As<Napi::Number>().Uint32Value());
  int err = ibv_modify_qp(Qp(env), &attr, IBV_QP_MIN_RNR_TIMER);
  if (err != 0) ThrowErrno(env, "ibv_modify_qp(MIN_RNR_TIMER)", err);
  return env.Undefined();
}

// createQp(pd, sendCq, recvCq, { maxSendWr, maxRecvWr, maxSendSge, maxRecvSge, maxInlineData? }): an RC QP,
// signalling only the work requests that ask for it. Returns the capabilities the device granted.
Napi::Value CmId::CreateQp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rdma_cm_id* id = Live(env);
  if (id->qp != nullptr) ThrowErrno(env, "rdma_create_qp", EEXIST);
  Pd* pd = UnwrapAs<Pd>(info[0], Data(env).pd, "pd");
  Cq* scq = UnwrapAs<Cq>(info[1], Data(env).cq, "sendCq");
  Cq* rcq = UnwrapAs<Cq>(info[2], Data(env).cq, "recvCq");
  if (pd->pd() == nullptr || scq->cq() == nullptr || rcq->cq() == nullptr) ThrowErrno(env, "rdma_create_qp", EBADF);
  if (!info[3].IsObject()) throw Napi::TypeError::New(env, "createQp: capabilities must be an object");
  Napi::Object caps = info[3].As<Napi::Object>();

  ibv_qp_init_attr attr{};
  attr.send_cq = scq->cq();
  attr.recv_cq = rcq->cq();
  attr.qp_type = IBV_QPT_RC;
  attr.sq_sig_all = 0;
  attr.cap.max_send_wr = U32Prop(caps, "maxSendWr", 16);
  attr.cap.max_recv_wr = U32Prop(caps, "maxRecvWr", 16);
  attr.cap.max_send_sge = U32Prop(caps, "maxSendSge", 1);
  attr.cap.max_recv_sge = U32Prop(caps, "maxRecvSge", 1);
  attr.cap.max_inline_data = U32Prop(caps, "maxInlineData", 0);
  if (rdma_create_qp(id, pd->pd(), &attr) != 0) ThrowErrno(env, "rdma_create_qp", errno);

  send_cq_ = scq;
  recv_cq_ = rcq;
  send_cq_ref_ = Napi::Persistent(info[1].As<Napi::Object>());
  recv_cq_ref_ = Napi::Persistent(info[2].As<Napi::Object>());
  scq->AddQp();
  rcq->AddQp();
  Napi::Object out = Napi::Object::New(env);
  out.Set("qpNum", id->qp->qp_num);
  out.Set("maxSendWr", attr.cap.max_send_wr);
  out.Set("maxRecvWr", attr.cap.max_recv_wr);
  out.Set("maxSendSge", attr.cap.max_send_sge);
  out.Set("maxRecvSge", attr.cap.max_recv_sge);
  out.Set("maxInlineData", attr.cap.max_inline_data);
  return out;
}

void CmId::ReleaseQp() {
  if (id_ != nullptr && id_->qp != nullptr) rdma_destroy_qp(id_);
  if (send_cq_ != nullptr) send_cq_->RemoveQp();
  if (recv_cq_ != nullptr) recv_cq_->RemoveQp();
  send_cq_ = recv_cq_ = nullptr;
  send_cq_ref_.Reset();
  recv_cq_ref_.Reset();
}

Napi::Value CmId::DestroyQp(const Napi::CallbackInfo& info) {
  Live(info.Env());
  ReleaseQp();
  return info.Env().Undefined();
}

// destroyQpAsync(): Promise<void>. rdma_destroy_qp on a thread of its own (rxe may block it for a minute after a QP
// error); until it settles the id refuses everything (posts: EBADF, the rest: EBUSY).
Napi::Value CmId::DestroyQpAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rdma_cm_id* id = Live(env);
  if (id->qp == nullptr) {
    ReleaseQp();
    return Resolved(env);
  }
  qp_busy_ = true;
  return BlockingCall::Start(
      env, Value(), "rdma_destroy_qp",
      [id] {
        rdma_destroy_qp(id);  // void: it cannot fail visibly
        return 0;
      },
      [this](Napi::Env, int) {
        qp_busy_ = false;
        ReleaseQp();  // id->qp is NULL now: only the CQ bookkeeping is left
      });
}

Napi::Value CmId::QpState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ibv_qp_attr attr{};
  ibv_qp_init_attr init{};
  int err = ibv_query_qp(Qp(env), &attr, IBV_QP_STATE, &init);
  if (err != 0) ThrowErrno(env, "ibv_query_qp", err);
  return Napi::String::New(env, QpStateName(attr.qp_state));
}

// postSend([{ wrId, opcode, sgl?, signaled?, solicited?, inline?, remoteAddr?, rkey?, invalidateRkey?, imm?,
//             mw?, mr?, offset?, length?, access? }]): one ibv_post_send for the whole list.
Napi::Value CmId::PostSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ibv_qp* qp = Qp(env);
  Napi::Array list = WrList(env, info[0]);
  uint32_t n = list.Length();
  if (n == 0) return env.Undefined();

  std::vector<ibv_send_wr> wrs(n);
  std::vector<std::vector<ibv_sge>> sges(n);
  std::vector<std::pair<ibv_mw*, uint32_t>> binds;  // windows whose rkey advances once posted
  for (uint32_t i = 0; i < n; ++i) {
    Napi::Value item = list.Get(i);
    if (!item.IsObject()) throw Napi::TypeError::New(env, "work request must be an object");
    Napi::Object o = item.As<Napi::Object>();
    ibv_send_wr& wr = wrs[i];
    wr.wr_id = ToU64(o.Get("wrId"), "wrId");
    wr.opcode = static_cast<ibv_wr_opcode>(U32Prop(o, "opcode", IBV_WR_SEND));
    if (o.Get("signaled").ToBoolean()) wr.send_flags |= IBV_SEND_SIGNALED;
    if (o.Get("solicited").ToBoolean()) wr.send_flags |= IBV_SEND_SOLICITED;
    if (o.Get("inline").ToBoolean()) wr.send_flags |= IBV_SEND_INLINE;
    Napi::Array sgl = SglOf(env, o);
    sges[i].reserve(sgl.Length());
    for (uint32_t j = 0; j < sgl.Length(); ++j) sges[i].push_back(ParseSge(env, sgl.Get(j)));
    wr.sg_list = sges[i].empty() ? nullptr : sges[i].data();
    wr.num_sge = static_cast<int>(sges[i].size());
    switch (wr.opcode) {
      case IBV_WR_SEND:
        break;
      case IBV_WR_SEND_WITH_IMM:
        wr.imm_data = htonl(U32Prop(o, "imm"));
        break;
      case IBV_WR_SEND_WITH_INV:
        wr.invalidate_rkey = U32Prop(o, "invalidateRkey");
        break;
      case IBV_WR_RDMA_WRITE_WITH_IMM:
        wr.imm_data = htonl(U32Prop(o, "imm"));
        [[fallthrough]];
      case IBV_WR_RDMA_WRITE:
      case IBV_WR_RDMA_READ:
        wr.wr.rdma.remote_addr = ToU64(o.Get("remoteAddr"), "remoteAddr");
        wr.wr.rdma.rkey = U32Prop(o, "rkey");
        break;
      case IBV_WR_BIND_MW: {
        Mw* mw = UnwrapAs<Mw>(o.Get("mw"), Data(env).mw, "wr.mw");
        Mr* mr = UnwrapAs<Mr>(o.Get("mr"), Data(env).mr, "wr.mr");
        if (mw->mw() == nullptr || mr->mr() == nullptr) ThrowErrno(env, "bind: released window or region", EINVAL);
        for (const auto& b : binds)
          if (b.first == mw->mw()) ThrowErrno(env, "bind: one window bound twice in one post", EINVAL);
        uint64_t offset = ToU64(o.Get("offset"), "offset");
        uint64_t length = ToU64(o.Get("length"), "length");
        if (offset > mr->mr()->length || length > mr->mr()->length - offset)
          ThrowErrno(env, "bind: outside its region", ERANGE);
        wr.bind_mw.mw = mw->mw();
        wr.bind_mw.rkey = ibv_inc_rkey(mw->mw()->rkey);
        wr.bind_mw.bind_info.mr = mr->mr();
        wr.bind_mw.bind_info.addr = reinterpret_cast<uintptr_t>(mr->mr()->addr) + offset;
        wr.bind_mw.bind_info.length = length;
        wr.bind_mw.bind_info.mw_access_flags = U32Prop(o, "access");
        binds.emplace_back(mw->mw(), wr.bind_mw.rkey);
        break;
      }
      default:
        ThrowErrno(env, "postSend: unsupported opcode", EINVAL);
    }
    wr.next = i + 1 < n ? &wrs[i + 1] : nullptr;
  }

  ibv_send_wr* bad = nullptr;
  int err = ibv_post_send(qp, wrs.data(), &bad);
  uint32_t posted = err == 0 ? n : (bad != nullptr ? static_cast<uint32_t>(bad - wrs.data()) : 0);
  // The provider reads the window's current rkey at post time; it is the new key only for posted binds.
  for (uint32_t i = 0; i < posted; ++i)
    if (wrs[i].opcode == IBV_WR_BIND_MW) wrs[i].bind_mw.mw->rkey = wrs[i].bind_mw.rkey;
  if (err != 0) ThrowPostError(env, "ibv_post_send", err, posted);
  return env.Undefined();
}

// postRecv([{ wrId, sgl }]): one ibv_post_recv for the whole list.
Napi::Value CmId::PostRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ibv_qp* qp = Qp(env);
  Napi::Array list = WrList(env, info[0]);
  uint32_t n = list.Length();
  if (n == 0) return env.Undefined();
  std::vector<ibv_recv_wr> wrs(n);
  std::vector<std::vector<ibv_sge>> sges(n);
  for (uint32_t i = 0; i < n; ++i) {
    Napi::Value item = list.Get(i);
    if (!item.IsObject()) throw Napi::TypeError::New(env, "work request must be an object");
    Napi::Object o = item.As<Napi::Object>();
    wrs[i].wr_id = ToU64(o.Get("wrId"), "wrId");
    Napi::Array sgl = SglOf(env, o);
    sges[i].reserve(sgl.Length());
    for (uint32_t j = 0; j < sgl.Length(); ++j) sges[i].push_back(ParseSge(env, sgl.Get(j)));
    wrs[i].sg_list = sges[i].empty() ? nullptr : sges[i].data();
    wrs[i].num_sge = static_cast<int>(sges[i].size());
    wrs[i].next = i + 1 < n ? &wrs[i + 1] : nullptr;
  }
  ibv_recv_wr* bad = nullptr;
  int err = ibv_post_recv(qp, wrs.data(), &bad);
  if (err != 0) ThrowPostError(env, "ibv_post_recv", err, bad != nullptr ? static_cast<uint32_t>(bad - wrs.data()) : 0);
  return env.Undefined();
}

Napi::Value CmId::LocalAddress(const Napi::CallbackInfo& info) {
  rdma_cm_id* id = Live(info.Env());
  return DescribeAddress(info.Env(), rdma_get_local_addr(id), rdma_get_src_port(id));
}

Napi::Value CmId::PeerAddress(const Napi::CallbackInfo& info) {
  rdma_cm_id* id = Live(info.Env());
  return DescribeAddress(info.Env(), rdma_get_peer_addr(id), rdma_get_dst_port(id));
}

Napi::Value CmId::DeviceName(const Napi::CallbackInfo& info) {
  rdma_cm_id* id = Live(info.Env());
  if (id->verbs == nullptr) return info.Env().Undefined();
  return Napi::String::New(info.Env(), ibv_get_device_name(id->verbs->device));
}

// queryDevice(): the limits of the device (and port) this id is bound to.
Napi::Value CmId::QueryDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ibv_context* ctx = Verbs(env);
  ibv_device_attr attr{};
  int err = ibv_query_device(ctx, &attr);
  if (err != 0) ThrowErrno(env, "ibv_query_device", err);
  ibv_port_attr pa{};
  uint8_t port = id_->port_num != 0 ? id_->port_num : 1;
  if ((err = ibv_query_port(ctx, port, &pa)) != 0) ThrowErrno(env, "ibv_query_port", err);
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", ibv_get_device_name(ctx->device));
  o.Set("port", port);
  o.Set("maxQpWr", attr.max_qp_wr);
  o.Set("maxSge", attr.max_sge);
  o.Set("maxCqe", attr.max_cqe);
  o.Set("maxMw", attr.max_mw);
  o.Set("maxQpRdAtom", attr.max_qp_rd_atom);
  o.Set("maxQpInitRdAtom", attr.max_qp_init_rd_atom);
  o.Set("maxMsgSize", static_cast<double>(pa.max_msg_sz));
  o.Set("activeMtu", 128 << pa.active_mtu);
  return o;
}

// destroy(): the QP (if any), then the id. Blocks only until this id's events are acked, which the channel
// does as soon as it reads them.
Napi::Value CmId::Destroy(const Napi::CallbackInfo& info) {
  if (id_ == nullptr) return info.Env().Undefined();
  if (qp_busy_) ThrowErrno(info.Env(), "rdma_destroy_id", EBUSY);
  ReleaseQp();
  rdma_cm_id* id = id_;
  id_->context = nullptr;
  if (rdma_destroy_id(id) != 0) {
    int err = errno;
    id_->context = this;
    ThrowErrno(info.Env(), "rdma_destroy_id", err);
  }
  id_ = nullptr;
  channel_->IdDestroyed();
  channel_ref_.Reset();
  Unref();
  return info.Env().Undefined();
}

// destroyAsync(): Promise<void>. The QP (if any) and the id, on a thread of its own. The id leaves JS at once (its
// events arrive without it; the channel keeps acking them, which rdma_destroy_id waits for) and is the worker's
// until the call returns; the channel and this object stay referenced until then.
Napi::Value CmId::DestroyAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (id_ == nullptr) return Resolved(env);
  if (qp_busy_) ThrowErrno(env, "rdma_destroy_id", EBUSY);
  rdma_cm_id* id = id_;
  id->context = nullptr;
  id_ = nullptr;
  return BlockingCall::Start(
      env, Value(), "rdma_destroy_id",
      [id] {
        if (id->qp != nullptr) rdma_destroy_qp(id);
        return rdma_destroy_id(id) == 0 ? 0 : errno;
      },
      [this, id](Napi::Env, int err) {
        if (err != 0) {  // still ours: give it back to JS
          id_ = id;
          id->context = this;
          ReleaseQp();
          return;
        }
        ReleaseQp();  // id_ is NULL: drops the CQ references only
        channel_->IdDestroyed();
        channel_ref_.Reset();
        Unref();
      });
}

}  // namespace iser
