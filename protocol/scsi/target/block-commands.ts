/**
 * The SBC-3 commands that touch the medium: READ, WRITE, WRITE AND VERIFY, VERIFY, COMPARE AND WRITE, WRITE SAME,
 * UNMAP, GET LBA STATUS, PRE-FETCH, SYNCHRONIZE CACHE. Each checks its CDB (fields, transfer length limit, LBA
 * range, write protection) before pulling any data-out, and takes the LBA range lock for the backend I/O:
 * shared to read, exclusive to write, so overlapping writes never mix within a block and COMPARE AND WRITE is
 * atomic against every other write.
 */
import type { BackendWriteOptions, LbaRange } from '../backend.js';
import { concatChunks } from '../bytes.js';
import type {
  CompareAndWriteCdb,
  GetLbaStatusCdb,
  PreFetchCdb,
  ReadCdb,
  SynchronizeCacheCdb,
  UnmapCdb,
  VerifyCdb,
  WriteAndVerifyCdb,
  WriteCdb,
  WriteSameCdb,
} from '../cdb/types.js';
import { encodeLbaStatus, ProvisioningStatus, type LbaStatusDescriptor } from '../data/lba-status.js';
import { AdditionalSense, SenseKey } from '../sense-codes.js';
import { ScsiStatus } from '../status.js';
import {
  checkCondition,
  invalidFieldInCdb,
  invalidFieldInParameterList,
  lbaOutOfRange,
  miscompare,
  parameterListLengthError,
} from './conditions.js';
import type { ScsiResponse } from './types.js';
import { PROVISIONING } from './unit-config.js';
import type { Invocation, UnitContext } from './unit-context.js';

const GOOD: ScsiResponse = { status: ScsiStatus.Good };

/** Most blocks handed to the backend in one write while carrying out WRITE SAME. */
const WRITE_SAME_BATCH_BYTES = 1024 * 1024;

/** Most blocks one GET LBA STATUS descriptor covers (bounds the backend's mapping scan). */
const LBA_STATUS_EXTENT_LIMIT = 1 << 20;

/** Most descriptors one GET LBA STATUS returns. */
const LBA_STATUS_MAX_DESCRIPTORS = 64;

/** Byte offset of the TRANSFER LENGTH field in a block CDB of this length. */
function lengthField(cdbLength: number): number {
  return cdbLength === 6 ? 4 : cdbLength === 10 ? 7 : cdbLength === 12 ? 6 : 10;
}

/** Checks `[lba, lba + blocks)` against the capacity and returns the LBA as a number. */
function checkRange(unit: UnitContext, lba: bigint, blocks: number): number {
  if (lba + BigInt(blocks) > BigInt(unit.backend.blockCount)) throw lbaOutOfRange();
  return Number(lba);
}

/** Refuses transfers longer than the MAXIMUM TRANSFER LENGTH the Block Limits page reports. */
function checkTransferLength(unit: UnitContext, blocks: number, cdbLength: number): void {
  if (blocks > unit.limits.maxTransferLength) throw invalidFieldInCdb(lengthField(cdbLength));
}

/** RDPROTECT/WRPROTECT/VRPROTECT: this unit has no protection information, so any non-zero value is invalid. */
function checkNoProtection(protect: number): void {
  if (protect !== 0) throw invalidFieldInCdb(1, 7);
}

/** DATA PROTECT when the unit is read-only (WRITE PROTECTED) or SWP is set (SOFTWARE WRITE PROTECTED). */
export function checkWritable(unit: UnitContext): void {
  if (unit.readOnly) throw checkCondition(SenseKey.DataProtect, AdditionalSense.WriteProtected);
  if (unit.mode.softwareWriteProtect) {
    throw checkCondition(SenseKey.DataProtect, AdditionalSense.LogicalUnitSoftwareWriteProtected);
  }
}

/** Runs a backend call, turning its failure into MEDIUM ERROR sense. */
async function medium<T>(kind: 'read' | 'write', call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch {
    throw checkCondition(
      SenseKey.MediumError,
      kind === 'read' ? AdditionalSense.UnrecoveredReadError : AdditionalSense.WriteError,
    );
  }
}

