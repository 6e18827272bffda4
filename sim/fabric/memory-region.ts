/**
 * Memory registration on the fabric: regions, protection domains, and each host's key table (rkeys are per
 * device, as on a real HCA, so a peer's lookup can find a region of another connection and must reject it).
 *
 * Keys follow rxe's shape, `index << 8 | key`, with the starting index and the key bytes drawn from the seed;
 * addresses are per protection domain, page aligned, from a seeded base. The same seed gives the same keys.
 */
import { Access, VerbsError } from '../../transports/verbs.js';
import type { MemoryRegion, ProtectionDomain } from '../../transports/verbs.js';
import type { RandomSource } from './random.js';
import { hexAddress } from './trace.js';
import type { TraceFieldValue } from './trace.js';
import { KeyTable } from '../common/key-table.js';

const PAGE = 4096n;
const ALL_ACCESS = Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_READ;

/** Why a region stopped being valid. */
export type InvalidationCause = 'deregister' | 'remote-invalidate' | 'teardown';

/** A host's table of live regions by rkey. */
export class MemoryKeyTable extends KeyTable<SimMemoryRegion> {
  constructor(random: RandomSource) {
    super(random, (mr) => mr.rkey);
  }
}

/** Where a protection domain reports what happens to its regions. */
export type RegionTrace = (
  kind: 'mr.register' | 'mr.deregister' | 'mr.invalidate',
  fields: Record<string, TraceFieldValue>,
) => void;

/** True when `buffer` looks like a slice of Node's shared allocation pool (`Buffer.allocUnsafe` of a small size). */
function isPooledSlab(buffer: Buffer): boolean {
  return buffer.buffer.byteLength === Buffer.poolSize && buffer.byteLength < Buffer.poolSize >>> 1;
}

/** A registered region of the fabric. */
export class SimMemoryRegion implements MemoryRegion {
  readonly buffer: Buffer;
  readonly addr: bigint;
  readonly length: number;
  readonly lkey: number;
  readonly rkey: number;
  readonly access: number;
  /** The peer may invalidate it with SEND_WITH_INV. */
  readonly invalidatable: boolean;
  /** The protection domain it belongs to. */
  readonly pd: SimProtectionDomain;
  #valid = true;

  constructor(
    pd: SimProtectionDomain,
    buffer: Buffer,
    addr: bigint,
    key: number,
    access: number,
    invalidatable: boolean,
  ) {
    this.pd = pd;
    this.buffer = buffer;
    this.addr = addr;
    this.length = buffer.length;
    this.lkey = key;
    this.rkey = key;
    this.access = access;
    this.invalidatable = invalidatable;
  }

  get valid(): boolean {
    return this.#valid;
  }

  deregister(): void {
    this.invalidate('deregister');
  }

  /** Ends the registration; idempotent. */
  invalidate(cause: InvalidationCause): void {
    if (!this.#valid) return;
    this.#valid = false;
    this.pd.forget(this, cause);
  }

  /** True when `[addr, addr + length)` lies inside the region. */
  covers(addr: bigint, length: number): boolean {
    return addr >= this.addr && addr + BigInt(length) <= this.addr + BigInt(this.length);
  }
}

/** A connection's protection domain. */
export class SimProtectionDomain implements ProtectionDomain {
  readonly #keys: MemoryKeyTable;
  readonly #trace: RegionTrace;
  readonly #regions = new Set<SimMemoryRegion>();
  #nextAddr: bigint;
  #closed = false;

  constructor(keys: MemoryKeyTable, random: RandomSource, trace: RegionTrace) {
    this.#keys = keys;
    this.#trace = trace;
    // A 16 MiB-aligned base somewhere in a 43-bit user address space.
    this.#nextAddr = BigInt(random.int(1, 0x7ffff)) << 24n;
  }

  register(buffer: Buffer, access: number, options?: { readonly invalidatable?: boolean }): SimMemoryRegion {
    if (this.#closed)
      throw new VerbsError('ERR_VERBS_CLOSED', 'the connection owning this protection domain is closed');
    if (!Buffer.isBuffer(buffer) || buffer.length === 0) {
      throw new VerbsError('ERR_VERBS_REGISTER', 'can only register a non-empty Buffer', { errno: 'EINVAL' });
    }
    if (isPooledSlab(buffer)) {
      throw new VerbsError(
        'ERR_VERBS_REGISTER',
        'refusing to register a slice of Node’s shared Buffer pool (allocate with Buffer.alloc)',
        { errno: 'EINVAL' },
      );
    }
    if (!Number.isInteger(access) || (access & ~ALL_ACCESS) !== 0) {
      throw new VerbsError('ERR_VERBS_REGISTER', `unknown access flags ${access}`, { errno: 'EINVAL' });
    }
    if ((access & Access.REMOTE_WRITE) !== 0 && (access & Access.LOCAL_WRITE) === 0) {
      throw new VerbsError('ERR_VERBS_REGISTER', 'REMOTE_WRITE requires LOCAL_WRITE (as ibv_reg_mr demands)', {
        errno: 'EINVAL',
      });
    }
    const addr = this.#nextAddr;
    const pages = (BigInt(buffer.length) + PAGE - 1n) / PAGE;
    this.#nextAddr += (pages + 1n) * PAGE; // a guard page between regions
    const mr = new SimMemoryRegion(this, buffer, addr, this.#keys.allocate(), access, options?.invalidatable === true);
    this.#regions.add(mr);
    this.#keys.add(mr);
    this.#trace('mr.register', {
      rkey: mr.rkey,
      addr: hexAddress(addr),
      length: mr.length,
      access,
      invalidatable: mr.invalidatable,
    });
    return mr;
  }

  /** Called by a region that stops being valid. */
  forget(mr: SimMemoryRegion, cause: InvalidationCause): void {
    this.#regions.delete(mr);
    this.#keys.remove(mr);
    this.#trace(cause === 'remote-invalidate' ? 'mr.invalidate' : 'mr.deregister', { rkey: mr.rkey, cause });
  }

  /** Tears the domain down with its connection: every region left is deregistered. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const mr of [...this.#regions]) mr.invalidate('teardown');
  }
}
