// Enum values of libibverbs/librdmacm as the names the TypeScript side matches on (prefixes dropped:
// IBV_WC_REM_ACCESS_ERR -> "REM_ACCESS_ERR", RDMA_CM_EVENT_ESTABLISHED -> "ESTABLISHED").
#pragma once

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

namespace iser {

const char* WcStatusName(ibv_wc_status status);
const char* WcOpcodeName(ibv_wc_opcode opcode);
const char* CmEventName(rdma_cm_event_type type);
const char* QpStateName(ibv_qp_state state);
const char* PortStateName(ibv_port_state state);

}  // namespace iser
