/**
 * Protection domain and memory regions of one native connection.
 *
 * Registered Buffers must own their memory: `Buffer.alloc` or `Buffer.allocUnsafeSlow`, never a slice of Node's
 * shared 8 KiB pool (`Buffer.allocUnsafe`/`Buffer.from` of small sizes), whose other bytes belong to unrelated
 * objects. Registration pins the pages synchronously; register once and reuse. An invalidatable region is a
 * type-2 memory window bound over a region that only the window exposes, so SEND_WITH_INV can revoke it.
 */
import { Access, type MemoryRegion, type ProtectionDomain, type Sge, VerbsError } from '../transports/verbs.js';
import type { Addon, AddonMr, AddonMw, AddonPd, AddonSge } from './addon.js';
import { verbsError } from './errors.js';

/** What a protection domain needs from its connection. */
export interface RegionHost {
  /** False once the connection is torn down. */
  readonly open: boolean;
  /** Posts an (unsignaled) BIND_MW of `mw` over `length` bytes of `mr` on the connection's send queue. */
  bindWindow(mw: AddonMw, mr: AddonMr, length: number, access: number): void;
}

/** A region registered through {@link NativeProtectionDomain}. */
export class NativeMemoryRegion implements MemoryRegion {
  readonly addr: bigint;
  readonly length: number;
  readonly lkey: number;
  readonly rkey: number;
  private live = true;
  private released = false;

  /** @internal Use {@link NativeProtectionDomain.register}. */
  constructor(
    readonly buffer: Buffer,
    readonly access: number,
    private readonly mr: AddonMr,
    private readonly mw: AddonMw | undefined,
    private readonly owner: NativeProtectionDomain,
  ) {
    this.addr = mr.addr;
    this.length = buffer.byteLength;
    this.lkey = mr.lkey;
    this.rkey = mw?.rkey ?? mr.rkey;
  }

  get valid(): boolean {
    return this.live;
  }

  deregister(): void {
    this.release();
    this.owner.forget(this);
  }

  /** @internal The peer invalidated our rkey (SEND_WITH_INV): the window is dead, the pages stay pinned. */
  invalidate(): void {
    this.live = false;
  }

  /** @internal The addon SGE for `sge`, or an ERR_VERBS_INVALID_WR when it is outside this region. */
  toAddonSge(sge: Sge): AddonSge {
    if (!this.live) throw new VerbsError('ERR_VERBS_INVALID_WR', 'SGE names a deregistered or invalidated region');
    if (
      !Number.isSafeInteger(sge.offset) ||
      !Number.isSafeInteger(sge.length) ||
      sge.offset < 0 ||
      sge.length < 0 ||
      sge.offset + sge.length > this.length
    ) {
      throw new VerbsError(
        'ERR_VERBS_INVALID_WR',
        `SGE [${sge.offset}, +${sge.length}) is outside its ${this.length}-byte region`,
      );
    }
    return { mr: this.mr, offset: sge.offset, length: sge.length };
  }

  /** @internal Frees the window and the registration; idempotent, errors ignored (teardown). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.live = false;
    try {
      this.mw?.dealloc();
    } catch {
      // the window goes with the PD anyway
    }
    try {
      this.mr.dereg();
    } catch {
      // EBUSY cannot happen once the window is gone; nothing else to do
    }
  }
}

/** Whether `buffer` is a view into Node's shared allocation pool (other objects live in the same pages). */
function isPooledSlice(buffer: Buffer): boolean {
  return buffer.byteLength !== buffer.buffer.byteLength && buffer.buffer.byteLength === Buffer.poolSize;
}

/** The protection domain a native connection owns. */
export class NativeProtectionDomain implements ProtectionDomain {
  private readonly regions = new Set<NativeMemoryRegion>();

  /** @internal Created with its connection. */
  constructor(
    private readonly addon: Addon,
    readonly pd: AddonPd,
    private readonly host: RegionHost,
  ) {}

  register(buffer: Buffer, access: number, options?: { readonly invalidatable?: boolean }): MemoryRegion {
    if (!this.host.open) throw new VerbsError('ERR_VERBS_CLOSED', 'register: the connection is closed');
    if (!Buffer.isBuffer(buffer) || buffer.byteLength === 0) {
      throw new VerbsError('ERR_VERBS_REGISTER', 'register: need a non-empty Buffer', { errno: 'EINVAL' });
    }
    if (isPooledSlice(buffer)) {
      throw new VerbsError(
        'ERR_VERBS_REGISTER',
        'register: buffer is a slice of Node’s shared pool; allocate it with Buffer.alloc or Buffer.allocUnsafeSlow',
        { errno: 'EINVAL' },
      );
    }
    const c = this.addon.verbsConstants;
    let remote = 0;
    if ((access & Access.REMOTE_WRITE) !== 0) remote |= c.IBV_ACCESS_REMOTE_WRITE;
    if ((access & Access.REMOTE_READ) !== 0) remote |= c.IBV_ACCESS_REMOTE_READ;
    // Remote write (through the region or a window over it) needs local write on the region itself.
    const local = (access & (Access.LOCAL_WRITE | Access.REMOTE_WRITE)) !== 0 ? c.IBV_ACCESS_LOCAL_WRITE : 0;

    let region: NativeMemoryRegion;
    if (options?.invalidatable === true) {
      // Only the window grants remote access, so revoking the window revokes it all.
      const mr = this.reg(buffer, local | c.IBV_ACCESS_MW_BIND);
      let mw: AddonMw;
      try {
        mw = this.pd.allocMw();
        this.host.bindWindow(mw, mr, buffer.byteLength, remote);
      } catch (err) {
        mr.dereg();
        throw err instanceof VerbsError ? err : verbsError('ERR_VERBS_REGISTER', 'memory window', err);
      }
      region = new NativeMemoryRegion(buffer, access, mr, mw, this);
    } else {
      region = new NativeMemoryRegion(buffer, access, this.reg(buffer, local | remote), undefined, this);
    }
    this.regions.add(region);
    return region;
  }

  /** @internal The region, if it belongs to this PD. */
  own(mr: MemoryRegion): NativeMemoryRegion | undefined {
    return mr instanceof NativeMemoryRegion && this.regions.has(mr) ? mr : undefined;
  }

  /** @internal Marks the region the peer invalidated. */
  invalidateRkey(rkey: number): void {
    for (const r of this.regions) if (r.rkey === rkey) r.invalidate();
  }

  /** @internal Drops a region after its deregistration. */
  forget(region: NativeMemoryRegion): void {
    this.regions.delete(region);
  }

  /** @internal Teardown: every region, then the PD itself. */
  releaseAll(): void {
    for (const r of this.regions) r.release();
    this.regions.clear();
    try {
      this.pd.dealloc();
    } catch {
      // EBUSY would mean a leak in rdma-core's accounting; the process exit reclaims it
    }
  }

  private reg(buffer: Buffer, flags: number): AddonMr {
    try {
      return this.pd.regMr(buffer, flags);
    } catch (err) {
      throw verbsError('ERR_VERBS_REGISTER', 'ibv_reg_mr', err);
    }
  }
}
