/**
 * A logical unit seen through a session: SBC/SPC commands as cold Observables (subscribe sends, unsubscribe aborts
 * with ABORT TASK, `timeout()` bounds), each emitting one value, and the same commands as Promises in
 * {@link Lun.promises}. CDBs and parameter data come from `protocol/scsi`; a status other than GOOD is a
 * `ScsiStatusError` with decoded sense.
 */
import { catchError, defer, lastValueFrom, map, of, switchMap, tap, throwError, type Observable } from 'rxjs';
import { lunToNumber } from '../pdu/lun.js';
import {
  compareAndWrite,
  inquiry,
  modeSense,
  read10,
  read16,
  readCapacity10,
  readCapacity16,
  reportLuns,
  requestSense,
  synchronizeCache,
  testUnitReady,
  unmap,
  write10,
  write16,
  writeSame,
  type LbaInput,
} from '../scsi/cdb/build.js';
import { decodeReadCapacity10, decodeReadCapacity16 } from '../scsi/data/capacity.js';
import { decodeStandardInquiry, type StandardInquiry } from '../scsi/data/inquiry.js';
import { decodeModeParameters, type DecodedModeParameters } from '../scsi/data/mode.js';
import { decodeReportLuns, type ReportLunsData } from '../scsi/data/report-luns.js';
import { encodeUnmapParameterList } from '../scsi/data/unmap.js';
import { ScsiStatusError } from '../scsi/errors.js';
import { SenseKey } from '../scsi/sense-codes.js';
import { decodeSense, type SenseData } from '../scsi/sense.js';
import type { CommandResult } from '../session/initiator-types.js';
import { InitiatorError } from './errors.js';
import type { CommandOptions } from './command-options.js';

/** What a {@link Lun} needs of a session. */
export interface CommandIssuer {
  /** A raw SCSI command as a cold Observable. */
  command(lun: bigint, cdb: Buffer, options?: CommandOptions): Observable<CommandResult>;
}

/** Options of a {@link Lun}. */
export interface LunOptions {
  /** The logical block size, when known; otherwise the first block command asks READ CAPACITY. */
  readonly blockSize?: number;
}

/** What READ CAPACITY says. */
export interface LunCapacity {
  /** Bytes per logical block. */
  readonly blockSize: number;
  /** Number of logical blocks. */
  readonly blocks: bigint;
  /** The last LBA (blocks - 1). */
  readonly lastLba: bigint;
  /** LBPME: thin provisioned (UNMAP works). */
  readonly thinProvisioned: boolean;
  /** LBPRZ: unmapped blocks read as zeros. */
  readonly unmappedReadsZeros: boolean;
}

/** Options of block reads and writes. */
export interface BlockIoOptions {
  /** FUA: to and from the medium, bypassing a volatile cache. */
  readonly fua?: boolean;
}

/** Options of {@link Lun.writeSame}. */
export interface WriteSameOptions {
  /** The block to repeat (default zeros). */
  readonly data?: Buffer;
  /** UNMAP: deallocate the blocks if the unit can. */
  readonly unmap?: boolean;
}

/** One range of {@link Lun.unmap}. */
export interface BlockRange {
  readonly lba: LbaInput;
  readonly blocks: number;
}

const MAX_U32 = 0xffff_ffffn;

function badArgument(message: string): never {
  throw new InitiatorError('ERR_INITIATOR_BAD_ARGUMENT', message);
}

function checkBlocks(blocks: number): number {
  if (!Number.isSafeInteger(blocks) || blocks < 0 || blocks > 0xffff_ffff) {
    badArgument(`block count ${blocks} is not an integer in 0..2^32-1`);
  }
  return blocks;
}

function toBigLba(lba: LbaInput): bigint {
  const value =
    typeof lba === 'bigint'
      ? lba
      : Number.isSafeInteger(lba)
        ? BigInt(lba)
        : badArgument(`LBA ${lba} is not an integer`);
  if (value < 0n || value > 0xffff_ffff_ffff_ffffn) badArgument(`LBA ${value} is outside 0..2^64-1`);
  return value;
}

/** The 10-byte CDB when LBA and length fit, else the 16-byte one. */
function fitsTen(lba: bigint, blocks: number): boolean {
  return lba + BigInt(blocks) <= MAX_U32 + 1n && blocks <= 0xffff;
}