/** Write options for the backend: FUA when asked, or always when the write cache is disabled (WCE = 0). */
function writeOptions(unit: UnitContext, fua: boolean): BackendWriteOptions {
  return { fua: fua || !unit.mode.writeCacheEnabled };
}

/** Reads under a shared lock. */
async function readLocked(unit: UnitContext, lba: number, blocks: number): Promise<readonly Buffer[]> {
  const release = await unit.locks.acquire(lba, blocks, false);
  try {
    return await medium('read', () => unit.backend.read(lba, blocks));
  } finally {
    release();
  }
}

/** Offset of the first byte where two equally long chunk lists differ, or -1. */
function firstDifference(a: readonly Buffer[], b: readonly Buffer[]): number {
  const left = concatChunks(a);
  const right = concatChunks(b);
  if (left.equals(right)) return -1;
  const step = 4096;
  for (let offset = 0; offset < left.length; offset += step) {
    const end = Math.min(left.length, offset + step);
    if (left.subarray(offset, end).equals(right.subarray(offset, end))) continue;
    for (let i = offset; i < end; i++) if (left[i] !== right[i]) return i;
  }
  return left.length === right.length ? -1 : Math.min(left.length, right.length);
}

/** READ(6/10/12/16). */
export async function read(unit: UnitContext, cdb: ReadCdb): Promise<ScsiResponse> {
  checkNoProtection(cdb.protect);
  checkTransferLength(unit, cdb.blocks, cdb.cdbLength);
  const lba = checkRange(unit, cdb.lba, cdb.blocks);
  if (cdb.blocks === 0) return GOOD;
  // DPO and FUA need nothing more: the backend's reads already see every completed write.
  return { status: ScsiStatus.Good, dataIn: await readLocked(unit, lba, cdb.blocks) };
}

/** WRITE(6/10/12/16) and WRITE AND VERIFY(10/12/16). */
export async function write(
  unit: UnitContext,
  call: Invocation,
  cdb: WriteCdb | WriteAndVerifyCdb,
): Promise<ScsiResponse> {
  checkNoProtection(cdb.protect);
  const verify = cdb.command === 'write-and-verify';
  if (verify && cdb.bytchk > 1) throw invalidFieldInCdb(1, 2);
  checkTransferLength(unit, cdb.blocks, cdb.cdbLength);
  const lba = checkRange(unit, cdb.lba, cdb.blocks);
  checkWritable(unit);
  if (cdb.blocks === 0) return GOOD;
  const data = await call.dataOut(cdb.blocks * unit.backend.blockSize);
  const release = await unit.locks.acquire(lba, cdb.blocks, true);
  try {
    // WRITE AND VERIFY verifies the medium, so its data must be on the medium first.
    const fua = verify || cdb.fua;
    await medium('write', () => unit.backend.write(lba, data, writeOptions(unit, fua)));
    if (verify && cdb.bytchk === 1) {
      const stored = await medium('read', () => unit.backend.read(lba, cdb.blocks));
      const offset = firstDifference(data, stored);
      if (offset !== -1) throw miscompare(offset);
    }
  } finally {
    release();
  }
  return GOOD;
}

/** VERIFY(10/12/16): BYTCHK 0 checks the range only, 1 compares every block, 3 compares one block against all. */
export async function verify(unit: UnitContext, call: Invocation, cdb: VerifyCdb): Promise<ScsiResponse> {
  checkNoProtection(cdb.protect);
  if (cdb.bytchk === 2) throw invalidFieldInCdb(1, 2);
  checkTransferLength(unit, cdb.blocks, cdb.cdbLength);
  const lba = checkRange(unit, cdb.lba, cdb.blocks);
  if (cdb.blocks === 0 || cdb.bytchk === 0) return GOOD;
  const blockSize = unit.backend.blockSize;
  const sent = await call.dataOut(cdb.bytchk === 1 ? cdb.blocks * blockSize : blockSize);
  const expected: readonly Buffer[] = cdb.bytchk === 1 ? sent : new Array<Buffer>(cdb.blocks).fill(concatChunks(sent));
  const stored = await readLocked(unit, lba, cdb.blocks);
  const offset = firstDifference(expected, stored);
  if (offset !== -1) throw miscompare(offset);
  return GOOD;
}

