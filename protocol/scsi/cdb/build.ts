/**
 * CDB builders for the initiator. Each takes the fields of its {@link DecodedCdb} variant (flags default to
 * false/0, allocation lengths to sensible maxima) and returns the CDB bytes. Values that do not fit their field
 * throw {@link ScsiEncodeError}; nothing is silently truncated.
 */
import { checkUint, checkUint64 } from '../bytes.js';
import { ScsiEncodeError } from '../errors.js';
import { MaintenanceIn, Opcode, ServiceActionIn16 } from '../opcodes.js';
import type {
  CompareAndWriteCdb,
  GetLbaStatusCdb,
  InquiryCdb,
  ModeSelectCdb,
  ModeSenseCdb,
  PersistentReserveInCdb,
  PersistentReserveOutCdb,
  PreFetchCdb,
  ReadCapacity16Cdb,
  ReadCdb,
  ReportLunsCdb,
  ReportSupportedOperationCodesCdb,
  RequestSenseCdb,
  StartStopUnitCdb,
  SynchronizeCacheCdb,
  UnmapCdb,
  VerifyCdb,
  WithDefaults,
  WriteAndVerifyCdb,
  WriteCdb,
  WriteSameCdb,
} from './types.js';

/** An LBA as a caller may hold it. */
export type LbaInput = number | bigint;

const MAX_U32 = 0xffff_ffffn;
const MAX_U64 = 0xffff_ffff_ffff_ffffn;

/** TEST UNIT READY. */
export function testUnitReady(): Buffer {
  return Buffer.alloc(6);
}

/** Options of {@link inquiry}. */
export type InquiryOptions = Partial<Omit<InquiryCdb, 'command'>>;

/** INQUIRY: standard data by default, or the VPD page `pageCode` with `evpd`. */
export function inquiry(options: InquiryOptions = {}): Buffer {
  const cdb = Buffer.alloc(6);
  cdb[0] = Opcode.Inquiry;
  if (options.evpd === true) cdb[1] = 0x01;
  cdb[2] = checkUint(options.pageCode ?? 0, 0xff, 'page code');
  cdb.writeUInt16BE(checkUint(options.allocationLength ?? 0xff, 0xffff, 'allocation length'), 3);
  return cdb;
}

/** Options of {@link requestSense}. */
export type RequestSenseOptions = Partial<Omit<RequestSenseCdb, 'command'>>;

/** REQUEST SENSE. */
export function requestSense(options: RequestSenseOptions = {}): Buffer {
  const cdb = Buffer.alloc(6);
  cdb[0] = Opcode.RequestSense;
  if (options.desc === true) cdb[1] = 0x01;
  cdb[4] = checkUint(options.allocationLength ?? 252, 0xff, 'allocation length');
  return cdb;
}

/** Options of {@link reportLuns}. */
export type ReportLunsOptions = Partial<Omit<ReportLunsCdb, 'command'>>;

/** REPORT LUNS. */
export function reportLuns(options: ReportLunsOptions = {}): Buffer {
  const cdb = Buffer.alloc(12);
  cdb[0] = Opcode.ReportLuns;
  cdb[2] = checkUint(options.selectReport ?? 0, 0xff, 'select report');
  cdb.writeUInt32BE(checkUint(options.allocationLength ?? 4096, 0xffff_ffff, 'allocation length'), 6);
  return cdb;
}

/** READ CAPACITY(10). */
export function readCapacity10(options: { readonly lba?: LbaInput; readonly pmi?: boolean } = {}): Buffer {
  const cdb = Buffer.alloc(10);
  cdb[0] = Opcode.ReadCapacity10;
  cdb.writeUInt32BE(Number(checkUint64(options.lba ?? 0, MAX_U32, 'LBA')), 2);
  if (options.pmi === true) cdb[8] = 0x01;
  return cdb;
}

/** Options of {@link readCapacity16}. */
export type ReadCapacity16Options = Partial<Omit<ReadCapacity16Cdb, 'command' | 'lba'>> & { readonly lba?: LbaInput };

/** READ CAPACITY(16) (SERVICE ACTION IN(16)). */
export function readCapacity16(options: ReadCapacity16Options = {}): Buffer {
  const cdb = Buffer.alloc(16);
  cdb[0] = Opcode.ServiceActionIn16;
  cdb[1] = ServiceActionIn16.ReadCapacity16;
  cdb.writeBigUInt64BE(checkUint64(options.lba ?? 0, MAX_U64, 'LBA'), 2);
  cdb.writeUInt32BE(checkUint(options.allocationLength ?? 32, 0xffff_ffff, 'allocation length'), 10);
  if (options.pmi === true) cdb[14] = 0x01;
  return cdb;
}

