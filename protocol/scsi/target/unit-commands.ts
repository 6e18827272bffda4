/**
 * The commands that describe or configure a logical unit rather than move its data: READ CAPACITY, REQUEST
 * SENSE, MODE SENSE/SELECT, START STOP UNIT, REPORT SUPPORTED OPERATION CODES and PERSISTENT RESERVE IN/OUT.
 */
import { concatChunks, truncateTo } from '../bytes.js';
import type {
  ModeSelectCdb,
  ModeSenseCdb,
  PersistentReserveInCdb,
  PersistentReserveOutCdb,
  ReadCapacity10Cdb,
  ReadCapacity16Cdb,
  ReportSupportedOperationCodesCdb,
  RequestSenseCdb,
  StartStopUnitCdb,
} from '../cdb/types.js';
import { encodeReadCapacity10, encodeReadCapacity16 } from '../data/capacity.js';
import { DeviceSpecificParameter, encodeModeParameters, PageControl } from '../data/mode.js';
import {
  decodePrOutParameters,
  encodePrCapabilities,
  encodePrFullStatus,
  encodePrReadKeys,
  encodePrReadReservation,
  PR_OUT_PARAMETER_LENGTH,
  PrTypeMask,
} from '../data/persistent-reservation.js';
import {
  CommandSupport,
  encodeAllCommands,
  encodeOneCommand,
  type CommandTimeouts,
} from '../data/supported-opcodes.js';
import { isPrType, PrInAction, PrOutAction } from '../opcodes.js';
import { AdditionalSense, SenseKey } from '../sense-codes.js';
import { encodeSense, senseData } from '../sense.js';
import { ScsiStatus } from '../status.js';
import { findCommand, hasServiceActions, SUPPORTED_COMMANDS } from './command-table.js';
import {
  checkCondition,
  invalidFieldInCdb,
  invalidFieldInParameterList,
  parameterListLengthError,
} from './conditions.js';
import { ModePages } from './mode-pages.js';
import type { ScsiResponse } from './types.js';
import { PROVISIONING } from './unit-config.js';
import type { Invocation, UnitContext } from './unit-context.js';

const GOOD: ScsiResponse = { status: ScsiStatus.Good };

/** Data-in cut to the allocation length. */
function dataIn(data: Buffer, allocationLength: number): ScsiResponse {
  return { status: ScsiStatus.Good, dataIn: allocationLength === 0 ? [] : [truncateTo(data, allocationLength)] };
}

/** READ CAPACITY(10): the last LBA (0xffffffff when it needs READ CAPACITY(16)) and the block size. */
export function readCapacity10(unit: UnitContext, cdb: ReadCapacity10Cdb): ScsiResponse {
  if (!cdb.pmi && cdb.lba !== 0n) throw invalidFieldInCdb(2);
  const last = unit.backend.blockCount - 1;
  return dataIn(
    encodeReadCapacity10({ returnedLba: Math.min(last, 0xffff_ffff), blockLength: unit.backend.blockSize }),
    8,
  );
}

/** READ CAPACITY(16): capacity plus LBPME (thin provisioning management) and LBPRZ (unmapped reads zeros). */
export function readCapacity16(unit: UnitContext, cdb: ReadCapacity16Cdb): ScsiResponse {
  const data = encodeReadCapacity16({
    returnedLba: BigInt(unit.backend.blockCount - 1),
    blockLength: unit.backend.blockSize,
    protectionType: 0,
    protectionEnabled: false,
    protectionIntervalExponent: 0,
    lbppbe: 0,
    lbpme: PROVISIONING.lbpme,
    lbprz: PROVISIONING.lbprz,
    lowestAlignedLba: 0,
  });
  return dataIn(data, cdb.allocationLength);
}

/**
 * REQUEST SENSE: reports (and clears) a pending unit attention, NOT READY when the unit is stopped, or NO SENSE;
 * in the format DESC asks for.
 */
export function requestSense(unit: UnitContext, call: Invocation, cdb: RequestSenseCdb): ScsiResponse {
  const format = cdb.desc ? 'descriptor' : 'fixed';
  const pending = unit.attentions.take(call.nexusKey);
  const [key, code] =
    pending !== undefined
      ? [SenseKey.UnitAttention, pending]
      : unit.stopped
        ? [SenseKey.NotReady, AdditionalSense.LogicalUnitNotReadyInitializingCommandRequired]
        : [SenseKey.NoSense, AdditionalSense.NoAdditionalSenseInformation];
  const sense = encodeSense(senseData({ key, asc: code >> 8, ascq: code & 0xff }, format));
  return dataIn(sense, cdb.allocationLength);
}

