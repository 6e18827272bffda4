/**
 * Checks of connect/accept arguments, with rdma_cm's limits: private data of at most 56 bytes in a REQ (92 minus
 * rdma_cm's header), 196 in a REP, 148 in a REJ; retry counts of 3 bits; queue sizes within the device's.
 */
import { VerbsError } from '../../transports/verbs.js';
import type { QpCapabilities, RdmaAddress, VerbsCapabilities } from '../../transports/verbs.js';

/** Private data limits of the CM messages, in bytes, as rdma_cm users see them. */
export const PRIVATE_DATA_LIMITS = { REQ: 56, REP: 196, REJ: 148 } as const;

function invalid(message: string): VerbsError {
  return new VerbsError('ERR_VERBS_INVALID_WR', message, { errno: 'EINVAL' });
}

/** Throws unless `data` fits the CM message `kind`. */
export function checkPrivateData(data: Buffer | undefined, kind: keyof typeof PRIVATE_DATA_LIMITS): Buffer {
  if (data === undefined) return Buffer.alloc(0);
  if (!Buffer.isBuffer(data)) throw invalid(`${kind} private data must be a Buffer`);
  const limit = PRIVATE_DATA_LIMITS[kind];
  if (data.length > limit) throw invalid(`${kind} private data is ${data.length} bytes; at most ${limit} fit`);
  return Buffer.from(data); // the peer gets its own copy, as from the wire
}

/** Throws unless the queue sizes are within the device's limits. */
export function checkQpCapabilities(qp: QpCapabilities, caps: VerbsCapabilities): void {
  const within = (value: number, max: number, name: string): void => {
    if (!Number.isInteger(value) || value < 0 || value > max) throw invalid(`${name} must be an integer in 0..${max}`);
  };
  within(qp.maxSendWr, caps.maxQpWr, 'qp.maxSendWr');
  within(qp.maxRecvWr, caps.maxQpWr, 'qp.maxRecvWr');
  within(qp.maxSendSge, caps.maxSge, 'qp.maxSendSge');
  within(qp.maxRecvSge, caps.maxSge, 'qp.maxRecvSge');
}

/** `value`, or `fallback` when undefined, checked to be an integer in [0, max]. */
export function optionIn(value: number | undefined, fallback: number, max: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 0 || v > max) throw invalid(`${name} must be an integer in 0..${max}, got ${v}`);
  return v;
}

/** Throws unless `address` is a host name and a port in 0..65535. */
export function checkAddress(address: RdmaAddress): void {
  if (typeof address.host !== 'string' || address.host === '') throw invalid('address.host must be a non-empty string');
  if (!Number.isInteger(address.port) || address.port < 0 || address.port > 65535) {
    throw invalid(`address.port must be an integer in 0..65535, got ${address.port}`);
  }
}

/** A rejected promise for a thrown value (verbs calls report argument errors as rejections). */
export function rejected(error: unknown): Promise<never> {
  return Promise.reject(error instanceof Error ? error : new Error(String(error)));
}
