/**
 * The in-memory RDMA fabric: a deterministic Verbs provider for tests and simulations.
 *
 * ```ts
 * const clock = new VirtualScheduler();
 * const fabric = new SimFabric({ scheduler: clock, seed: 42, faults: { rules: [...] } });
 * const initiator = fabric.provider('10.0.0.1');
 * const target = fabric.provider('10.0.0.2');
 * ```
 */
export { SimFabric, DEFAULT_CAPS, DEFAULT_CONNECTION, DEFAULT_TIMINGS } from './fabric.js';
export type { ConnectionInfo, SimFabricOptions } from './fabric.js';
export type { ConnectionDefaults, FabricTimings } from './context.js';
export { SimVerbsProvider } from './provider.js';
export { SimQueuePair } from './queue-pair.js';
export type { QpSettings } from './queue-pair.js';
export { SimListener, SimConnectRequest } from './cm.js';
export { SimMemoryRegion, SimProtectionDomain } from './memory-region.js';
export { PRIVATE_DATA_LIMITS } from './cm-options.js';
export { DEFAULT_LINK } from './link.js';
export type { LinkModel } from './link.js';
export { NO_FAULTS, WC_STATUSES, parseFaultPlan, parseFaultRule } from './fault-plan.js';
export type {
  DelayRule,
  DropConnectionRule,
  FaultPlan,
  FaultRule,
  FaultScope,
  QpErrorRule,
  RnrStormRule,
  StopAnsweringRule,
} from './fault-plan.js';
export { COUNTED_OPCODES } from './counters.js';
export type { CountedOpcode, VerbsCounters } from './counters.js';
export type { FabricTraceEvent, FabricTraceKind, TraceFieldValue } from './trace.js';
export type { RandomSource } from './random.js';
export { recordFabricTrace } from './event-log-bridge.js';
export { FabricError } from './errors.js';
export type { FabricErrorCode } from './errors.js';
