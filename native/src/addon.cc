// Entry point of iser_verbs.node: registers the classes and the constants the TypeScript side needs.
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "cm_id.h"
#include "common.h"
#include "cq.h"
#include "event_channel.h"
#include "pd.h"

namespace iser {

void InitDevices(Napi::Env env, Napi::Object exports);
void InitSockopt(Napi::Env env, Napi::Object exports);

namespace {

Napi::Value ErrnoNameOf(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), ErrnoName(info[0].As<Napi::Number>().Int32Value()));
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  EventChannel::Init(env, exports);
  CmId::Init(env, exports);
  Pd::Init(env, exports);
  Mr::Init(env, exports);
  Mw::Init(env, exports);
  Cq::Init(env, exports);
  InitDevices(env, exports);
  InitSockopt(env, exports);
  exports.Set("errnoName", Napi::Function::New(env, ErrnoNameOf, "errnoName"));

  Napi::Object c = Napi::Object::New(env);
  c.Set("IBV_ACCESS_LOCAL_WRITE", static_cast<int>(IBV_ACCESS_LOCAL_WRITE));
  c.Set("IBV_ACCESS_REMOTE_WRITE", static_cast<int>(IBV_ACCESS_REMOTE_WRITE));
  c.Set("IBV_ACCESS_REMOTE_READ", static_cast<int>(IBV_ACCESS_REMOTE_READ));
  c.Set("IBV_ACCESS_MW_BIND", static_cast<int>(IBV_ACCESS_MW_BIND));
  c.Set("IBV_WR_RDMA_WRITE", static_cast<int>(IBV_WR_RDMA_WRITE));
  c.Set("IBV_WR_RDMA_WRITE_WITH_IMM", static_cast<int>(IBV_WR_RDMA_WRITE_WITH_IMM));
  c.Set("IBV_WR_SEND", static_cast<int>(IBV_WR_SEND));
  c.Set("IBV_WR_SEND_WITH_IMM", static_cast<int>(IBV_WR_SEND_WITH_IMM));
  c.Set("IBV_WR_RDMA_READ", static_cast<int>(IBV_WR_RDMA_READ));
  c.Set("IBV_WR_SEND_WITH_INV", static_cast<int>(IBV_WR_SEND_WITH_INV));
  c.Set("IBV_WR_BIND_MW", static_cast<int>(IBV_WR_BIND_MW));
  exports.Set("verbsConstants", c);
  return exports;
}

}  // namespace iser

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return iser::Init(env, exports); }

NODE_API_MODULE(iser_verbs, InitAddon)