/** The LBA/length fields every block command takes; `lba` may be a number. */
/** The fields a CDB builder takes for a block command: the LBA plus the optional fields. */
export type BlockInput<T extends { lba: bigint }, Optional extends keyof T> = Omit<WithDefaults<T, Optional>, 'lba'> & {
  readonly lba: LbaInput;
};

/** Options of the READ builders. */
export type ReadOptions = Omit<BlockInput<ReadCdb, 'dpo' | 'fua' | 'rarc' | 'protect' | 'group'>, 'cdbLength'>;
/** Options of the WRITE builders. */
export type WriteOptions = Omit<BlockInput<WriteCdb, 'dpo' | 'fua' | 'protect' | 'group'>, 'cdbLength'>;

/** READ(6): LBA up to 2^21 - 1, 1 to 256 blocks. */
export function read6(options: Pick<ReadOptions, 'lba' | 'blocks'>): Buffer {
  return rw6(Opcode.Read6, options.lba, options.blocks);
}

/** WRITE(6): LBA up to 2^21 - 1, 1 to 256 blocks. */
export function write6(options: Pick<WriteOptions, 'lba' | 'blocks'>): Buffer {
  return rw6(Opcode.Write6, options.lba, options.blocks);
}

function rw6(opcode: number, lba: LbaInput, blocks: number): Buffer {
  const cdb = Buffer.alloc(6);
  cdb[0] = opcode;
  cdb.writeUIntBE(Number(checkUint64(lba, 0x1f_ffffn, 'LBA (6-byte CDB)')), 1, 3);
  if (blocks < 1) throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', 'a 6-byte READ/WRITE moves 1 to 256 blocks');
  cdb[4] = checkUint(blocks, 256, 'transfer length') & 0xff; // 0 on the wire means 256
  return cdb;
}

/** READ(10). */
export function read10(options: ReadOptions): Buffer {
  return blockCdb(Opcode.Read10, 10, options.lba, options.blocks, readFlags(options), options.group);
}

/** READ(12). */
export function read12(options: ReadOptions): Buffer {
  return blockCdb(Opcode.Read12, 12, options.lba, options.blocks, readFlags(options), options.group);
}

/** READ(16). */
export function read16(options: ReadOptions): Buffer {
  return blockCdb(Opcode.Read16, 16, options.lba, options.blocks, readFlags(options), options.group);
}

/** WRITE(10). */
export function write10(options: WriteOptions): Buffer {
  return blockCdb(Opcode.Write10, 10, options.lba, options.blocks, writeFlags(options), options.group);
}

/** WRITE(12). */
export function write12(options: WriteOptions): Buffer {
  return blockCdb(Opcode.Write12, 12, options.lba, options.blocks, writeFlags(options), options.group);
}

/** WRITE(16). */
export function write16(options: WriteOptions): Buffer {
  return blockCdb(Opcode.Write16, 16, options.lba, options.blocks, writeFlags(options), options.group);
}

/** Options of the WRITE AND VERIFY builders. */
export type WriteAndVerifyOptions = BlockInput<WriteAndVerifyCdb, 'cdbLength' | 'dpo' | 'bytchk' | 'protect' | 'group'>;

/** WRITE AND VERIFY(10/12/16) (`cdbLength` defaults to 16). */
export function writeAndVerify(options: WriteAndVerifyOptions): Buffer {
  const length = options.cdbLength ?? 16;
  const opcode = { 10: Opcode.WriteAndVerify10, 12: Opcode.WriteAndVerify12, 16: Opcode.WriteAndVerify16 }[length];
  const flags =
    protectBits(options.protect) | flag(options.dpo, 0x10) | (checkUint(options.bytchk ?? 0, 3, 'BYTCHK') << 1);
  return blockCdb(opcode, length, options.lba, options.blocks, flags, options.group);
}

/** Options of the VERIFY builders. */
export type VerifyOptions = BlockInput<VerifyCdb, 'cdbLength' | 'dpo' | 'bytchk' | 'protect' | 'group'>;

