// Shared helpers of the verbs addon: errno-named errors, per-environment constructors, a safe way to call JS
// from a libuv callback. The addon stays thin: it maps verbs calls one to one; policy lives in native/*.ts.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>

namespace iser {

// "ENOSYS" for ENOSYS (glibc's strerrorname_np), or "E<number>" when glibc has no name for it.
std::string ErrnoName(int err);

// A JS Error whose `code` is the errno name, `errno` the number and `syscall` the verbs call that failed.
Napi::Error ErrnoError(Napi::Env env, const char* syscall, int err);

// Throws ErrnoError (node-addon-api is built with C++ exceptions).
[[noreturn]] void ThrowErrno(Napi::Env env, const char* syscall, int err);

// Constructors of the wrapped classes, kept per environment (worker threads each load the addon).
struct AddonData {
  Napi::FunctionReference eventChannel;
  Napi::FunctionReference cmId;
  Napi::FunctionReference pd;
  Napi::FunctionReference mr;
  Napi::FunctionReference mw;
  Napi::FunctionReference cq;
};

AddonData& Data(Napi::Env env);

// Calls `fn` from a libuv callback (no JS on the stack): runs microtasks afterwards like any I/O callback, and
// turns a thrown exception into an 'uncaughtException' instead of losing it.
// `recv` becomes `this` (napi_make_callback insists on an object).
void CallFromLoop(Napi::Env env, const Napi::Object& recv, Napi::FunctionReference& fn, Napi::AsyncContext& ctx,
                  const std::initializer_list<napi_value>& args);

// A JS number or bigint as uint64 (remote addresses may exceed 2^53).
uint64_t ToU64(const Napi::Value& v, const char* what);

// An unsigned 32-bit property of `obj` (0 when absent).
uint32_t U32Prop(const Napi::Object& obj, const char* name, uint32_t fallback = 0);

// Reads an optional Buffer property as (pointer, length); length 0 when absent.
void BufferProp(const Napi::Object& obj, const char* name, const void** data, size_t* len);

// The C++ object behind `v`, after checking that `v` really is an instance of T's class (unwrapping a
// foreign object would be memory corruption, not a TypeError).
template <class T>
T* UnwrapAs(const Napi::Value& v, Napi::FunctionReference& ctor, const char* what) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(ctor.Value()))
    throw Napi::TypeError::New(v.Env(), std::string(what) + " has the wrong type");
  T* p = T::Unwrap(v.As<Napi::Object>());
  if (p == nullptr) throw Napi::TypeError::New(v.Env(), std::string(what) + " is not initialised");
  return p;
}

}  // namespace iser

namespace iser {

// One blocking libibverbs/librdmacm destroy run on a thread of its own, so a kernel that takes a minute to
// destroy an object (rxe on 6.1 after a QP error) stalls only that call: not the JS thread, and not the libuv
// pool either (four hung destroys would starve fs, dns and crypto). `call` runs on that thread and must touch
// nothing but the raw verbs pointers it captured; it returns 0 or an errno. `done` runs back on the JS thread
// with the result (bookkeeping: tables, references), then the promise settles with undefined or an errno error
// named after `syscall`. `keep` (the JS object) stays referenced meanwhile. If the environment is torn down
// first (a worker thread exiting), the thread finishes its call and reports to nobody.
class BlockingCall {
 public:
  using Call = std::function<int()>;
  using Done = std::function<void(Napi::Env, int)>;
  static Napi::Promise Start(Napi::Env env, const Napi::Object& keep, const char* syscall, Call call, Done done);
};

}  // namespace iser

namespace iser {

// A promise already resolved with undefined (an async destroy with nothing left to destroy).
inline Napi::Promise Resolved(Napi::Env env) {
  Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
  d.Resolve(env.Undefined());
  return d.Promise();
}

}  // namespace iser
