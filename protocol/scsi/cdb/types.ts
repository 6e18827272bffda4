/**
 * The commands this stack builds (initiator) and serves (target), as plain objects. {@link DecodedCdb} is what
 * `decodeCdb` returns; each builder in `build.ts` takes the same fields (most of them optional) and
 * `decodeCdb(build(x))` gives them back, so one description of each layout serves both sides.
 *
 * LBAs are bigints: 16-byte CDBs carry 64-bit LBAs, which a JavaScript number cannot hold.
 */

/** CDB lengths of the READ/WRITE family. */
export type RwCdbLength = 6 | 10 | 12 | 16;

/** Fields common to the commands that address a range of logical blocks. */
export interface BlockRange {
  /** LOGICAL BLOCK ADDRESS. */
  readonly lba: bigint;
  /** TRANSFER / VERIFICATION / NUMBER OF LOGICAL BLOCKS (READ(6)/WRITE(6): 0 on the wire means 256). */
  readonly blocks: number;
}

/** TEST UNIT READY (SPC-4 §6.47). */
export interface TestUnitReadyCdb {
  readonly command: 'test-unit-ready';
}

/** INQUIRY (SPC-4 §6.6). */
export interface InquiryCdb {
  readonly command: 'inquiry';
  /** EVPD: return the vital product data page `pageCode` instead of standard data. */
  readonly evpd: boolean;
  /** PAGE CODE (must be 0 when EVPD is 0). */
  readonly pageCode: number;
  /** ALLOCATION LENGTH. */
  readonly allocationLength: number;
}

/** REQUEST SENSE (SPC-4 §6.39). */
export interface RequestSenseCdb {
  readonly command: 'request-sense';
  /** DESC: ask for descriptor-format sense data. */
  readonly desc: boolean;
  /** ALLOCATION LENGTH. */
  readonly allocationLength: number;
}

/** REPORT LUNS (SPC-4 §6.33). */
export interface ReportLunsCdb {
  readonly command: 'report-luns';
  /** SELECT REPORT: 0 all LUs, 1 well-known LUs, 2 both. */
  readonly selectReport: number;
  /** ALLOCATION LENGTH. */
  readonly allocationLength: number;
}

/** READ CAPACITY(10) (SBC-3 §5.15). */
export interface ReadCapacity10Cdb {
  readonly command: 'read-capacity-10';
  /** LOGICAL BLOCK ADDRESS (obsolete; must be 0 unless PMI). */
  readonly lba: bigint;
  /** PMI (obsolete). */
  readonly pmi: boolean;
}

/** READ CAPACITY(16) (SBC-3 §5.16). */
export interface ReadCapacity16Cdb {
  readonly command: 'read-capacity-16';
  /** LOGICAL BLOCK ADDRESS (obsolete). */
  readonly lba: bigint;
  /** PMI (obsolete). */
  readonly pmi: boolean;
  /** ALLOCATION LENGTH. */
  readonly allocationLength: number;
}

/** READ(6/10/12/16) (SBC-3 §5.7-5.10). */
export interface ReadCdb extends BlockRange {
  readonly command: 'read';
  /** Which of the four CDBs. */
  readonly cdbLength: RwCdbLength;
  /** DPO: disable page out (a cache hint). */
  readonly dpo: boolean;
  /** FUA: read from the medium, not a volatile cache. */
  readonly fua: boolean;
  /** RARC: rebuild assist recovery control. */
  readonly rarc: boolean;
  /** RDPROTECT (protection information; 0 when none). */
  readonly protect: number;
  /** GROUP NUMBER. */
  readonly group: number;
}

/** WRITE(6/10/12/16) (SBC-3 §5.32-5.35). */
export interface WriteCdb extends BlockRange {
  readonly command: 'write';
  /** Which of the four CDBs. */
  readonly cdbLength: RwCdbLength;
  /** DPO: disable page out. */
  readonly dpo: boolean;
  /** FUA: the data must be on non-volatile media before GOOD. */
  readonly fua: boolean;
  /** WRPROTECT. */
  readonly protect: number;
  /** GROUP NUMBER. */
  readonly group: number;
}