const toVoid = map((): void => undefined);
const toData = map((result: CommandResult): Buffer => result.data);

/** A logical unit of a session's target. */
export class Lun {
  readonly #issuer: CommandIssuer;
  #blockSize: number | undefined;
  /** The raw 64-bit LUN. */
  readonly lun: bigint;
  /** The same commands as Promises. */
  readonly promises: LunPromises;

  /** Use `session.lun(n)`. */
  constructor(issuer: CommandIssuer, lun: bigint, options: LunOptions = {}) {
    this.#issuer = issuer;
    this.lun = lun;
    if (options.blockSize !== undefined) {
      if (!Number.isSafeInteger(options.blockSize) || options.blockSize < 1) badArgument('blockSize must be positive');
      this.#blockSize = options.blockSize;
    }
    this.promises = new LunPromises(this);
  }

  /** The LUN as a number (peripheral or flat addressing), if it is one. */
  get number(): number | undefined {
    return lunToNumber(this.lun);
  }

  /** Any command: `read` bytes of data-in, `write` data-out. */
  command(cdb: Buffer, options: CommandOptions = {}): Observable<CommandResult> {
    return this.#issuer.command(this.lun, cdb, options);
  }

  /** TEST UNIT READY. */
  testUnitReady(): Observable<void> {
    return this.command(testUnitReady()).pipe(toVoid);
  }

  /** Standard INQUIRY data. */
  inquiry(): Observable<StandardInquiry> {
    return this.#data(inquiry({ allocationLength: 255 }), 255).pipe(map(decodeStandardInquiry));
  }

  /** A vital product data page, raw. */
  vpd(pageCode: number): Observable<Buffer> {
    return this.#data(inquiry({ evpd: true, pageCode, allocationLength: 0xffff }), 0xffff);
  }

