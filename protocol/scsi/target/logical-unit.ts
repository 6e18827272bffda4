/**
 * An SBC-3 direct-access logical unit over a {@link BlockBackend}: the device server real initiators (Linux
 * sd, libiscsi's iscsi-test-cu) talk to. `execute` takes one command and resolves with its status, sense and
 * data-in; commands may run concurrently (LBA range locks keep overlapping writes whole and COMPARE AND WRITE
 * atomic).
 *
 * Every command passes the same gates, in the order LIO uses: unit attention (except INQUIRY, REPORT LUNS,
 * REQUEST SENSE), supported operation code, control byte, reservation conflict, stopped state; then the command
 * checks its own fields, range and limits before it pulls any data-out.
 */
import type { BlockBackend } from '../backend.js';
import { chunksLength, truncateChunks } from '../bytes.js';
import { decodeCdb } from '../cdb/decode.js';
import type { DecodedCdb } from '../cdb/types.js';
import { encodeReportLuns } from '../data/report-luns.js';
import { IserError } from '../../errors.js';
import { ScsiDecodeError, ScsiEncodeError, ScsiStatusError, ScsiTargetError } from '../errors.js';
import { cdbLengthOf } from '../opcodes.js';
import { AdditionalSense, SenseKey } from '../sense-codes.js';
import { encodeSense } from '../sense.js';
import { ScsiStatus } from '../status.js';
import * as block from './block-commands.js';
import { hasServiceActions } from './command-table.js';
import {
  checkCondition,
  dataOutTooShort,
  invalidFieldInCdb,
  invalidOpcode,
  reservationConflict,
  unitAttention,
} from './conditions.js';
import { inquiryData } from './inquiry-data.js';
import { ModePages } from './mode-pages.js';
import { type AccessClass, nexusKey, PersistentReservations } from './persistent-reservations.js';
import { RangeLock } from './range-lock.js';
import type { ScsiCommand, ScsiNexus, ScsiResponse } from './types.js';
import { UnitAttentions, type UnitAttentionScope } from './unit-attention.js';
import * as unitCommands from './unit-commands.js';
import { resolveIdentity, resolveLimits, type UnitIdentity, type UnitLimits } from './unit-config.js';
import type { Invocation, UnitContext } from './unit-context.js';

/** Options of a {@link LogicalUnit}. */
export interface LogicalUnitOptions {
  /** The storage. */
  readonly backend: BlockBackend;
  /** INQUIRY identity; vendor/product/revision default, the serial number defaults to a fresh one. */
  readonly identity?: Partial<UnitIdentity>;
  /** Block limits; defaults from `defaultLimits(blockSize)`. */
  readonly limits?: Partial<UnitLimits>;
  /** Refuse every write with DATA PROTECT, WRITE PROTECTED. */
  readonly readOnly?: boolean;
  /** PREEMPT AND ABORT preempted these nexuses: the transport should abort their tasks on this unit. */
  readonly onAbortTasks?: (nexuses: readonly ScsiNexus[]) => void;
  /** A command failed on a bug rather than on the initiator or the medium; it ended in HARDWARE ERROR. */
  readonly onInternalError?: (error: unknown) => void;
}

/** Resets a transport can ask for (RFC 7143 §11.5.1 task management functions, and power cycling). */
export type ResetKind = 'lun-reset' | 'target-warm-reset' | 'target-cold-reset';

/** The unit attention each reset leaves behind. */
const RESET_ATTENTION: Readonly<Record<ResetKind, number>> = {
  'lun-reset': AdditionalSense.BusDeviceResetFunctionOccurred,
  'target-warm-reset': AdditionalSense.ScsiBusResetOccurred,
  'target-cold-reset': AdditionalSense.PowerOnOccurred,
};

/** Commands a pending unit attention does not stop (SAM-5 §5.14). */
const UA_EXEMPT = new Set<DecodedCdb['command']>(['inquiry', 'report-luns', 'request-sense']);

/** Commands that need the medium ready (not stopped by START STOP UNIT). */
const MEDIA_ACCESS = new Set<DecodedCdb['command']>([
  'test-unit-ready',
  'read',
  'write',
  'write-and-verify',
  'verify',
  'compare-and-write',
  'write-same',
  'unmap',
  'pre-fetch',
  'synchronize-cache',
  'get-lba-status',
]);

/** How each command meets a persistent reservation held by another nexus (SPC-4 table 63, SBC-3 table 13). */
function accessClass(cdb: DecodedCdb): AccessClass {
  switch (cdb.command) {
    case 'read':
    case 'verify':
    case 'pre-fetch':
    case 'get-lba-status':
      return 'read';
    case 'write':
    case 'write-and-verify':
    case 'compare-and-write':
    case 'write-same':
    case 'unmap':
    case 'synchronize-cache':
    case 'mode-select':
      return 'write';
    case 'mode-sense':
    case 'report-supported-operation-codes':
      return 'info';
    case 'start-stop-unit':
      return cdb.start && cdb.powerCondition === 0 ? 'always' : 'write';
    default:
      return 'always';
  }
}

