/**
 * Backend spec strings, as the CLI takes them: `mem:256M` (a sparse memory LUN) and `file:/path[:size]` (a file,
 * created or extended to `size` when one is given). Sizes are bytes with an optional binary suffix K, M, G or T.
 */
import type { BlockBackend } from '../protocol/scsi/backend.js';
import { BackendError } from './errors.js';
import { FileBackend } from './file.js';
import { MemoryBackend } from './memory.js';

/** A parsed backend spec. */
export type BackendSpec =
  | {
      readonly kind: 'mem';
      /** Size in bytes. */
      readonly bytes: number;
    }
  | {
      readonly kind: 'file';
      /** File path (may itself contain colons). */
      readonly path: string;
      /** Size in bytes, when given. */
      readonly bytes?: number;
    };

const SUFFIX: Readonly<Record<string, number>> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };
const SIZE = /^(\d+)([KMGT]?)$/i;

/** Parses `512`, `64K`, `256M`, `2G`, `1T` (binary multiples) to bytes. */
export function parseSize(text: string): number {
  const match = SIZE.exec(text.trim());
  if (match === null) {
    throw new BackendError('ERR_BACKEND_SPEC', `size "${text}" is not a number with an optional K, M, G or T suffix`);
  }
  const bytes = Number(match[1]) * (SUFFIX[(match[2] ?? '').toUpperCase()] ?? 1);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new BackendError('ERR_BACKEND_SIZE', `size "${text}" must be positive and below 2^53 bytes`);
  }
  return bytes;
}

/** Parses a backend spec string. */
export function parseBackendSpec(spec: string): BackendSpec {
  const colon = spec.indexOf(':');
  const kind = colon === -1 ? spec : spec.slice(0, colon);
  const rest = colon === -1 ? '' : spec.slice(colon + 1);
  if (kind === 'mem') {
    if (rest === '')
      throw new BackendError('ERR_BACKEND_SPEC', `"${spec}": a memory backend needs a size, e.g. mem:256M`);
    return { kind: 'mem', bytes: parseSize(rest) };
  }
  if (kind === 'file') {
    // The size is an optional last ":<size>"; anything else after the last colon belongs to the path.
    const last = rest.lastIndexOf(':');
    const tail = last === -1 ? '' : rest.slice(last + 1);
    const hasSize = last !== -1 && SIZE.test(tail);
    const path = hasSize ? rest.slice(0, last) : rest;
    if (path === '')
      throw new BackendError('ERR_BACKEND_SPEC', `"${spec}": a file backend needs a path, e.g. file:/srv/lun0.img`);
    return hasSize ? { kind: 'file', path, bytes: parseSize(tail) } : { kind: 'file', path };
  }
  throw new BackendError(
    'ERR_BACKEND_SPEC',
    `"${spec}": unknown backend "${kind}" (expected mem:<size> or file:<path>[:<size>])`,
  );
}

/** Options of {@link openBackend}. */
export interface OpenBackendOptions {
  /** Logical block size in bytes (default 512). */
  readonly blockSize?: number;
}

/** Builds the backend a spec (string or parsed) describes. */
export async function openBackend(spec: string | BackendSpec, options: OpenBackendOptions = {}): Promise<BlockBackend> {
  const parsed = typeof spec === 'string' ? parseBackendSpec(spec) : spec;
  const blockSize = options.blockSize ?? 512;
  if (parsed.bytes !== undefined && parsed.bytes % blockSize !== 0) {
    throw new BackendError('ERR_BACKEND_SIZE', `size ${parsed.bytes} is not a multiple of the ${blockSize}-byte block`);
  }
  if (parsed.kind === 'mem') return new MemoryBackend(parsed.bytes / blockSize, { blockSize });
  return FileBackend.open(parsed.path, { blockSize, ...(parsed.bytes !== undefined && { size: parsed.bytes }) });
}
