// Device discovery for probe(): what libibverbs sees, and whether librdmacm can open its event channel.
#include <cerrno>
#include <cinttypes>
#include <cstdio>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "common.h"
#include "names.h"

namespace iser {

namespace {

const char* LinkLayerName(uint8_t ll) {
  switch (ll) {
    case IBV_LINK_LAYER_INFINIBAND: return "InfiniBand";
    case IBV_LINK_LAYER_ETHERNET: return "Ethernet";
    default: return "unspecified";
  }
}

Napi::Object DescribeDevice(Napi::Env env, ibv_device* dev) {
  Napi::Object d = Napi::Object::New(env);
  d.Set("name", ibv_get_device_name(dev));
  char guid[32];
  snprintf(guid, sizeof guid, "%016" PRIx64, static_cast<uint64_t>(be64toh(ibv_get_device_guid(dev))));
  d.Set("guid", guid);
  d.Set("transport", dev->transport_type == IBV_TRANSPORT_IB ? "IB" : dev->transport_type == IBV_TRANSPORT_IWARP ? "iWARP" : "other");

  ibv_context* ctx = ibv_open_device(dev);
  if (ctx == nullptr) {
    d.Set("openError", ErrnoName(errno));
    return d;
  }
  ibv_device_attr attr{};
  int err = ibv_query_device(ctx, &attr);
  if (err != 0) {
    d.Set("openError", ErrnoName(err));
    ibv_close_device(ctx);
    return d;
  }
  d.Set("maxQpWr", attr.max_qp_wr);
  d.Set("maxSge", attr.max_sge);
  d.Set("maxCqe", attr.max_cqe);
  d.Set("maxMr", attr.max_mr);
  d.Set("maxMrSize", static_cast<double>(attr.max_mr_size));
  d.Set("maxQpRdAtom", attr.max_qp_rd_atom);
  d.Set("maxQpInitRdAtom", attr.max_qp_init_rd_atom);
  d.Set("maxMw", attr.max_mw);
  Napi::Array ports = Napi::Array::New(env);
  for (uint8_t p = 1; p <= attr.phys_port_cnt; ++p) {
    ibv_port_attr pa{};
    Napi::Object o = Napi::Object::New(env);
    o.Set("port", p);
    if ((err = ibv_query_port(ctx, p, &pa)) != 0) {
      o.Set("error", ErrnoName(err));
    } else {
      o.Set("state", PortStateName(pa.state));
      o.Set("linkLayer", LinkLayerName(pa.link_layer));
      o.Set("activeMtu", 128 << pa.active_mtu);  // IBV_MTU_256 == 1 -> 256 bytes
      o.Set("maxMsgSize", static_cast<double>(pa.max_msg_sz));
      o.Set("gidTableLength", pa.gid_tbl_len);
    }
    ports.Set(ports.Length(), o);
  }
  d.Set("ports", ports);
  ibv_close_device(ctx);
  return d;
}

// getDevices(): every verbs device with its limits and ports. Throws ENOSYS where the kernel has no uverbs.
Napi::Value GetDevices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int n = 0;
  errno = 0;
  ibv_device** list = ibv_get_device_list(&n);
  if (list == nullptr) ThrowErrno(env, "ibv_get_device_list", errno != 0 ? errno : ENODEV);
  Napi::Array out = Napi::Array::New(env);
  for (int i = 0; i < n; ++i) out.Set(static_cast<uint32_t>(i), DescribeDevice(env, list[i]));
  ibv_free_device_list(list);
  return out;
}

// probeCm(): opens and closes an rdma_cm event channel; throws (ENODEV, ENOENT, EPERM) when that fails.
Napi::Value ProbeCm(const Napi::CallbackInfo& info) {
  errno = 0;
  rdma_event_channel* ch = rdma_create_event_channel();
  if (ch == nullptr) ThrowErrno(info.Env(), "rdma_create_event_channel", errno != 0 ? errno : ENODEV);
  rdma_destroy_event_channel(ch);
  return info.Env().Undefined();
}

}  // namespace

void InitDevices(Napi::Env env, Napi::Object exports) {
  exports.Set("getDevices", Napi::Function::New(env, GetDevices, "getDevices"));
  exports.Set("probeCm", Napi::Function::New(env, ProbeCm, "probeCm"));
}

}  // namespace iser