/** A transport failure while pulling data-out: it ends the command's execution, not in a status. */
class DataOutFailure extends IserError<'ERR_SCSI_DATA_OUT'> {}

/** An SBC-3 direct-access logical unit. */
export class LogicalUnit {
  /** The storage. */
  readonly backend: BlockBackend;
  /** INQUIRY identity. */
  readonly identity: UnitIdentity;
  /** Block limits. */
  readonly limits: UnitLimits;
  private readonly options: LogicalUnitOptions;
  private readonly context: UnitContext;
  private readonly mode = new ModePages();
  private readonly reservations = new PersistentReservations();
  private readonly attentions = new UnitAttentions();
  private stopped = false;

  constructor(options: LogicalUnitOptions) {
    const { backend } = options;
    if (
      !Number.isSafeInteger(backend.blockSize) ||
      backend.blockSize < 1 ||
      !Number.isSafeInteger(backend.blockCount)
    ) {
      throw new ScsiTargetError('ERR_SCSI_TARGET_CONFIG', 'backend block size and count must be positive integers');
    }
    this.options = options;
    this.backend = backend;
    this.identity = resolveIdentity(options.identity);
    this.limits = resolveLimits(backend.blockSize, options.limits);
    const unit = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the context reads live state
    this.context = {
      backend,
      identity: this.identity,
      limits: this.limits,
      mode: this.mode,
      reservations: this.reservations,
      attentions: this.attentions,
      locks: new RangeLock(),
      readOnly: options.readOnly === true,
      get stopped() {
        return unit.stopped;
      },
      setStopped: (stopped) => {
        this.stopped = stopped;
      },
      raise: (code, scope) => {
        this.attentions.raise(code, scope);
      },
      abortTasks: (nexuses) => {
        this.options.onAbortTasks?.(nexuses);
      },
    };
  }

  /** Executes one command. Rejects only when pulling its data-out failed (with that failure). */
  async execute(command: ScsiCommand): Promise<ScsiResponse> {
    const key = nexusKey(command.nexus);
    this.attentions.arrive(key);
    try {
      return await this.run(command, key);
    } catch (err) {
      if (err instanceof DataOutFailure) throw err.cause;
      if (err instanceof ScsiStatusError) return this.respond(err);
      this.options.onInternalError?.(err);
      return this.respond(checkCondition(SenseKey.HardwareError, AdditionalSense.InternalTargetFailure));
    }
  }

  /**
   * A task management reset: LOGICAL UNIT RESET, TARGET WARM RESET or TARGET COLD RESET. Mode parameters return
   * to their defaults and every nexus gets the matching unit attention; a cold reset (power cycle) also drops
   * the persistent reservations (there is no APTPL) and restarts a stopped unit. Aborting tasks is the
   * transport's part.
   */
  reset(kind: ResetKind): void {
    this.mode.reset();
    if (kind === 'target-cold-reset') {
      this.reservations.reset();
      this.stopped = false;
    }
    this.attentions.raise(RESET_ATTENTION[kind], { all: true });
  }

  /** The nexus went away (connection or session lost): it finds I_T NEXUS LOSS OCCURRED when it returns. */
  nexusLost(nexus: ScsiNexus): void {
    this.attentions.raise(AdditionalSense.ITNexusLossOccurred, { only: [nexusKey(nexus)] });
  }

  /** Raises a unit attention (`ASC << 8 | ASCQ`) for every nexus that has used this unit, except `except`. */
  raiseUnitAttention(code: number, except?: ScsiNexus): void {
    const scope: UnitAttentionScope = except === undefined ? { all: true } : { all: true, except: nexusKey(except) };
    this.attentions.raise(code, scope);
  }

  /** Drops pending unit attentions of `code` for `nexus` (REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED). */
  clearUnitAttention(nexus: ScsiNexus, code: number): void {
    this.attentions.clear(nexusKey(nexus), code);
  }

  /** Resizes the backend and tells every nexus CAPACITY DATA HAS CHANGED. */
  async resize(blockCount: number): Promise<void> {
    if (this.backend.resize === undefined) {
      throw new ScsiTargetError('ERR_SCSI_TARGET_CONFIG', 'this backend cannot be resized');
    }
    await this.backend.resize(blockCount);
    this.attentions.raise(AdditionalSense.CapacityDataHasChanged, { all: true });
  }