  /** READ CAPACITY(16), or (10) when the unit does not know 16; remembers the block size. */
  readCapacity(): Observable<LunCapacity> {
    const sixteen = this.#data(readCapacity16({ allocationLength: 32 }), 32).pipe(
      map((data): LunCapacity => {
        const rc = decodeReadCapacity16(data);
        return {
          blockSize: rc.blockLength,
          blocks: rc.returnedLba + 1n,
          lastLba: rc.returnedLba,
          thinProvisioned: rc.lbpme,
          unmappedReadsZeros: rc.lbprz,
        };
      }),
    );
    const ten = defer(() => this.#data(readCapacity10(), 8)).pipe(
      map((data): LunCapacity => {
        const rc = decodeReadCapacity10(data);
        const lastLba = BigInt(rc.returnedLba);
        return {
          blockSize: rc.blockLength,
          blocks: lastLba + 1n,
          lastLba,
          thinProvisioned: false,
          unmappedReadsZeros: false,
        };
      }),
    );
    return sixteen.pipe(
      catchError((err: unknown) =>
        err instanceof ScsiStatusError && err.sense?.key === SenseKey.IllegalRequest ? ten : throwError(() => err),
      ),
      tap((capacity) => {
        if (capacity.blockSize > 0) this.#blockSize = capacity.blockSize;
      }),
    );
  }

  /** The block size: as given, as learnt, or from READ CAPACITY. */
  blockSize(): Observable<number> {
    return defer(() => {
      const known = this.#blockSize;
      if (known !== undefined) return of(known);
      return this.readCapacity().pipe(
        map((capacity) => {
          if (capacity.blockSize < 1) {
            throw new InitiatorError('ERR_INITIATOR_BAD_RESPONSE', 'READ CAPACITY reported a block size of 0');
          }
          return capacity.blockSize;
        }),
      );
    });
  }

  /** READ `blocks` blocks at `lba`. */
  read(lba: LbaInput, blocks: number, options: BlockIoOptions = {}): Observable<Buffer> {
    return defer(() => {
      const start = toBigLba(lba);
      checkBlocks(blocks);
      // Block size known (the usual case): no blockSize() Observable and no switchMap per command.
      const known = this.#blockSize;
      if (known !== undefined) return this.#read(start, blocks, known, options);
      return this.blockSize().pipe(switchMap((blockSize) => this.#read(start, blocks, blockSize, options)));
    });
  }

  #read(start: bigint, blocks: number, blockSize: number, options: BlockIoOptions): Observable<Buffer> {
    const length = blocks * blockSize;
    if (length > 0xffff_ffff) badArgument(`a read of ${length} bytes does not fit one command`);
    const cdbOptions = { lba: start, blocks, ...(options.fua === undefined ? {} : { fua: options.fua }) };
    const cdb = fitsTen(start, blocks) ? read10(cdbOptions) : read16(cdbOptions);
    return this.command(cdb, { read: length }).pipe(toData);
  }

  /** WRITE `data` (whole blocks) at `lba`. */
  write(lba: LbaInput, data: Buffer | readonly Buffer[], options: BlockIoOptions = {}): Observable<void> {
    return defer(() => {
      const start = toBigLba(lba);
      const chunks = Buffer.isBuffer(data) ? [data] : data;
      let length = 0;
      for (const chunk of chunks) length += chunk.length;
      const known = this.#blockSize;
      if (known !== undefined) return this.#write(start, chunks, length, known, options);
      return this.blockSize().pipe(switchMap((blockSize) => this.#write(start, chunks, length, blockSize, options)));
    });
  }

  #write(
    start: bigint,
    chunks: readonly Buffer[],
    length: number,
    blockSize: number,
    options: BlockIoOptions,
  ): Observable<void> {
    if (length % blockSize !== 0) badArgument(`${length} bytes are not a whole number of ${blockSize}-byte blocks`);
    const blocks = checkBlocks(length / blockSize);
    const cdbOptions = { lba: start, blocks, ...(options.fua === undefined ? {} : { fua: options.fua }) };
    const cdb = fitsTen(start, blocks) ? write10(cdbOptions) : write16(cdbOptions);
    return this.command(cdb, { write: chunks }).pipe(toVoid);
  }

  /** WRITE SAME(16): `blocks` copies of one block (zeros by default), or an unmap with `unmap`. */
  writeSame(lba: LbaInput, blocks: number, options: WriteSameOptions = {}): Observable<void> {
    return defer(() => {
      const start = toBigLba(lba);
      checkBlocks(blocks);
      return this.blockSize().pipe(
        switchMap((blockSize) => {
          const block = options.data ?? Buffer.alloc(blockSize);
          if (block.length !== blockSize)
            badArgument(`WRITE SAME takes one ${blockSize}-byte block, not ${block.length} bytes`);
          const cdb = writeSame({ lba: start, blocks, ...(options.unmap === true ? { unmap: true } : {}) });
          return this.command(cdb, { write: block });
        }),
        toVoid,
      );
    });
  }

  /** UNMAP the given ranges. */
  unmap(ranges: readonly BlockRange[]): Observable<void> {
    return defer(() => {
      const list = encodeUnmapParameterList(
        ranges.map((r) => ({ lba: toBigLba(r.lba), blocks: checkBlocks(r.blocks) })),
      );
      return this.command(unmap({ parameterListLength: list.length }), { write: list });
    }).pipe(toVoid);
  }

  /** COMPARE AND WRITE: writes `write` at `lba` if the blocks there equal `compare` (else MISCOMPARE). */
  compareAndWrite(lba: LbaInput, compare: Buffer, write: Buffer): Observable<void> {
    return defer(() => {
      const start = toBigLba(lba);
      if (compare.length !== write.length) badArgument('COMPARE AND WRITE needs as many bytes to compare as to write');
      return this.blockSize().pipe(
        switchMap((blockSize) => {
          if (compare.length === 0 || compare.length % blockSize !== 0) {
            badArgument(`${compare.length} bytes are not a whole, non-zero number of ${blockSize}-byte blocks`);
          }
          const blocks = compare.length / blockSize;
          if (blocks > 255) badArgument('COMPARE AND WRITE handles at most 255 blocks');
          return this.command(compareAndWrite({ lba: start, blocks }), { write: [compare, write] });
        }),
        toVoid,
      );
    });
  }

  /** SYNCHRONIZE CACHE (the whole unit by default). */
  sync(range: Partial<BlockRange> = {}): Observable<void> {
    return defer(() => {
      const lba = toBigLba(range.lba ?? 0);
      const blocks = checkBlocks(range.blocks ?? 0);
      const cdbLength = fitsTen(lba, blocks) ? 10 : 16;
      return this.command(synchronizeCache({ lba, blocks, cdbLength }));
    }).pipe(toVoid);
  }

  /** REQUEST SENSE: the unit's pending sense data (NO SENSE when none). */
  requestSense(): Observable<SenseData> {
    return this.#data(requestSense({ allocationLength: 252 }), 252).pipe(map((data) => decodeSense(data)));
  }

  /** MODE SENSE(10) of one page (0x3f: all pages). */
  modeSense(
    pageCode: number,
    options: { readonly subpageCode?: number; readonly pageControl?: number } = {},
  ): Observable<DecodedModeParameters> {
    return defer(() =>
      this.#data(
        modeSense({
          pageCode,
          cdbLength: 10,
          allocationLength: 0xffff,
          ...(options.subpageCode === undefined ? {} : { subpageCode: options.subpageCode }),
          ...(options.pageControl === undefined ? {} : { pageControl: options.pageControl }),
        }),
        0xffff,
      ),
    ).pipe(map((data) => decodeModeParameters(data, 10)));
  }

  /** REPORT LUNS (sent to this LUN; any LUN of the target answers for all). */
  reportLuns(): Observable<ReportLunsData> {
    return this.#data(reportLuns({ allocationLength: 65536 }), 65536).pipe(map(decodeReportLuns));
  }

  /** A command with data-in, emitting the data. */
  #data(cdb: Buffer, length: number): Observable<Buffer> {
    return this.command(cdb, { read: length }).pipe(map((result) => result.data));
  }
}