/** COMPARE AND WRITE: compare `blocks` blocks, and only if they all match, write the next `blocks` blocks. */
export async function compareAndWrite(
  unit: UnitContext,
  call: Invocation,
  cdb: CompareAndWriteCdb,
): Promise<ScsiResponse> {
  checkNoProtection(cdb.protect);
  if (cdb.blocks > unit.limits.maxCompareAndWriteLength) throw invalidFieldInCdb(13);
  const lba = checkRange(unit, cdb.lba, cdb.blocks);
  checkWritable(unit);
  if (cdb.blocks === 0) return GOOD;
  const bytes = cdb.blocks * unit.backend.blockSize;
  const data = concatChunks(await call.dataOut(2 * bytes));
  const release = await unit.locks.acquire(lba, cdb.blocks, true);
  try {
    const stored = await medium('read', () => unit.backend.read(lba, cdb.blocks));
    const offset = firstDifference([data.subarray(0, bytes)], stored);
    if (offset !== -1) throw miscompare(offset);
    await medium('write', () => unit.backend.write(lba, [data.subarray(bytes)], writeOptions(unit, cdb.fua)));
  } finally {
    release();
  }
  return GOOD;
}

/** WRITE SAME(10/16): one block (or zeros with NDOB) repeated; with UNMAP, the range is unmapped instead. */
export async function writeSame(unit: UnitContext, call: Invocation, cdb: WriteSameCdb): Promise<ScsiResponse> {
  checkNoProtection(cdb.protect);
  if (cdb.anchor) throw invalidFieldInCdb(1, 4); // ANC_SUP = 0
  if (cdb.pbdata) throw invalidFieldInCdb(1, 2);
  if (cdb.lbdata) throw invalidFieldInCdb(1, 1);
  const count = BigInt(unit.backend.blockCount);
  if (cdb.lba > count) throw lbaOutOfRange();
  // NUMBER OF LOGICAL BLOCKS 0 means "to the end of the medium" (WSNZ = 0).
  const blocks = cdb.blocks === 0 ? Number(count - cdb.lba) : cdb.blocks;
  if (blocks > unit.limits.maxWriteSameLength) throw invalidFieldInCdb(lengthField(cdb.cdbLength));
  const lba = checkRange(unit, cdb.lba, blocks);
  checkWritable(unit);
  if (blocks === 0) return GOOD;
  const blockSize = unit.backend.blockSize;
  const block = cdb.ndob ? Buffer.alloc(blockSize) : concatChunks(await call.dataOut(blockSize));
  const release = await unit.locks.acquire(lba, blocks, true);
  try {
    // SBC-3 (WRITE SAME, UNMAP bit): a device server with logical block provisioning management (LBPME) that
    // reports LBPWS (16) / LBPWS10 (10) unmaps the range whatever the pattern; the blocks then read as zeros
    // (LBPRZ), not as the pattern. Linux LIO does the same, and libiscsi's WriteSame10/16.UnmapUntilEnd write
    // 0xFF blocks, WRITE SAME them with UNMAP and a 0xFF block, and expect zeros back.
    const unmaps = PROVISIONING.lbpme && (cdb.cdbLength === 10 ? PROVISIONING.lbpws10 : PROVISIONING.lbpws);
    if (cdb.unmap && unmaps) {
      await medium('write', () => unit.backend.unmap([{ lba, blocks }]));
      return GOOD;
    }
    const perBatch = Math.max(1, Math.floor(WRITE_SAME_BATCH_BYTES / blockSize));
    for (let done = 0; done < blocks; done += perBatch) {
      const n = Math.min(perBatch, blocks - done);
      const chunks = new Array<Buffer>(n).fill(block);
      await medium('write', () => unit.backend.write(lba + done, chunks, writeOptions(unit, false)));
    }
  } finally {
    release();
  }
  return GOOD;
}