/** VERIFY(10/12/16) (`cdbLength` defaults to 16). */
export function verify(options: VerifyOptions): Buffer {
  const length = options.cdbLength ?? 16;
  const opcode = { 10: Opcode.Verify10, 12: Opcode.Verify12, 16: Opcode.Verify16 }[length];
  const flags =
    protectBits(options.protect) | flag(options.dpo, 0x10) | (checkUint(options.bytchk ?? 0, 3, 'BYTCHK') << 1);
  return blockCdb(opcode, length, options.lba, options.blocks, flags, options.group);
}

/** Options of {@link compareAndWrite}; `blocks` is the number compared (and written): 0 to 255. */
export type CompareAndWriteOptions = BlockInput<CompareAndWriteCdb, 'dpo' | 'fua' | 'protect' | 'group'>;

/** COMPARE AND WRITE: the data-out holds `blocks` blocks to compare followed by `blocks` blocks to write. */
export function compareAndWrite(options: CompareAndWriteOptions): Buffer {
  const cdb = Buffer.alloc(16);
  cdb[0] = Opcode.CompareAndWrite;
  cdb[1] = protectBits(options.protect) | flag(options.dpo, 0x10) | flag(options.fua, 0x08);
  cdb.writeBigUInt64BE(checkUint64(options.lba, MAX_U64, 'LBA'), 2);
  cdb[13] = checkUint(options.blocks, 0xff, 'number of logical blocks');
  cdb[14] = groupBits(options.group);
  return cdb;
}

/** Options of the PRE-FETCH builders. */
export type PreFetchOptions = BlockInput<PreFetchCdb, 'cdbLength' | 'immed' | 'group'>;

/** PRE-FETCH(10/16) (`cdbLength` defaults to 16). */
export function preFetch(options: PreFetchOptions): Buffer {
  const length = options.cdbLength ?? 16;
  const opcode = length === 10 ? Opcode.PreFetch10 : Opcode.PreFetch16;
  return blockCdb(opcode, length, options.lba, options.blocks, flag(options.immed, 0x02), options.group);
}

/** Options of the SYNCHRONIZE CACHE builders; the whole medium by default. */
export type SynchronizeCacheOptions = Partial<
  BlockInput<SynchronizeCacheCdb, 'cdbLength' | 'immed' | 'syncNv' | 'group'>
>;

/** SYNCHRONIZE CACHE(10/16) (`cdbLength` defaults to 10; `blocks` 0 means to the last LBA). */
export function synchronizeCache(options: SynchronizeCacheOptions = {}): Buffer {
  const length = options.cdbLength ?? 10;
  const opcode = length === 10 ? Opcode.SynchronizeCache10 : Opcode.SynchronizeCache16;
  const flags = flag(options.syncNv, 0x04) | flag(options.immed, 0x02);
  return blockCdb(opcode, length, options.lba ?? 0, options.blocks ?? 0, flags, options.group);
}

/** Options of the WRITE SAME builders. */
export type WriteSameOptions = BlockInput<
  WriteSameCdb,
  'cdbLength' | 'protect' | 'anchor' | 'unmap' | 'ndob' | 'pbdata' | 'lbdata' | 'group'
>;

/** WRITE SAME(10/16) (`cdbLength` defaults to 16; NDOB only exists in the 16-byte CDB). */
export function writeSame(options: WriteSameOptions): Buffer {
  const length = options.cdbLength ?? 16;
  if (length === 10 && options.ndob === true) {
    throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', 'NDOB exists only in WRITE SAME(16)');
  }
  const flags =
    protectBits(options.protect) |
    flag(options.anchor, 0x10) |
    flag(options.unmap, 0x08) |
    flag(options.pbdata, 0x04) |
    flag(options.lbdata, 0x02) |
    flag(options.ndob, 0x01);
  const opcode = length === 10 ? Opcode.WriteSame10 : Opcode.WriteSame16;
  return blockCdb(opcode, length, options.lba, options.blocks, flags, options.group);
}

/** Options of {@link unmap}. */
export type UnmapOptions = WithDefaults<UnmapCdb, 'anchor' | 'group'>;

/** UNMAP; pair it with `encodeUnmapParameterList`. */
export function unmap(options: UnmapOptions): Buffer {
  const cdb = Buffer.alloc(10);
  cdb[0] = Opcode.Unmap;
  cdb[1] = flag(options.anchor, 0x01);
  cdb[6] = groupBits(options.group);
  cdb.writeUInt16BE(checkUint(options.parameterListLength, 0xffff, 'parameter list length'), 7);
  return cdb;
}

