/**
 * Memory registration for soft-RoCE: regions, protection domains, and a device's key table.
 *
 * Keys have rxe's shape, `index << 8 | key` (rxe `rxe_mr_init`), with the starting index and the key byte drawn
 * from the seed; as in rxe the rkey is 0 for a region without remote access, and lkey equals rkey otherwise.
 * Addresses are per protection domain, page aligned, from a seeded base (rxe uses the user's virtual address).
 */
import { Access, VerbsError } from '../../../transports/verbs.js';
import type { MemoryRegion, ProtectionDomain } from '../../../transports/verbs.js';
import type { SeededRandom } from '../../clock/random.js';
import { KeyTable } from '../../common/key-table.js';

const PAGE = 4096n;
const ALL_ACCESS = Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_READ;
const REMOTE_ACCESS = Access.REMOTE_WRITE | Access.REMOTE_READ;

/**
 * A device's regions by key: rkeys are per device, so a lookup can find another connection's region. Indexed by
 * lkey; rkey lookups must also check {@link SoftRoceMemoryRegion.rkey}.
 */
export class MemoryKeyTable extends KeyTable<SoftRoceMemoryRegion> {
  /** Keys start at a seeded index. */
  constructor(random: SeededRandom) {
    super(random, (mr) => mr.lkey);
  }
}

/** What the responder may do to the memory of its protection domain. */
export interface RdmaMemory {
  /** The valid region of this domain reachable by `rkey` with all of `access`, or undefined. */
  lookup(rkey: number, access: number): SoftRoceMemoryRegion | undefined;
  /** SEND_WITH_INV: invalidates the invalidatable region of this domain with `rkey`; false when there is none. */
  invalidate(rkey: number): boolean;
}

/** True when `buffer` looks like a slice of Node's shared allocation pool (`Buffer.allocUnsafe` of a small size). */
function isPooledSlab(buffer: Buffer): boolean {
  return buffer.buffer.byteLength === Buffer.poolSize && buffer.byteLength < Buffer.poolSize >>> 1;
}

/** A registered region. */
export class SoftRoceMemoryRegion implements MemoryRegion {
  readonly buffer: Buffer;
  readonly addr: bigint;
  readonly length: number;
  readonly lkey: number;
  readonly rkey: number;
  readonly access: number;
  /** The peer may invalidate it with SEND_WITH_INV (a fast-registration region in rxe). */
  readonly invalidatable: boolean;
  /** The protection domain it belongs to. */
  readonly pd: SoftRoceProtectionDomain;
  #valid = true;

  /** Registered by {@link SoftRoceProtectionDomain.register}. */
  constructor(
    pd: SoftRoceProtectionDomain,
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
    this.rkey = (access & REMOTE_ACCESS) !== 0 ? key : 0;
    this.access = access;
    this.invalidatable = invalidatable;
  }

  get valid(): boolean {
    return this.#valid;
  }

  deregister(): void {
    this.invalidate();
  }

  /** Ends the registration; idempotent. */
  invalidate(): void {
    if (!this.#valid) return;
    this.#valid = false;
    this.pd.forget(this);
  }

  /** True when `[addr, addr + length)` lies inside the region. */
  covers(addr: bigint, length: number): boolean {
    return addr >= this.addr && addr + BigInt(length) <= this.addr + BigInt(this.length);
  }
}

/** A connection's protection domain, and the responder's view of its memory. */
export class SoftRoceProtectionDomain implements ProtectionDomain, RdmaMemory {
  readonly #keys: MemoryKeyTable;
  readonly #regions = new Set<SoftRoceMemoryRegion>();
  readonly #onChange: ((what: 'register' | 'deregister', mr: SoftRoceMemoryRegion) => void) | undefined;
  #nextAddr: bigint;
  #closed = false;

  /** A domain on the device whose keys are `keys`; `random` picks its address base. */
  constructor(
    keys: MemoryKeyTable,
    random: SeededRandom,
    onChange?: (what: 'register' | 'deregister', mr: SoftRoceMemoryRegion) => void,
  ) {
    this.#keys = keys;
    this.#onChange = onChange;
    // A 16 MiB-aligned base somewhere in a 47-bit user address space.
    this.#nextAddr = BigInt(random.int(0x100, 0x7fffff)) << 24n;
  }

  register(buffer: Buffer, access: number, options?: { readonly invalidatable?: boolean }): SoftRoceMemoryRegion {
    if (this.#closed) {
      throw new VerbsError('ERR_VERBS_CLOSED', 'the connection owning this protection domain is closed');
    }
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
    const mr = new SoftRoceMemoryRegion(
      this,
      buffer,
      addr,
      this.#keys.allocate(),
      access,
      options?.invalidatable === true,
    );
    this.#regions.add(mr);
    this.#keys.add(mr);
    this.#onChange?.('register', mr);
    return mr;
  }

  lookup(rkey: number, access: number): SoftRoceMemoryRegion | undefined {
    const mr = this.#keys.lookup(rkey);
    if (mr?.pd !== this || mr.rkey !== rkey || !mr.valid || (mr.access & access) !== access) return undefined;
    return mr;
  }

  invalidate(rkey: number): boolean {
    const mr = this.#keys.lookup(rkey);
    if (mr?.pd !== this || mr.rkey !== rkey || !mr.valid || !mr.invalidatable) return false;
    mr.invalidate();
    return true;
  }

  /** Called by a region that stops being valid. */
  forget(mr: SoftRoceMemoryRegion): void {
    this.#regions.delete(mr);
    this.#keys.remove(mr);
    this.#onChange?.('deregister', mr);
  }

  /** Tears the domain down with its connection: every region left is deregistered. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const mr of [...this.#regions]) mr.invalidate();
  }
}