/** A {@link Lun}'s commands as Promises (each resolves with the one value its Observable emits). */
export class LunPromises {
  readonly #lun: Lun;

  /** Use `lun.promises`. */
  constructor(lun: Lun) {
    this.#lun = lun;
  }

  /** See {@link Lun.command}. */
  command(cdb: Buffer, options?: CommandOptions): Promise<CommandResult> {
    return lastValueFrom(this.#lun.command(cdb, options));
  }

  /** See {@link Lun.testUnitReady}. */
  testUnitReady(): Promise<void> {
    return lastValueFrom(this.#lun.testUnitReady());
  }

  /** See {@link Lun.inquiry}. */
  inquiry(): Promise<StandardInquiry> {
    return lastValueFrom(this.#lun.inquiry());
  }

  /** See {@link Lun.vpd}. */
  vpd(pageCode: number): Promise<Buffer> {
    return lastValueFrom(this.#lun.vpd(pageCode));
  }

  /** See {@link Lun.readCapacity}. */
  readCapacity(): Promise<LunCapacity> {
    return lastValueFrom(this.#lun.readCapacity());
  }

  /** See {@link Lun.read}. */
  read(lba: LbaInput, blocks: number, options?: BlockIoOptions): Promise<Buffer> {
    return lastValueFrom(this.#lun.read(lba, blocks, options));
  }

  /** See {@link Lun.write}. */
  write(lba: LbaInput, data: Buffer | readonly Buffer[], options?: BlockIoOptions): Promise<void> {
    return lastValueFrom(this.#lun.write(lba, data, options));
  }

  /** See {@link Lun.writeSame}. */
  writeSame(lba: LbaInput, blocks: number, options?: WriteSameOptions): Promise<void> {
    return lastValueFrom(this.#lun.writeSame(lba, blocks, options));
  }

  /** See {@link Lun.unmap}. */
  unmap(ranges: readonly BlockRange[]): Promise<void> {
    return lastValueFrom(this.#lun.unmap(ranges));
  }

  /** See {@link Lun.compareAndWrite}. */
  compareAndWrite(lba: LbaInput, compare: Buffer, write: Buffer): Promise<void> {
    return lastValueFrom(this.#lun.compareAndWrite(lba, compare, write));
  }

  /** See {@link Lun.sync}. */
  sync(range?: Partial<BlockRange>): Promise<void> {
    return lastValueFrom(this.#lun.sync(range));
  }

  /** See {@link Lun.requestSense}. */
  requestSense(): Promise<SenseData> {
    return lastValueFrom(this.#lun.requestSense());
  }

  /** See {@link Lun.modeSense}. */
  modeSense(
    pageCode: number,
    options?: { readonly subpageCode?: number; readonly pageControl?: number },
  ): Promise<DecodedModeParameters> {
    return lastValueFrom(this.#lun.modeSense(pageCode, options));
  }

  /** See {@link Lun.reportLuns}. */
  reportLuns(): Promise<ReportLunsData> {
    return lastValueFrom(this.#lun.reportLuns());
  }
}