/** MODE SENSE(6/10): caching, control and informational exceptions pages, current/changeable/default values. */
export function modeSense(unit: UnitContext, cdb: ModeSenseCdb): ScsiResponse {
  if (!ModePages.has(cdb.pageCode)) throw invalidFieldInCdb(2, 5);
  if (cdb.subpageCode !== 0 && cdb.subpageCode !== 0xff) throw invalidFieldInCdb(3);
  if (cdb.pageControl === PageControl.Saved) {
    throw checkCondition(SenseKey.IllegalRequest, AdditionalSense.SavingParametersNotSupported);
  }
  const values =
    cdb.pageControl === PageControl.Changeable
      ? 'changeable'
      : cdb.pageControl === PageControl.Default
        ? 'default'
        : 'current';
  const writeProtected = unit.readOnly || unit.mode.softwareWriteProtect;
  const longLba = cdb.cdbLength === 10 && cdb.llbaa;
  const descriptor =
    values === 'changeable'
      ? { blocks: 0n, blockLength: 0 }
      : { blocks: BigInt(unit.backend.blockCount), blockLength: unit.backend.blockSize };
  const data = encodeModeParameters(
    {
      mediumType: 0,
      deviceSpecific: (writeProtected ? DeviceSpecificParameter.WriteProtect : 0) | DeviceSpecificParameter.DpoFua,
      longLba,
      blockDescriptors: cdb.dbd ? [] : [descriptor],
      pages: unit.mode.pages(cdb.pageCode, values),
    },
    cdb.cdbLength,
  );
  return dataIn(data, cdb.allocationLength);
}

/** MODE SELECT(6/10): applies changeable bits, refuses the rest; tells the other nexuses when something changed. */
export async function modeSelect(unit: UnitContext, call: Invocation, cdb: ModeSelectCdb): Promise<ScsiResponse> {
  if (!cdb.pf) throw invalidFieldInCdb(1, 4);
  if (cdb.sp) throw invalidFieldInCdb(1, 0); // parameters cannot be saved
  if (cdb.parameterListLength === 0) return GOOD;
  const list = concatChunks(await call.dataOut(cdb.parameterListLength));
  const changed = unit.mode.select(list, {
    cdbLength: cdb.cdbLength,
    blockCount: unit.backend.blockCount,
    blockSize: unit.backend.blockSize,
  });
  if (changed) unit.raise(AdditionalSense.ModeParametersChanged, { all: true, except: call.nexusKey });
  return GOOD;
}

/** Power conditions START STOP UNIT accepts (SBC-3 table 64); they change nothing here. */
const POWER_CONDITIONS = new Set([0x0, 0x1, 0x2, 0x3, 0x7, 0xa, 0xb]);

/** START STOP UNIT: START=0 stops the unit (after flushing unless NO_FLUSH), START=1 makes it ready again. */
export async function startStopUnit(unit: UnitContext, cdb: StartStopUnitCdb): Promise<ScsiResponse> {
  if (!POWER_CONDITIONS.has(cdb.powerCondition)) throw invalidFieldInCdb(4, 7);
  if (cdb.powerCondition !== 0) return GOOD;
  // LOEJ asks to eject a removable medium; this unit's medium is not removable, so it is ignored.
  if (cdb.start) {
    unit.setStopped(false);
    return GOOD;
  }
  if (!cdb.noFlush) {
    try {
      await unit.backend.flush();
    } catch {
      throw checkCondition(SenseKey.MediumError, AdditionalSense.WriteError);
    }
  }
  unit.setStopped(true);
  return GOOD;
}

/** Timeouts descriptor for RCTD: zeros mean "not specified". */
const NO_TIMEOUTS: CommandTimeouts = { commandSpecific: 0, nominal: 0, recommended: 0 };

/** REPORT SUPPORTED OPERATION CODES: all commands, or one command with its CDB usage data. */
export function reportSupportedOperationCodes(cdb: ReportSupportedOperationCodesCdb): ScsiResponse {
  const timeouts = cdb.rctd ? { timeouts: NO_TIMEOUTS } : {};
  if (cdb.reportingOptions === 0) {
    const descriptors = SUPPORTED_COMMANDS.map((c) => ({
      opcode: c.opcode,
      serviceAction: c.serviceAction ?? 0,
      serviceActionValid: c.serviceAction !== undefined,
      cdbLength: c.usage.length,
      ...timeouts,
    }));
    return dataIn(encodeAllCommands(descriptors), cdb.allocationLength);
  }
  const opcode = cdb.requestedOpcode;
  const withServiceActions = hasServiceActions(opcode);
  let entry;
  switch (cdb.reportingOptions) {
    case 1: // by opcode alone: wrong for an opcode that has service actions
      if (withServiceActions) throw invalidFieldInCdb(2, 2);
      entry = findCommand(opcode);
      break;
    case 2: // by opcode and service action: wrong for a supported opcode without service actions
      if (!withServiceActions && findCommand(opcode) !== undefined) throw invalidFieldInCdb(2, 2);
      entry = findCommand(opcode, cdb.requestedServiceAction);
      break;
    case 3: // either way
      entry = withServiceActions ? findCommand(opcode, cdb.requestedServiceAction) : findCommand(opcode);
      break;
    default:
      throw invalidFieldInCdb(2, 2);
  }
  const data = encodeOneCommand(
    entry === undefined
      ? { support: CommandSupport.NotSupported, cdbUsage: Buffer.alloc(0), ...timeouts }
      : { support: CommandSupport.Supported, cdbUsage: Buffer.from(entry.usage), ...timeouts },
  );
  return dataIn(data, cdb.allocationLength);
}