/** Options of {@link getLbaStatus}. */
export type GetLbaStatusOptions = Omit<WithDefaults<GetLbaStatusCdb, 'allocationLength'>, 'lba'> & {
  readonly lba: LbaInput;
};

/** GET LBA STATUS (SERVICE ACTION IN(16)). */
export function getLbaStatus(options: GetLbaStatusOptions): Buffer {
  const cdb = Buffer.alloc(16);
  cdb[0] = Opcode.ServiceActionIn16;
  cdb[1] = ServiceActionIn16.GetLbaStatus;
  cdb.writeBigUInt64BE(checkUint64(options.lba, MAX_U64, 'LBA'), 2);
  cdb.writeUInt32BE(checkUint(options.allocationLength ?? 4096, 0xffff_ffff, 'allocation length'), 10);
  return cdb;
}

/** Options of {@link modeSense}. */
export type ModeSenseOptions = WithDefaults<
  ModeSenseCdb,
  'cdbLength' | 'dbd' | 'llbaa' | 'pageControl' | 'subpageCode' | 'allocationLength'
>;

/** MODE SENSE(6/10) (`cdbLength` defaults to 10). */
export function modeSense(options: ModeSenseOptions): Buffer {
  const length = options.cdbLength ?? 10;
  const cdb = Buffer.alloc(length);
  cdb[0] = length === 6 ? Opcode.ModeSense6 : Opcode.ModeSense10;
  if (length === 6 && options.llbaa === true) {
    throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', 'LLBAA exists only in MODE SENSE(10)');
  }
  cdb[1] = flag(options.llbaa, 0x10) | flag(options.dbd, 0x08);
  cdb[2] =
    (checkUint(options.pageControl ?? 0, 3, 'page control') << 6) | checkUint(options.pageCode, 0x3f, 'page code');
  cdb[3] = checkUint(options.subpageCode ?? 0, 0xff, 'subpage code');
  if (length === 6) cdb[4] = checkUint(options.allocationLength ?? 0xff, 0xff, 'allocation length');
  else cdb.writeUInt16BE(checkUint(options.allocationLength ?? 0xffff, 0xffff, 'allocation length'), 7);
  return cdb;
}

/** Options of {@link modeSelect}. */
export type ModeSelectOptions = WithDefaults<ModeSelectCdb, 'cdbLength' | 'pf' | 'sp'>;

/** MODE SELECT(6/10) (`cdbLength` defaults to 10, PF to true). */
export function modeSelect(options: ModeSelectOptions): Buffer {
  const length = options.cdbLength ?? 10;
  const cdb = Buffer.alloc(length);
  cdb[0] = length === 6 ? Opcode.ModeSelect6 : Opcode.ModeSelect10;
  cdb[1] = flag(options.pf ?? true, 0x10) | flag(options.sp, 0x01);
  if (length === 6) cdb[4] = checkUint(options.parameterListLength, 0xff, 'parameter list length');
  else cdb.writeUInt16BE(checkUint(options.parameterListLength, 0xffff, 'parameter list length'), 7);
  return cdb;
}

/** Options of {@link startStopUnit}. */
export type StartStopUnitOptions = WithDefaults<
  StartStopUnitCdb,
  'immed' | 'powerConditionModifier' | 'powerCondition' | 'noFlush' | 'loej'
>;

/** START STOP UNIT. */
export function startStopUnit(options: StartStopUnitOptions): Buffer {
  const cdb = Buffer.alloc(6);
  cdb[0] = Opcode.StartStopUnit;
  cdb[1] = flag(options.immed, 0x01);
  cdb[3] = checkUint(options.powerConditionModifier ?? 0, 0x0f, 'power condition modifier');
  cdb[4] =
    (checkUint(options.powerCondition ?? 0, 0x0f, 'power condition') << 4) |
    flag(options.noFlush, 0x04) |
    flag(options.loej, 0x02) |
    flag(options.start, 0x01);
  return cdb;
}

/** Options of {@link reportSupportedOperationCodes}. */
export type ReportSupportedOperationCodesOptions = Partial<Omit<ReportSupportedOperationCodesCdb, 'command'>>;