/** WRITE AND VERIFY(10/12/16) (SBC-3 §5.37-5.39). */
export interface WriteAndVerifyCdb extends BlockRange {
  readonly command: 'write-and-verify';
  /** Which CDB. */
  readonly cdbLength: 10 | 12 | 16;
  /** DPO. */
  readonly dpo: boolean;
  /** BYTCHK: 0 verify the medium only, 1 compare with the data written. */
  readonly bytchk: number;
  /** WRPROTECT. */
  readonly protect: number;
  /** GROUP NUMBER. */
  readonly group: number;
}

/** VERIFY(10/12/16) (SBC-3 §5.25-5.27). */
export interface VerifyCdb extends BlockRange {
  readonly command: 'verify';
  /** Which CDB. */
  readonly cdbLength: 10 | 12 | 16;
  /** DPO. */
  readonly dpo: boolean;
  /** BYTCHK: 0 medium verification, 1 compare each block, 3 compare one block against every block. */
  readonly bytchk: number;
  /** VRPROTECT. */
  readonly protect: number;
  /** GROUP NUMBER. */
  readonly group: number;
}

/** COMPARE AND WRITE (SBC-3 §5.2). */
export interface CompareAndWriteCdb extends BlockRange {
  readonly command: 'compare-and-write';
  /** DPO. */
  readonly dpo: boolean;
  /** FUA. */
  readonly fua: boolean;
  /** WRPROTECT. */
  readonly protect: number;
  /** GROUP NUMBER. */
  readonly group: number;
}

/** PRE-FETCH(10/16) (SBC-3 §5.5-5.6). */
export interface PreFetchCdb extends BlockRange {
  readonly command: 'pre-fetch';
  /** Which CDB. */
  readonly cdbLength: 10 | 16;
  /** IMMED. */
  readonly immed: boolean;
  /** GROUP NUMBER. */
  readonly group: number;
}

/** SYNCHRONIZE CACHE(10/16) (SBC-3 §5.22-5.23); `blocks` 0 means "to the last LBA". */
export interface SynchronizeCacheCdb extends BlockRange {
  readonly command: 'synchronize-cache';
  /** Which CDB. */
  readonly cdbLength: 10 | 16;
  /** IMMED. */
  readonly immed: boolean;
  /** SYNC_NV (obsolete in SBC-3). */
  readonly syncNv: boolean;
  /** GROUP NUMBER. */
  readonly group: number;
}

/** WRITE SAME(10/16) (SBC-3 §5.41-5.42); `blocks` 0 means "to the last LBA" unless WSNZ. */
export interface WriteSameCdb extends BlockRange {
  readonly command: 'write-same';
  /** Which CDB. */
  readonly cdbLength: 10 | 16;
  /** WRPROTECT. */
  readonly protect: number;
  /** ANCHOR. */
  readonly anchor: boolean;
  /** UNMAP: the blocks may be unmapped instead of written. */
  readonly unmap: boolean;
  /** NDOB (16 only): no data-out buffer; write zeros. */
  readonly ndob: boolean;
  /** PBDATA (obsolete). */
  readonly pbdata: boolean;
  /** LBDATA (obsolete). */
  readonly lbdata: boolean;
  /** GROUP NUMBER. */
  readonly group: number;
}

/** UNMAP (SBC-3 §5.28). */
export interface UnmapCdb {
  readonly command: 'unmap';
  /** ANCHOR. */
  readonly anchor: boolean;
  /** GROUP NUMBER. */
  readonly group: number;
  /** PARAMETER LIST LENGTH. */
  readonly parameterListLength: number;
}

/** GET LBA STATUS (SBC-3 §5.4). */
export interface GetLbaStatusCdb {
  readonly command: 'get-lba-status';
  /** STARTING LOGICAL BLOCK ADDRESS. */
  readonly lba: bigint;
  /** ALLOCATION LENGTH. */
  readonly allocationLength: number;
}

/** MODE SENSE(6/10) (SPC-4 §6.11-6.12). */
export interface ModeSenseCdb {
  readonly command: 'mode-sense';
  /** Which CDB. */
  readonly cdbLength: 6 | 10;
  /** DBD: disable block descriptors. */
  readonly dbd: boolean;
  /** LLBAA (10 only): long LBA block descriptors accepted. */
  readonly llbaa: boolean;
  /** PC: 0 current, 1 changeable, 2 default, 3 saved. */
  readonly pageControl: number;
  /** PAGE CODE (3Fh: all pages). */
  readonly pageCode: number;
  /** SUBPAGE CODE. */
  readonly subpageCode: number;
  /** ALLOCATION LENGTH. */
  readonly allocationLength: number;
}

