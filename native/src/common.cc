#include "common.h"

#include <cerrno>
#include <cstring>

namespace iser {

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? std::string(name) : "E" + std::to_string(err);
}

Napi::Error ErrnoError(Napi::Env env, const char* syscall, int err) {
  std::string name = ErrnoName(err);
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + ": " + strerror(err) + " (" + name + ")");
  e.Set("code", Napi::String::New(env, name));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

void ThrowErrno(Napi::Env env, const char* syscall, int err) { throw ErrnoError(env, syscall, err); }

AddonData& Data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

void CallFromLoop(Napi::Env env, const Napi::Object& recv, Napi::FunctionReference& fn, Napi::AsyncContext& ctx,
                  const std::initializer_list<napi_value>& args) {
  try {
    fn.MakeCallback(recv, args, ctx);
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
  }
}

uint64_t ToU64(const Napi::Value& v, const char* what) {
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(v.Env(), std::string(what) + " does not fit in 64 bits");
    return x;
  }
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 9007199254740991.0) || d != static_cast<double>(static_cast<uint64_t>(d)))
      throw Napi::RangeError::New(v.Env(), std::string(what) + " must be a non-negative safe integer");
    return static_cast<uint64_t>(d);
  }
  throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a number or bigint");
}

uint32_t U32Prop(const Napi::Object& obj, const char* name, uint32_t fallback) {
  Napi::Value v = obj.Get(name);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(obj.Env(), std::string(name) + " must be a number");
  return v.As<Napi::Number>().Uint32Value();
}

void BufferProp(const Napi::Object& obj, const char* name, const void** data, size_t* len) {
  Napi::Value v = obj.Get(name);
  *data = nullptr;
  *len = 0;
  if (v.IsUndefined() || v.IsNull()) return;
  if (!v.IsBuffer()) throw Napi::TypeError::New(obj.Env(), std::string(name) + " must be a Buffer");
  auto b = v.As<Napi::Buffer<uint8_t>>();
  *data = b.Data();
  *len = b.Length();
}

}  // namespace iser

namespace iser {

BlockingCall::BlockingCall(Napi::Env env, const Napi::Object& keep, const char* syscall, Call call, Done done)
    : Napi::AsyncWorker(env, "iser:verbs:destroy"),
      deferred_(Napi::Promise::Deferred::New(env)),
      keep_(Napi::Persistent(keep)),
      syscall_(syscall),
      call_(std::move(call)),
      done_(std::move(done)) {}

Napi::Promise BlockingCall::Start(Napi::Env env, const Napi::Object& keep, const char* syscall, Call call,
                                  Done done) {
  auto* w = new BlockingCall(env, keep, syscall, std::move(call), std::move(done));
  Napi::Promise p = w->deferred_.Promise();
  w->Queue();  // node-addon-api deletes the worker after OnOK
  return p;
}

void BlockingCall::Execute() { err_ = call_(); }

void BlockingCall::OnOK() {
  Napi::Env env = Env();
  try {
    done_(env, err_);
    if (err_ == 0) {
      deferred_.Resolve(env.Undefined());
    } else {
      deferred_.Reject(ErrnoError(env, syscall_, err_).Value());
    }
  } catch (const Napi::Error&) {
    // The environment is going away (worker thread exit): nobody is left to tell.
  }
  keep_.Reset();
}

}  // namespace iser