/** Every reservation type this unit supports, as REPORT CAPABILITIES' type mask. */
const ALL_TYPES =
  PrTypeMask.WriteExclusive |
  PrTypeMask.ExclusiveAccess |
  PrTypeMask.WriteExclusiveRegistrantsOnly |
  PrTypeMask.ExclusiveAccessRegistrantsOnly |
  PrTypeMask.WriteExclusiveAllRegistrants |
  PrTypeMask.ExclusiveAccessAllRegistrants;

/** PERSISTENT RESERVE IN: READ KEYS, READ RESERVATION, REPORT CAPABILITIES, READ FULL STATUS. */
export function persistentReserveIn(unit: UnitContext, cdb: PersistentReserveInCdb): ScsiResponse {
  const pr = unit.reservations;
  let data: Buffer;
  switch (cdb.serviceAction) {
    case PrInAction.ReadKeys:
      data = encodePrReadKeys(pr.generation, pr.keys());
      break;
    case PrInAction.ReadReservation:
      data = encodePrReadReservation(pr.generation, pr.current());
      break;
    case PrInAction.ReportCapabilities:
      data = encodePrCapabilities({
        rlrC: false,
        crh: false,
        sipC: false,
        atpC: false,
        ptplC: false,
        tmv: true,
        allowCommands: 1, // TEST UNIT READY is allowed under write/exclusive access reservations
        ptplA: false,
        typeMask: ALL_TYPES,
      });
      break;
    case PrInAction.ReadFullStatus:
      data = encodePrFullStatus(pr.generation, pr.fullStatus());
      break;
    default:
      throw invalidFieldInCdb(1, 4);
  }
  return dataIn(data, cdb.allocationLength);
}

/** The service actions PERSISTENT RESERVE OUT carries out. */
const PR_OUT_ACTIONS = new Set<number>([
  PrOutAction.Register,
  PrOutAction.Reserve,
  PrOutAction.Release,
  PrOutAction.Clear,
  PrOutAction.Preempt,
  PrOutAction.PreemptAndAbort,
  PrOutAction.RegisterAndIgnoreExistingKey,
]);

/** The service actions whose SCOPE and TYPE matter. */
const PR_OUT_TYPED = new Set<number>([
  PrOutAction.Reserve,
  PrOutAction.Release,
  PrOutAction.Preempt,
  PrOutAction.PreemptAndAbort,
]);

/** PERSISTENT RESERVE OUT: checks the CDB and the 24-byte parameter list, then runs the service action. */
export async function persistentReserveOut(
  unit: UnitContext,
  call: Invocation,
  cdb: PersistentReserveOutCdb,
): Promise<ScsiResponse> {
  if (!PR_OUT_ACTIONS.has(cdb.serviceAction)) throw invalidFieldInCdb(1, 4);
  if (PR_OUT_TYPED.has(cdb.serviceAction)) {
    if (cdb.scope !== 0) throw invalidFieldInCdb(2, 7); // only LU_SCOPE
    if (!isPrType(cdb.type)) throw invalidFieldInCdb(2, 3);
  }
  if (cdb.parameterListLength !== PR_OUT_PARAMETER_LENGTH) throw parameterListLengthError();
  const params = decodePrOutParameters(concatChunks(await call.dataOut(PR_OUT_PARAMETER_LENGTH)));
  if (params.specIPt) throw invalidFieldInParameterList(20, 3); // SIP_C = 0
  if (params.allTgPt) throw invalidFieldInParameterList(20, 2); // ATP_C = 0
  if (params.aptpl) throw invalidFieldInParameterList(20, 0); // PTPL_C = 0
  const effects = unit.reservations.out(call.nexus, {
    action: cdb.serviceAction,
    scope: cdb.scope,
    type: cdb.type,
    reservationKey: params.reservationKey,
    serviceActionReservationKey: params.serviceActionReservationKey,
  });
  for (const attention of effects.unitAttentions) unit.raise(attention.code, { only: attention.nexuses });
  if (effects.aborted.length > 0) unit.abortTasks(effects.aborted);
  return GOOD;
}