/** MODE SELECT(6/10) (SPC-4 §6.9-6.10). */
export interface ModeSelectCdb {
  readonly command: 'mode-select';
  /** Which CDB. */
  readonly cdbLength: 6 | 10;
  /** PF: the pages follow the SPC page format. */
  readonly pf: boolean;
  /** SP: save the pages. */
  readonly sp: boolean;
  /** PARAMETER LIST LENGTH. */
  readonly parameterListLength: number;
}

/** START STOP UNIT (SBC-3 §5.20). */
export interface StartStopUnitCdb {
  readonly command: 'start-stop-unit';
  /** IMMED. */
  readonly immed: boolean;
  /** POWER CONDITION MODIFIER. */
  readonly powerConditionModifier: number;
  /** POWER CONDITION (0: use START and LOEJ). */
  readonly powerCondition: number;
  /** NO_FLUSH. */
  readonly noFlush: boolean;
  /** LOEJ: load/eject the medium. */
  readonly loej: boolean;
  /** START: 1 make ready, 0 stop. */
  readonly start: boolean;
}

/** REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35). */
export interface ReportSupportedOperationCodesCdb {
  readonly command: 'report-supported-operation-codes';
  /** RCTD: return command timeouts descriptors. */
  readonly rctd: boolean;
  /** REPORTING OPTIONS: 0 all, 1 one opcode, 2 opcode + service action, 3 either. */
  readonly reportingOptions: number;
  /** REQUESTED OPERATION CODE. */
  readonly requestedOpcode: number;
  /** REQUESTED SERVICE ACTION. */
  readonly requestedServiceAction: number;
  /** ALLOCATION LENGTH. */
  readonly allocationLength: number;
}

/** PERSISTENT RESERVE IN (SPC-4 §6.15). */
export interface PersistentReserveInCdb {
  readonly command: 'persistent-reserve-in';
  /** SERVICE ACTION (`PrInAction`). */
  readonly serviceAction: number;
  /** ALLOCATION LENGTH. */
  readonly allocationLength: number;
}

/** PERSISTENT RESERVE OUT (SPC-4 §6.16). */
export interface PersistentReserveOutCdb {
  readonly command: 'persistent-reserve-out';
  /** SERVICE ACTION (`PrOutAction`). */
  readonly serviceAction: number;
  /** SCOPE (0: logical unit). */
  readonly scope: number;
  /** TYPE (`PrType`). */
  readonly type: number;
  /** PARAMETER LIST LENGTH (24 for the basic parameter list). */
  readonly parameterListLength: number;
}

/** An operation code (and service action) this codec does not decode. */
export interface UnknownCdb {
  readonly command: 'unknown';
  /** OPERATION CODE. */
  readonly opcode: number;
  /** SERVICE ACTION, for the opcodes that have them. */
  readonly serviceAction?: number;
}

/** Every CDB `decodeCdb` understands. */
export type DecodedCdb =
  | TestUnitReadyCdb
  | InquiryCdb
  | RequestSenseCdb
  | ReportLunsCdb
  | ReadCapacity10Cdb
  | ReadCapacity16Cdb
  | ReadCdb
  | WriteCdb
  | WriteAndVerifyCdb
  | VerifyCdb
  | CompareAndWriteCdb
  | PreFetchCdb
  | SynchronizeCacheCdb
  | WriteSameCdb
  | UnmapCdb
  | GetLbaStatusCdb
  | ModeSenseCdb
  | ModeSelectCdb
  | StartStopUnitCdb
  | ReportSupportedOperationCodesCdb
  | PersistentReserveInCdb
  | PersistentReserveOutCdb
  | UnknownCdb;

/** Makes the listed keys of T optional: how builders take their fields. */
export type WithDefaults<T, K extends keyof T> = Omit<T, K | 'command'> & Partial<Pick<T, K>>;