  private async run(command: ScsiCommand, key: string): Promise<ScsiResponse> {
    let cdb: DecodedCdb;
    try {
      cdb = decodeCdb(command.cdb);
    } catch (err) {
      if (err instanceof ScsiDecodeError) throw invalidFieldInCdb(0); // shorter than its opcode's CDB
      throw err;
    }
    if (!UA_EXEMPT.has(cdb.command)) {
      const pending = this.attentions.take(key);
      if (pending !== undefined) throw unitAttention(pending);
    }
    if (cdb.command === 'unknown') {
      throw hasServiceActions(cdb.opcode) ? invalidFieldInCdb(1, 4) : invalidOpcode();
    }
    const controlIndex = (cdbLengthOf(command.cdb.readUInt8(0)) ?? command.cdb.length) - 1;
    if ((command.cdb.readUInt8(controlIndex) & 0x04) !== 0) throw invalidFieldInCdb(controlIndex, 2); // NACA
    if (this.reservations.conflicts(key, accessClass(cdb))) throw reservationConflict();
    if (this.stopped && MEDIA_ACCESS.has(cdb.command)) {
      throw checkCondition(SenseKey.NotReady, AdditionalSense.LogicalUnitNotReadyInitializingCommandRequired);
    }
    return this.dispatch(cdb, this.invocation(command, key));
  }

  private dispatch(cdb: DecodedCdb, call: Invocation): ScsiResponse | Promise<ScsiResponse> {
    const unit = this.context;
    switch (cdb.command) {
      case 'test-unit-ready':
        return { status: ScsiStatus.Good };
      case 'inquiry': {
        if ((call.cdb.readUInt8(1) & 0x02) !== 0) throw invalidFieldInCdb(1, 1); // CMDDT (obsolete)
        const data = inquiryData(unit, call.nexus, cdb);
        return {
          status: ScsiStatus.Good,
          dataIn: cdb.allocationLength === 0 ? [] : [data.subarray(0, cdb.allocationLength)],
        };
      }
      case 'request-sense':
        return unitCommands.requestSense(unit, call, cdb);
      case 'report-luns': // a unit on its own is LUN 0; ScsiTargetDevice answers for a whole target
        if (cdb.allocationLength < 16) throw invalidFieldInCdb(6);
        return { status: ScsiStatus.Good, dataIn: [encodeReportLuns([0]).subarray(0, cdb.allocationLength)] };
      case 'read-capacity-10':
        return unitCommands.readCapacity10(unit, cdb);
      case 'read-capacity-16':
        return unitCommands.readCapacity16(unit, cdb);
      case 'read':
        return block.read(unit, cdb);
      case 'write':
      case 'write-and-verify':
        return block.write(unit, call, cdb);
      case 'verify':
        return block.verify(unit, call, cdb);
      case 'compare-and-write':
        return block.compareAndWrite(unit, call, cdb);
      case 'write-same':
        return block.writeSame(unit, call, cdb);
      case 'unmap':
        return block.unmap(unit, call, cdb);
      case 'get-lba-status':
        return block.getLbaStatus(unit, cdb);
      case 'pre-fetch':
        return block.preFetch(unit, cdb);
      case 'synchronize-cache':
        return block.synchronizeCache(unit, cdb);
      case 'mode-sense':
        return unitCommands.modeSense(unit, cdb);
      case 'mode-select':
        return unitCommands.modeSelect(unit, call, cdb);
      case 'start-stop-unit':
        return unitCommands.startStopUnit(unit, cdb);
      case 'report-supported-operation-codes':
        return unitCommands.reportSupportedOperationCodes(cdb);
      case 'persistent-reserve-in':
        return unitCommands.persistentReserveIn(unit, cdb);
      case 'persistent-reserve-out':
        return unitCommands.persistentReserveOut(unit, call, cdb);
      case 'unknown':
        throw invalidOpcode();
    }
  }

  private invocation(command: ScsiCommand, key: string): Invocation {
    return {
      nexus: command.nexus,
      nexusKey: key,
      cdb: command.cdb,
      dataOut: async (length) => {
        if (command.expectedDataTransferLength < length) throw dataOutTooShort();
        let chunks: readonly Buffer[];
        try {
          chunks = await command.getDataOut(0, length);
        } catch (err) {
          throw new DataOutFailure('ERR_SCSI_DATA_OUT', 'pulling data-out failed', { cause: err });
        }
        const got = chunksLength(chunks);
        if (got < length) throw checkCondition(SenseKey.AbortedCommand, AdditionalSense.DataPhaseError);
        return got === length ? chunks : truncateChunks(chunks, length);
      },
    };
  }

  /** Status and sense bytes for a failed command, in the format D_SENSE selects. */
  private respond(err: ScsiStatusError): ScsiResponse {
    if (err.sense === undefined) return { status: err.status };
    const sense = { ...err.sense, format: this.mode.descriptorSense ? ('descriptor' as const) : ('fixed' as const) };
    try {
      return { status: err.status, sense: encodeSense(sense) };
    } catch (encodeError) {
      if (!(encodeError instanceof ScsiEncodeError)) throw encodeError;
      // An INFORMATION value too wide for fixed format is left out (VALID = 0), as SPC-4 allows.
      const { information: _dropped, ...rest } = sense;
      return { status: err.status, sense: encodeSense(rest) };
    }
  }
}
