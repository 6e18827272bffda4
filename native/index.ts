/**
 * The native Verbs provider (rdma-core through a node-addon-api addon) and the probe that says whether it can
 * run here. Build the addon with `npm run build:native`; without it, or without an RDMA device, {@link probe}
 * explains why and {@link NativeVerbs.open} throws ERR_VERBS_UNAVAILABLE with that reason.
 */
export { probe, type NativeDevice, type ProbeResult } from './probe.js';
export { NativeVerbs, type NativeVerbsOptions } from './provider.js';
export { NativeError, type NativeErrorCode } from './errors.js';
export { setsockoptInt, LinuxSocketOption } from './sockets.js';
