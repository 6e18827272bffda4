/**
 * Soft-RoCE: a Verbs provider that speaks RoCEv2 as Linux rxe does, over an in-memory link (virtual time, seeded
 * faults) or real UDP, with IB CM on QP1 as rdma_cm peers expect and an optional pcap tap. The wire codecs are
 * in `./index.js`; this module is what a user of the provider needs.
 *
 * ```ts
 * const link = new UdpLink();
 * const device = await SoftRoceProvider.open({ address: '127.0.0.1', link, scheduler: asyncScheduler });
 * ```
 */
export { SoftRoceProvider, FIRST_QPN } from './provider/provider.js';
export { SoftRoceConnection } from './provider/connection.js';
export { SoftRoceListener, SoftRoceConnectRequest } from './provider/listener.js';
export {
  resolveOptions,
  SOFTROCE_CAPS,
  SOFTROCE_DEFAULTS,
  type SoftRoceOptions,
  type SoftRoceConnectionDefaults,
  type ResolvedSoftRoceOptions,
} from './provider/options.js';
export { qpSourcePort, rcSourcePort } from './provider/source-port.js';
export { MemoryLink, type LinkModel, type MemoryLinkOptions, type MemoryLinkStats } from './link/memory-link.js';
export { UdpLink, SocketOption, type SetSockoptInt, type UdpLinkOptions, type UdpLinkStats } from './link/udp-link.js';
export { PcapTap } from './link/pcap-tap.js';
export { canonicalIp, type RoceDatagram, type RoceLink, type RoceLinkEndpoint } from './link/link.js';
export { DEFAULT_CM_TIMINGS, type CmTimings } from './cm/cm-timing.js';
export { DEFAULT_PATH_MTU, PATH_MTUS, type PathMtu } from './rc/attributes.js';
export type { RoceCounters, DirectionCounters, EventCounters, TrafficCount } from './rc/counters.js';
export { SoftRoceMemoryRegion, SoftRoceProtectionDomain } from './rc/memory-region.js';
export { RcQueuePair } from './rc/queue-pair.js';
export type { RcAction, RcTimer } from './rc/actions.js';
export type { RcQpAttributes } from './rc/attributes.js';