/** REPORT SUPPORTED OPERATION CODES (MAINTENANCE IN). */
export function reportSupportedOperationCodes(options: ReportSupportedOperationCodesOptions = {}): Buffer {
  const cdb = Buffer.alloc(12);
  cdb[0] = Opcode.MaintenanceIn;
  cdb[1] = MaintenanceIn.ReportSupportedOperationCodes;
  cdb[2] = flag(options.rctd, 0x80) | checkUint(options.reportingOptions ?? 0, 0x07, 'reporting options');
  cdb[3] = checkUint(options.requestedOpcode ?? 0, 0xff, 'requested operation code');
  cdb.writeUInt16BE(checkUint(options.requestedServiceAction ?? 0, 0xffff, 'requested service action'), 4);
  cdb.writeUInt32BE(checkUint(options.allocationLength ?? 0xffff, 0xffff_ffff, 'allocation length'), 6);
  return cdb;
}

/** Options of {@link persistentReserveIn}. */
export type PersistentReserveInOptions = WithDefaults<PersistentReserveInCdb, 'allocationLength'>;

/** PERSISTENT RESERVE IN. */
export function persistentReserveIn(options: PersistentReserveInOptions): Buffer {
  const cdb = Buffer.alloc(10);
  cdb[0] = Opcode.PersistentReserveIn;
  cdb[1] = checkUint(options.serviceAction, 0x1f, 'service action');
  cdb.writeUInt16BE(checkUint(options.allocationLength ?? 0x2000, 0xffff, 'allocation length'), 7);
  return cdb;
}

/** Options of {@link persistentReserveOut}. */
export type PersistentReserveOutOptions = WithDefaults<
  PersistentReserveOutCdb,
  'scope' | 'type' | 'parameterListLength'
>;

/** PERSISTENT RESERVE OUT; pair it with `encodePrOutParameters` (24 bytes). */
export function persistentReserveOut(options: PersistentReserveOutOptions): Buffer {
  const cdb = Buffer.alloc(10);
  cdb[0] = Opcode.PersistentReserveOut;
  cdb[1] = checkUint(options.serviceAction, 0x1f, 'service action');
  cdb[2] = (checkUint(options.scope ?? 0, 0x0f, 'scope') << 4) | checkUint(options.type ?? 0, 0x0f, 'type');
  cdb.writeUInt32BE(checkUint(options.parameterListLength ?? 24, 0xffff_ffff, 'parameter list length'), 5);
  return cdb;
}

/** Lays out a 10/12/16-byte CDB with LBA, length and group number where SBC-3 puts them. */
function blockCdb(
  opcode: number,
  length: 10 | 12 | 16,
  lba: LbaInput,
  blocks: number,
  flags: number,
  group: number | undefined,
): Buffer {
  const cdb = Buffer.alloc(length);
  cdb[0] = opcode;
  cdb[1] = flags;
  if (length === 10) {
    cdb.writeUInt32BE(Number(checkUint64(lba, MAX_U32, 'LBA (10-byte CDB)')), 2);
    cdb[6] = groupBits(group);
    cdb.writeUInt16BE(checkUint(blocks, 0xffff, 'transfer length (10-byte CDB)'), 7);
  } else if (length === 12) {
    cdb.writeUInt32BE(Number(checkUint64(lba, MAX_U32, 'LBA (12-byte CDB)')), 2);
    cdb.writeUInt32BE(checkUint(blocks, 0xffff_ffff, 'transfer length'), 6);
    cdb[10] = groupBits(group);
  } else {
    cdb.writeBigUInt64BE(checkUint64(lba, MAX_U64, 'LBA'), 2);
    cdb.writeUInt32BE(checkUint(blocks, 0xffff_ffff, 'transfer length'), 10);
    cdb[14] = groupBits(group);
  }
  return cdb;
}

function readFlags(options: ReadOptions): number {
  return protectBits(options.protect) | flag(options.dpo, 0x10) | flag(options.fua, 0x08) | flag(options.rarc, 0x04);
}

function writeFlags(options: WriteOptions): number {
  return protectBits(options.protect) | flag(options.dpo, 0x10) | flag(options.fua, 0x08);
}

function protectBits(protect: number | undefined): number {
  return checkUint(protect ?? 0, 7, 'RD/WR/VRPROTECT') << 5;
}

function groupBits(group: number | undefined): number {
  return checkUint(group ?? 0, 0x1f, 'group number');
}

function flag(value: boolean | undefined, bit: number): number {
  return value === true ? bit : 0;
}
