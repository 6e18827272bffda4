/**
 * Registering caller memory: in place when the provider accepts the buffer (zero copy), otherwise, and only then,
 * through a registered bounce buffer (one counted copy). Providers refuse, for example, slices of Node's shared
 * allocation pool (`Buffer.allocUnsafe` of small sizes, `Buffer.from(string)`): their pages are shared with
 * unrelated objects, so exposing them to a peer would leak memory outside the caller's buffer.
 */
import { VerbsError, type MemoryRegion, type ProtectionDomain } from '../verbs.js';
import { iserError } from './errors.js';

/** What registration cost so far. */
export interface RegistrationStats {
  /** Regions registered in place (caller buffers, zero copy). */
  inPlace: number;
  /** Bounce buffers registered. */
  bounced: number;
  /** Payload bytes copied into or out of bounce buffers. */
  bounceBytes: number;
}

/** Registers caller memory for one connection. */
export class Registrar {
  /** Running totals. */
  readonly stats: RegistrationStats = { inPlace: 0, bounced: 0, bounceBytes: 0 };

  constructor(
    private readonly pd: ProtectionDomain,
    private readonly allowInvalidate: boolean,
  ) {}

  /**
   * Registers `buffer` itself, or returns undefined when the provider will not (the caller then bounces).
   * `remote` regions may be invalidated by the peer's Send with Invalidate when that was agreed.
   */
  inPlace(buffer: Buffer, access: number, remote: boolean): MemoryRegion | undefined {
    if (buffer.length === 0) return undefined;
    try {
      const mr = this.pd.register(buffer, access, { invalidatable: remote && this.allowInvalidate });
      this.stats.inPlace++;
      return mr;
    } catch (err) {
      if (err instanceof VerbsError && err.code === 'ERR_VERBS_REGISTER') return undefined;
      throw err;
    }
  }

  /** A new registered buffer of `length` bytes (filled by `fill`, whose copied bytes are counted). */
  bounce(length: number, access: number, remote: boolean, fill?: (buffer: Buffer) => number): MemoryRegion {
    const buffer = Buffer.alloc(length);
    const copied = fill?.(buffer) ?? 0;
    try {
      const mr = this.pd.register(buffer, access, { invalidatable: remote && this.allowInvalidate });
      this.stats.bounced++;
      this.stats.bounceBytes += copied;
      return mr;
    } catch (err) {
      throw iserError('ERR_ISER_RESOURCES', `cannot register a ${length}-byte buffer: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }

  /** Registers a buffer of our own (e.g. where an RDMA Read lands); throws ERR_ISER_RESOURCES when it cannot. */
  own(buffer: Buffer, access: number): MemoryRegion {
    try {
      return this.pd.register(buffer, access);
    } catch (err) {
      throw iserError('ERR_ISER_RESOURCES', `cannot register a ${buffer.length}-byte buffer: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }

  /** Counts bytes copied out of a bounce buffer (a read that had to land in unregistrable memory). */
  countCopyBack(bytes: number): void {
    this.stats.bounceBytes += bytes;
  }
}

/** Deregisters regions, ignoring the ones already gone (invalidated by the peer, torn down with the connection). */
export function releaseAll(regions: readonly MemoryRegion[], except?: number): void {
  for (const mr of regions) {
    if (!mr.valid || mr.rkey === except) continue;
    try {
      mr.deregister();
    } catch {
      // A region of a closed connection: nothing left to release.
    }
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
