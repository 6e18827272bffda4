// Pd, Mr, Mw: a protection domain, memory regions over caller Buffers, and type-2 memory windows (what makes a
// region remotely invalidatable by SEND_WITH_INV from user space).
//
// A registered Buffer must own its memory: use Buffer.alloc or Buffer.allocUnsafeSlow, never a slice of Node's
// shared allocation pool (Buffer.allocUnsafe/from of small sizes), whose neighbouring bytes belong to others.
// The Mr keeps a reference to the Buffer so it cannot be collected while the hardware may touch it; never
// transfer or detach its ArrayBuffer while registered.
#pragma once

#include <infiniband/verbs.h>

#include "common.h"

namespace iser {

class Pd : public Napi::ObjectWrap<Pd> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // new Pd(cmId): allocated on the device the id is bound to.
  explicit Pd(const Napi::CallbackInfo& info);
  ~Pd() override;

  ibv_pd* pd() const { return pd_; }

 private:
  Napi::Value RegMr(const Napi::CallbackInfo& info);
  Napi::Value AllocMw(const Napi::CallbackInfo& info);
  Napi::Value Dealloc(const Napi::CallbackInfo& info);

  ibv_pd* pd_ = nullptr;
};

class Mr : public Napi::ObjectWrap<Mr> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // Only Pd.regMr constructs these: new Mr(External<ibv_mr>, buffer, pd).
  explicit Mr(const Napi::CallbackInfo& info);
  ~Mr() override;

  ibv_mr* mr() const { return mr_; }

 private:
  Napi::Value Dereg(const Napi::CallbackInfo& info);
  Napi::Value Lkey(const Napi::CallbackInfo& info);
  Napi::Value Rkey(const Napi::CallbackInfo& info);
  Napi::Value Addr(const Napi::CallbackInfo& info);
  Napi::Value Length(const Napi::CallbackInfo& info);

  ibv_mr* mr_ = nullptr;
  Napi::Reference<Napi::Buffer<uint8_t>> buffer_;
  Napi::ObjectReference pd_;
};

class Mw : public Napi::ObjectWrap<Mw> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // Only Pd.allocMw constructs these: new Mw(External<ibv_mw>, pd).
  explicit Mw(const Napi::CallbackInfo& info);
  ~Mw() override;

  ibv_mw* mw() const { return mw_; }

 private:
  Napi::Value Dealloc(const Napi::CallbackInfo& info);
  Napi::Value Rkey(const Napi::CallbackInfo& info);

  ibv_mw* mw_ = nullptr;
  Napi::ObjectReference pd_;
};

}  // namespace iser
