#include "common.h"

#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

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

namespace {

// What one BlockingCall shares between its thread and the JS thread. `mu` orders the thread's report against
// environment teardown: the cleanup hook clears `alive` under it, the thread calls the threadsafe function only
// while `alive` holds, so it never touches one the environment has already freed.
struct Pending {
  std::mutex mu;
  bool alive = true;
  napi_env env = nullptr;
  napi_threadsafe_function tsfn = nullptr;
  Napi::Promise::Deferred deferred;
  Napi::ObjectReference keep;
  const char* syscall = nullptr;
  BlockingCall::Call call;
  BlockingCall::Done done;
  int err = 0;

  explicit Pending(Napi::Env e) : env(e), deferred(Napi::Promise::Deferred::New(e)) {}
};

void OnEnvGone(void* arg) {
  auto* p = static_cast<Pending*>(arg);
  std::lock_guard<std::mutex> lock(p->mu);
  p->alive = false;  // the thread still owns `p` and frees nothing of the environment's
}

// On the JS thread, once the call returned.
void Report(napi_env env, napi_value /*js_cb*/, void* /*context*/, void* data) {
  auto* p = static_cast<Pending*>(data);
  if (env == nullptr) return;  // torn down: never happens while `alive`, see the thread
  napi_remove_env_cleanup_hook(env, OnEnvGone, p);
  Napi::Env e(env);
  try {
    Napi::HandleScope scope(e);
    p->done(e, p->err);
    if (p->err == 0) {
      p->deferred.Resolve(e.Undefined());
    } else {
      p->deferred.Reject(ErrnoError(e, p->syscall, p->err).Value());
    }
  } catch (const Napi::Error&) {
    // nothing sensible is left to tell
  }
  napi_release_threadsafe_function(p->tsfn, napi_tsfn_release);
  { std::lock_guard<std::mutex> wait_for_thread(p->mu); }  // the thread may still be leaving its lock
  delete p;
}

}  // namespace

Napi::Promise BlockingCall::Start(Napi::Env env, const Napi::Object& keep, const char* syscall, Call call,
                                  Done done) {
  auto* p = new Pending(env);
  p->keep = Napi::Persistent(keep);
  p->syscall = syscall;
  p->call = std::move(call);
  p->done = std::move(done);
  Napi::Promise promise = p->deferred.Promise();
  // No JS function: Report does the work. Referenced, so the loop (and the process) waits for the result.
  napi_status st = napi_create_threadsafe_function(env, nullptr, nullptr, Napi::String::New(env, "iser:verbs:destroy"),
                                                   0, 1, nullptr, nullptr, nullptr, Report, &p->tsfn);
  if (st != napi_ok) {
    delete p;
    throw Napi::Error::New(env, "napi_create_threadsafe_function failed");
  }
  // Registered after the threadsafe function's own hook, so it runs before that one frees it.
  napi_add_env_cleanup_hook(env, OnEnvGone, p);
  try {
    std::thread([p] {
      int err = p->call();
      std::lock_guard<std::mutex> lock(p->mu);
      if (!p->alive) return;  // leaks `p` on purpose: its references belong to a dead environment
      p->err = err;
      napi_call_threadsafe_function(p->tsfn, p, napi_tsfn_nonblocking);  // unbounded queue: never full
    }).detach();
  } catch (const std::system_error& e) {
    napi_remove_env_cleanup_hook(env, OnEnvGone, p);
    napi_release_threadsafe_function(p->tsfn, napi_tsfn_release);
    delete p;
    ThrowErrno(env, "pthread_create", e.code().value());
  }
  return promise;
}

}  // namespace iser
