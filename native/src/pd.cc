#include "pd.h"

#include <cerrno>

#include "cm_id.h"

namespace iser {

// ---------------------------------------------------------------- Pd

void Pd::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "Pd",
                                    {
                                        InstanceMethod<&Pd::RegMr>("regMr"),
                                        InstanceMethod<&Pd::AllocMw>("allocMw"),
                                        InstanceMethod<&Pd::Dealloc>("dealloc"),
                                    });
  Data(env).pd = Napi::Persistent(ctor);
  exports.Set("Pd", ctor);
}

Pd::Pd(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Pd>(info) {
  Napi::Env env = info.Env();
  CmId* id = UnwrapAs<CmId>(info[0], Data(env).cmId, "cmId");
  pd_ = ibv_alloc_pd(id->Verbs(env));
  if (pd_ == nullptr) ThrowErrno(env, "ibv_alloc_pd", errno != 0 ? errno : ENOMEM);
}

Pd::~Pd() {
  // Best effort when collected without dealloc(): fails harmlessly (EBUSY) while regions remain.
  if (pd_ != nullptr) ibv_dealloc_pd(pd_);
}

Napi::Value Pd::RegMr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (pd_ == nullptr) ThrowErrno(env, "ibv_reg_mr", EBADF);
  if (!info[0].IsBuffer()) throw Napi::TypeError::New(env, "regMr(buffer, access): buffer must be a Buffer");
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  int access = info[1].As<Napi::Number>().Int32Value();
  if (buf.Length() == 0) ThrowErrno(env, "ibv_reg_mr", EINVAL);
  // Large registrations pin pages synchronously; callers register once and reuse (see native/README.md).
  ibv_mr* mr = ibv_reg_mr(pd_, buf.Data(), buf.Length(), access);
  if (mr == nullptr) ThrowErrno(env, "ibv_reg_mr", errno != 0 ? errno : ENOMEM);
  return Data(env).mr.New({Napi::External<ibv_mr>::New(env, mr), buf, Value()});
}

Napi::Value Pd::AllocMw(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (pd_ == nullptr) ThrowErrno(env, "ibv_alloc_mw", EBADF);
  ibv_mw* mw = ibv_alloc_mw(pd_, IBV_MW_TYPE_2);
  if (mw == nullptr) ThrowErrno(env, "ibv_alloc_mw", errno != 0 ? errno : EOPNOTSUPP);
  return Data(env).mw.New({Napi::External<ibv_mw>::New(env, mw), Value()});
}

Napi::Value Pd::Dealloc(const Napi::CallbackInfo& info) {
  if (pd_ != nullptr) {
    int err = ibv_dealloc_pd(pd_);
    if (err != 0) ThrowErrno(info.Env(), "ibv_dealloc_pd", err);  // EBUSY: regions or QPs still use it
    pd_ = nullptr;
  }
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- Mr

void Mr::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "Mr",
                                    {
                                        InstanceMethod<&Mr::Dereg>("dereg"),
                                        InstanceAccessor<&Mr::Lkey>("lkey"),
                                        InstanceAccessor<&Mr::Rkey>("rkey"),
                                        InstanceAccessor<&Mr::Addr>("addr"),
                                        InstanceAccessor<&Mr::Length>("length"),
                                    });
  Data(env).mr = Napi::Persistent(ctor);
  exports.Set("Mr", ctor);
}

Mr::Mr(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Mr>(info) {
  if (!info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "Mr is created by Pd.regMr");
  mr_ = info[0].As<Napi::External<ibv_mr>>().Data();
  buffer_ = Napi::Persistent(info[1].As<Napi::Buffer<uint8_t>>());
  pd_ = Napi::Persistent(info[2].As<Napi::Object>());
}

Mr::~Mr() {
  if (mr_ != nullptr) ibv_dereg_mr(mr_);
}

Napi::Value Mr::Dereg(const Napi::CallbackInfo& info) {
  if (mr_ != nullptr) {
    int err = ibv_dereg_mr(mr_);
    if (err != 0) ThrowErrno(info.Env(), "ibv_dereg_mr", err);  // EBUSY/EINVAL: a window is still bound
    mr_ = nullptr;
    buffer_.Reset();
    pd_.Reset();
  }
  return info.Env().Undefined();
}

Napi::Value Mr::Lkey(const Napi::CallbackInfo& info) {
  return mr_ != nullptr ? Napi::Number::New(info.Env(), mr_->lkey) : info.Env().Undefined();
}
Napi::Value Mr::Rkey(const Napi::CallbackInfo& info) {
  return mr_ != nullptr ? Napi::Number::New(info.Env(), mr_->rkey) : info.Env().Undefined();
}
Napi::Value Mr::Addr(const Napi::CallbackInfo& info) {
  return mr_ != nullptr ? Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(mr_->addr)))
                        : info.Env().Undefined();
}
Napi::Value Mr::Length(const Napi::CallbackInfo& info) {
  return mr_ != nullptr ? Napi::Number::New(info.Env(), static_cast<double>(mr_->length)) : info.Env().Undefined();
}

// ---------------------------------------------------------------- Mw

void Mw::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "Mw",
                                    {
                                        InstanceMethod<&Mw::Dealloc>("dealloc"),
                                        InstanceAccessor<&Mw::Rkey>("rkey"),
                                    });
  Data(env).mw = Napi::Persistent(ctor);
  exports.Set("Mw", ctor);
}

Mw::Mw(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Mw>(info) {
  if (!info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "Mw is created by Pd.allocMw");
  mw_ = info[0].As<Napi::External<ibv_mw>>().Data();
  pd_ = Napi::Persistent(info[1].As<Napi::Object>());
}

Mw::~Mw() {
  if (mw_ != nullptr) ibv_dealloc_mw(mw_);
}

Napi::Value Mw::Dealloc(const Napi::CallbackInfo& info) {
  if (mw_ != nullptr) {
    int err = ibv_dealloc_mw(mw_);
    if (err != 0) ThrowErrno(info.Env(), "ibv_dealloc_mw", err);
    mw_ = nullptr;
    pd_.Reset();
  }
  return info.Env().Undefined();
}

// The rkey of the window's current binding (advanced by every BIND_MW posted through CmId.postSend).
Napi::Value Mw::Rkey(const Napi::CallbackInfo& info) {
  return mw_ != nullptr ? Napi::Number::New(info.Env(), mw_->rkey) : info.Env().Undefined();
}

}  // namespace iser
