/**
 * The UDP source ports rxe puts on its packets (the receiver ignores them; they give ECMP its entropy), so our
 * packets carry the same as rxe's would: `0xC000 + hash_32(qpn, 14)` for a QP without a path (QP1, the GSI),
 * and `rdma_get_udp_sport(0, lqpn, rqpn)` once the CM has given an RC QP its path.
 */

/** The lowest RoCEv2 source port rxe uses (`IB_ROCE_UDP_ENCAP_VALID_PORT_MIN`). */
export const ROCE_SPORT_MIN = 0xc000;

const GOLDEN_RATIO_32 = 0x61c88647;

/** Linux `hash_32(value, bits)`. */
export function hash32(value: number, bits: number): number {
  return Math.imul(value >>> 0, GOLDEN_RATIO_32) >>> (32 - bits);
}

/** rxe's source port of a QP before it has a path (`RXE_ROCE_V2_SPORT + (hash_32(qpn, 14) & 0x3fff)`). */
export function qpSourcePort(qpn: number): number {
  return ROCE_SPORT_MIN + (hash32(qpn, 14) & 0x3fff);
}

/** `rdma_calc_flow_label(lqpn, rqpn)`: a 20-bit flow label from both QP numbers. */
export function calcFlowLabel(lqpn: number, rqpn: number): number {
  let v = BigInt(lqpn >>> 0) * BigInt(rqpn >>> 0);
  v ^= v >> 20n;
  v ^= v >> 40n;
  return Number(v & 0xfffffn);
}

/** `rdma_flow_label_to_udp_sport`: folds a flow label into 14 bits above 0xC000. */
export function flowLabelToUdpSport(flowLabel: number): number {
  const low = (flowLabel & 0x03fff) ^ ((flowLabel & 0xfc000) >>> 14);
  return low | ROCE_SPORT_MIN;
}

/** `rdma_get_udp_sport(flowLabel, lqpn, rqpn)`: an RC QP's source port once connected. */
export function rcSourcePort(lqpn: number, rqpn: number, flowLabel = 0): number {
  return flowLabelToUdpSport(flowLabel === 0 ? calcFlowLabel(lqpn, rqpn) : flowLabel);
}
