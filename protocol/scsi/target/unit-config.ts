/**
 * A logical unit's identity (INQUIRY strings, serial number, NAA designator) and limits (the Block Limits VPD
 * page), with defaults and validation.
 */
import { ScsiTargetError } from '../errors.js';

/** What INQUIRY and the identification VPD pages say about a unit. */
export interface UnitIdentity {
  /** T10 VENDOR IDENTIFICATION, at most 8 printable ASCII characters. */
  readonly vendor: string;
  /** PRODUCT IDENTIFICATION, at most 16. */
  readonly product: string;
  /** PRODUCT REVISION LEVEL, at most 4. */
  readonly revision: string;
  /** PRODUCT SERIAL NUMBER (VPD 80h); also seeds the NAA designator, so make it unique per unit. */
  readonly serial: string;
  /** IEEE company ID for an NAA 6 designator; without it the designator is NAA 3 (locally assigned). */
  readonly naaCompanyId?: number;
}

/** The Block Limits the unit enforces and reports (VPD B0h), in blocks. */
export interface UnitLimits {
  /** MAXIMUM TRANSFER LENGTH: longer READ/WRITE/VERIFY commands get INVALID FIELD IN CDB. */
  readonly maxTransferLength: number;
  /** OPTIMAL TRANSFER LENGTH GRANULARITY. */
  readonly optimalTransferLengthGranularity: number;
  /** MAXIMUM COMPARE AND WRITE LENGTH (at most 255). */
  readonly maxCompareAndWriteLength: number;
  /** MAXIMUM UNMAP LBA COUNT (total over one UNMAP command). */
  readonly maxUnmapLbaCount: number;
  /** MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT. */
  readonly maxUnmapBlockDescriptorCount: number;
  /** OPTIMAL UNMAP GRANULARITY. */
  readonly optimalUnmapGranularity: number;
  /** MAXIMUM WRITE SAME LENGTH. */
  readonly maxWriteSameLength: number;
}

let serialCounter = 0;

/** Logical block provisioning as a unit reports it; {@link PROVISIONING} is what every unit reports. */
export interface Provisioning {
  /** LBPME (READ CAPACITY(16)): logical block provisioning management is enabled. */
  readonly lbpme: boolean;
  /** LBPU (VPD B2h): UNMAP is supported. */
  readonly lbpu: boolean;
  /** LBPWS (VPD B2h): WRITE SAME(16) with UNMAP=1 unmaps. */
  readonly lbpws: boolean;
  /** LBPWS10 (VPD B2h): WRITE SAME(10) with UNMAP=1 unmaps. */
  readonly lbpws10: boolean;
  /** LBPRZ (READ CAPACITY(16), VPD B2h): unmapped blocks read as zeros (the BlockBackend contract). */
  readonly lbprz: boolean;
}

/** What every unit reports, and what the commands act on (WRITE SAME with UNMAP reads these). */
export const PROVISIONING: Provisioning = { lbpme: true, lbpu: true, lbpws: true, lbpws10: true, lbprz: true };

/** Fills in identity defaults (a fresh serial number per unit) and checks the strings. */
export function resolveIdentity(identity: Partial<UnitIdentity> = {}): UnitIdentity {
  const resolved: UnitIdentity = {
    vendor: identity.vendor ?? 'ISER',
    product: identity.product ?? 'SBC Logical Unit',
    revision: identity.revision ?? '0001',
    serial: identity.serial ?? `iser${(++serialCounter).toString(16).padStart(8, '0')}`,
    ...(identity.naaCompanyId !== undefined && { naaCompanyId: identity.naaCompanyId }),
  };
  const ascii = (text: string, max: number, field: string): void => {
    if (!/^[\x20-\x7e]*$/.test(text) || text.length > max) {
      throw new ScsiTargetError('ERR_SCSI_TARGET_CONFIG', `${field} must be at most ${max} printable ASCII characters`);
    }
  };
  ascii(resolved.vendor, 8, 'vendor');
  ascii(resolved.product, 16, 'product');
  ascii(resolved.revision, 4, 'revision');
  ascii(resolved.serial, 252, 'serial');
  if (resolved.serial === '') throw new ScsiTargetError('ERR_SCSI_TARGET_CONFIG', 'serial must not be empty');
  const id = resolved.naaCompanyId;
  if (id !== undefined && (!Number.isInteger(id) || id < 0 || id > 0xff_ffff)) {
    throw new ScsiTargetError('ERR_SCSI_TARGET_CONFIG', 'naaCompanyId must be a 24-bit IEEE company ID');
  }
  return resolved;
}

/** Default limits for a block size: 32 MiB transfers, 4 KiB granularity, 1 Mi-block unmaps. */
export function defaultLimits(blockSize: number): UnitLimits {
  const maxTransferLength = Math.max(1, Math.floor((32 * 1024 * 1024) / blockSize));
  return {
    maxTransferLength,
    optimalTransferLengthGranularity: Math.max(1, Math.floor(4096 / blockSize)),
    maxCompareAndWriteLength: Math.min(255, maxTransferLength),
    maxUnmapLbaCount: 0x10_0000,
    maxUnmapBlockDescriptorCount: 256,
    optimalUnmapGranularity: 1,
    maxWriteSameLength: maxTransferLength,
  };
}

/** Merges limits over the defaults for `blockSize` and checks them. */
export function resolveLimits(blockSize: number, limits: Partial<UnitLimits> = {}): UnitLimits {
  const base = defaultLimits(blockSize);
  const maxTransferLength = limits.maxTransferLength ?? base.maxTransferLength;
  // A COMPARE AND WRITE moves its blocks twice; by default it may be as long as a transfer (at most 255).
  const resolved = { ...base, maxCompareAndWriteLength: Math.min(255, maxTransferLength), ...limits };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isInteger(value) || value < 1 || value > 0xffff_ffff) {
      throw new ScsiTargetError('ERR_SCSI_TARGET_CONFIG', `limit ${name} must be an integer in [1, 2^32 - 1]`);
    }
  }
  if (resolved.maxCompareAndWriteLength > 255) {
    throw new ScsiTargetError('ERR_SCSI_TARGET_CONFIG', 'maxCompareAndWriteLength is at most 255');
  }
  return resolved;
}

/** FNV-1a, 64 bits: a stable hash to derive designators from a serial number. */
function fnv1a64(text: string, seed: bigint): bigint {
  let hash = 0xcbf2_9ce4_8422_2325n ^ seed;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100_0000_01b3n) & 0xffff_ffff_ffff_ffffn;
  }
  return hash;
}

/**
 * The NAA designator of a unit: NAA 6 (IEEE registered extended, 16 bytes) with a company ID, else NAA 3
 * (locally assigned, 8 bytes). The rest is a hash of the serial number, so it is stable across restarts.
 */
export function naaDesignator(identity: UnitIdentity): Buffer {
  const hash = fnv1a64(identity.serial, 0n);
  if (identity.naaCompanyId === undefined) {
    const buf = Buffer.alloc(8);
    buf.writeBigUInt64BE((0x3n << 60n) | (hash & 0x0fff_ffff_ffff_ffffn));
    return buf;
  }
  const buf = Buffer.alloc(16);
  // NAA (4 bits) | IEEE COMPANY ID (24) | VENDOR SPECIFIC IDENTIFIER (36) | EXTENSION (64)
  const head = (0x6n << 60n) | (BigInt(identity.naaCompanyId) << 36n) | (hash >> 28n);
  buf.writeBigUInt64BE(head, 0);
  buf.writeBigUInt64BE(fnv1a64(identity.serial, 0x5a5a_5a5an), 8);
  return buf;
}
