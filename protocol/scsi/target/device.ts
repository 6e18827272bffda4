/**
 * A SCSI target device: the logical units behind one iSCSI target, addressed by LUN. It answers REPORT LUNS for
 * every LUN (SPC-4 §6.33), INQUIRY for a LUN with no unit (peripheral qualifier 011b, device type 1Fh), REQUEST
 * SENSE there with LOGICAL UNIT NOT SUPPORTED data, and everything else sent there with CHECK CONDITION,
 * LOGICAL UNIT NOT SUPPORTED. Commands for a unit go to its {@link LogicalUnit}.
 */
import { truncateTo } from '../bytes.js';
import { decodeCdb } from '../cdb/decode.js';
import type { DecodedCdb } from '../cdb/types.js';
import { encodeReportLuns } from '../data/report-luns.js';
import { ScsiDecodeError, ScsiStatusError, ScsiTargetError } from '../errors.js';
import { MAX_FLAT_LUN } from '../lun.js';
import { AdditionalSense, SenseKey } from '../sense-codes.js';
import { encodeSense, senseData } from '../sense.js';
import { ScsiStatus } from '../status.js';
import { invalidFieldInCdb, logicalUnitNotSupported } from './conditions.js';
import { standardInquiry } from './inquiry-data.js';
import type { LogicalUnit, ResetKind } from './logical-unit.js';
import { cdbTransferLengths, type TransferLengths } from './transfer-lengths.js';
import type { ScsiNexus, ScsiResponse, TargetCommand } from './types.js';

/** Options of a {@link ScsiTargetDevice}. */
export interface ScsiTargetDeviceOptions {
  /** INQUIRY strings for LUNs with no unit behind them. */
  readonly identity?: { readonly vendor?: string; readonly product?: string; readonly revision?: string };
  /** Block size assumed by {@link ScsiTargetDevice.transferLengths} for a LUN with no unit (default 512). */
  readonly defaultBlockSize?: number;
}

/** The logical units of one target, by LUN. */
export class ScsiTargetDevice {
  private readonly units = new Map<number, LogicalUnit>();
  private readonly identity: { vendor: string; product: string; revision: string };
  private readonly defaultBlockSize: number;

  constructor(options: ScsiTargetDeviceOptions = {}) {
    this.identity = {
      vendor: options.identity?.vendor ?? 'ISER',
      product: options.identity?.product ?? 'SBC Logical Unit',
      revision: options.identity?.revision ?? '0001',
    };
    this.defaultBlockSize = options.defaultBlockSize ?? 512;
  }

  /** The LUNs that have units, ascending. */
  get luns(): number[] {
    return [...this.units.keys()].sort((a, b) => a - b);
  }

  /** The unit at `lun`, if any. */
  unit(lun: number): LogicalUnit | undefined {
    return this.units.get(lun);
  }

  /** Puts `unit` at `lun`; the other units' nexuses learn REPORTED LUNS DATA HAS CHANGED. */
  attach(lun: number, unit: LogicalUnit): void {
    if (!Number.isInteger(lun) || lun < 0 || lun > MAX_FLAT_LUN) {
      throw new ScsiTargetError('ERR_SCSI_TARGET_CONFIG', `LUN ${lun} is outside 0..${MAX_FLAT_LUN}`);
    }
    if (this.units.has(lun)) throw new ScsiTargetError('ERR_SCSI_TARGET_CONFIG', `LUN ${lun} is already in use`);
    this.units.set(lun, unit);
    this.lunsChanged(lun);
  }

  /** Removes the unit at `lun` and returns it; the other units' nexuses learn REPORTED LUNS DATA HAS CHANGED. */
  detach(lun: number): LogicalUnit | undefined {
    const unit = this.units.get(lun);
    if (unit === undefined) return undefined;
    this.units.delete(lun);
    this.lunsChanged(lun);
    return unit;
  }

  /** Executes a command for `command.lun`. Rejects only when pulling its data-out failed. */
  execute(command: TargetCommand): Promise<ScsiResponse> {
    let cdb: DecodedCdb | undefined;
    try {
      cdb = decodeCdb(command.cdb);
    } catch (err) {
      if (!(err instanceof ScsiDecodeError)) throw err;
    }
    if (cdb?.command === 'report-luns')
      return Promise.resolve(this.reportLuns(command, cdb.selectReport, cdb.allocationLength));
    const unit = this.units.get(command.lun);
    if (unit !== undefined) return unit.execute(command);
    return Promise.resolve(this.noUnit(cdb));
  }

  /** Bytes the CDB moves each way on `lun` (see `cdbTransferLengths`), for residual accounting. */
  transferLengths(lun: number, cdb: Buffer): TransferLengths {
    return cdbTransferLengths(cdb, this.units.get(lun)?.backend.blockSize ?? this.defaultBlockSize);
  }

  /** LOGICAL UNIT RESET of `lun`, or a target reset of every unit. */
  reset(kind: ResetKind, lun?: number): void {
    if (kind === 'lun-reset') {
      if (lun === undefined) throw new ScsiTargetError('ERR_SCSI_TARGET_CONFIG', 'a LUN reset needs a LUN');
      this.units.get(lun)?.reset(kind);
      return;
    }
    for (const unit of this.units.values()) unit.reset(kind);
  }

  /** The I_T nexus is gone (session or connection lost); every unit raises I_T NEXUS LOSS OCCURRED for it. */
  nexusLost(nexus: ScsiNexus): void {
    for (const unit of this.units.values()) unit.nexusLost(nexus);
  }

  private reportLuns(command: TargetCommand, selectReport: number, allocationLength: number): ScsiResponse {
    // SPC-3 and LIO refuse an allocation length below 16; SELECT REPORT 0 and 2 list the units, 1 the (no)
    // well-known units.
    const failed = (err: ScsiStatusError): ScsiResponse => ({
      status: err.status,
      ...(err.sense !== undefined && { sense: encodeSense(err.sense) }),
    });
    if (allocationLength < 16) return failed(invalidFieldInCdb(6));
    if (selectReport > 2) return failed(invalidFieldInCdb(2));
    for (const unit of this.units.values()) {
      unit.clearUnitAttention(command.nexus, AdditionalSense.ReportedLunsDataHasChanged);
    }
    const data = encodeReportLuns(selectReport === 1 ? [] : this.luns);
    return { status: ScsiStatus.Good, dataIn: [truncateTo(data, allocationLength)] };
  }

  private noUnit(cdb: DecodedCdb | undefined): ScsiResponse {
    if (cdb?.command === 'inquiry' && !cdb.evpd && cdb.pageCode === 0) {
      const data = standardInquiry(this.identity, false);
      return {
        status: ScsiStatus.Good,
        dataIn: cdb.allocationLength === 0 ? [] : [truncateTo(data, cdb.allocationLength)],
      };
    }
    if (cdb?.command === 'request-sense') {
      const code = AdditionalSense.LogicalUnitNotSupported;
      const sense = senseData(
        { key: SenseKey.IllegalRequest, asc: code >> 8, ascq: code & 0xff },
        cdb.desc ? 'descriptor' : 'fixed',
      );
      return { status: ScsiStatus.Good, dataIn: [truncateTo(encodeSense(sense), cdb.allocationLength)] };
    }
    const err = logicalUnitNotSupported();
    return { status: err.status, ...(err.sense !== undefined && { sense: encodeSense(err.sense) }) };
  }

  private lunsChanged(changed: number): void {
    for (const [lun, unit] of this.units) {
      if (lun !== changed) unit.raiseUnitAttention(AdditionalSense.ReportedLunsDataHasChanged);
    }
  }
}