/** UNMAP: parse and check the whole parameter list, then unmap every range. */
export async function unmap(unit: UnitContext, call: Invocation, cdb: UnmapCdb): Promise<ScsiResponse> {
  if (cdb.anchor) throw invalidFieldInCdb(1, 0); // ANC_SUP = 0
  checkWritable(unit);
  const length = cdb.parameterListLength;
  if (length === 0) return GOOD;
  if (length < 8) throw parameterListLengthError();
  const list = concatChunks(await call.dataOut(length));
  // Descriptors beyond either the declared UNMAP BLOCK DESCRIPTOR DATA LENGTH or the list are ignored.
  const descriptorBytes = Math.min(list.readUInt16BE(2), list.length - 8);
  const count = Math.floor(descriptorBytes / 16);
  if (count > unit.limits.maxUnmapBlockDescriptorCount) throw invalidFieldInParameterList(2);
  const ranges: LbaRange[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    const offset = 8 + 16 * i;
    const lba = list.readBigUInt64BE(offset);
    const blocks = list.readUInt32BE(offset + 8);
    const start = checkRange(unit, lba, blocks);
    total += blocks;
    if (total > unit.limits.maxUnmapLbaCount) throw invalidFieldInParameterList(offset + 8);
    if (blocks > 0) ranges.push({ lba: start, blocks });
  }
  if (ranges.length === 0) return GOOD;
  const release = await unit.locks.acquireAll(ranges, true);
  try {
    await medium('write', () => unit.backend.unmap(ranges));
  } finally {
    release();
  }
  return GOOD;
}

/** GET LBA STATUS: mapped/deallocated extents from the starting LBA, as many as the allocation length holds. */
export async function getLbaStatus(unit: UnitContext, cdb: GetLbaStatusCdb): Promise<ScsiResponse> {
  const count = unit.backend.blockCount;
  if (cdb.lba >= BigInt(count)) throw lbaOutOfRange();
  const room = Math.max(1, Math.min(LBA_STATUS_MAX_DESCRIPTORS, Math.floor((cdb.allocationLength - 8) / 16)));
  const descriptors: LbaStatusDescriptor[] = [];
  const mapping = unit.backend.mapping?.bind(unit.backend);
  let at = Number(cdb.lba);
  while (descriptors.length < room && at < count) {
    const start = at;
    const max = Math.min(count - at, LBA_STATUS_EXTENT_LIMIT);
    // A backend that cannot tell reports every block mapped (SBC-3 allows it).
    const extent =
      mapping === undefined ? { mapped: true, blocks: max } : await medium('read', () => mapping(start, max));
    const blocks = Math.max(1, Math.min(extent.blocks, max));
    const status = extent.mapped ? ProvisioningStatus.Mapped : ProvisioningStatus.Deallocated;
    const last = descriptors.at(-1);
    if (last?.status === status && last.blocks + blocks <= 0xffff_ffff) {
      descriptors[descriptors.length - 1] = { ...last, blocks: last.blocks + blocks };
    } else {
      descriptors.push({ lba: BigInt(at), blocks, status });
    }
    at += blocks;
  }
  const data = encodeLbaStatus(descriptors);
  return { status: ScsiStatus.Good, dataIn: [data.subarray(0, Math.min(data.length, cdb.allocationLength))] };
}

/** PRE-FETCH(10/16): CONDITION MET when the backend reports the range cached, else GOOD. */
export async function preFetch(unit: UnitContext, cdb: PreFetchCdb): Promise<ScsiResponse> {
  const count = BigInt(unit.backend.blockCount);
  if (cdb.lba > count) throw lbaOutOfRange();
  const blocks = cdb.blocks === 0 ? Number(count - cdb.lba) : cdb.blocks;
  const lba = checkRange(unit, cdb.lba, blocks);
  const prefetch = unit.backend.prefetch?.bind(unit.backend);
  if (blocks === 0 || prefetch === undefined) return GOOD;
  const cached = await medium('read', () => prefetch(lba, blocks));
  return cached ? { status: ScsiStatus.ConditionMet } : GOOD;
}

/** SYNCHRONIZE CACHE(10/16): the range is checked, then everything is flushed. */
export async function synchronizeCache(unit: UnitContext, cdb: SynchronizeCacheCdb): Promise<ScsiResponse> {
  const count = BigInt(unit.backend.blockCount);
  if (cdb.lba > count) throw lbaOutOfRange();
  checkRange(unit, cdb.lba, cdb.blocks);
  await medium('write', () => unit.backend.flush());
  return GOOD;
}
