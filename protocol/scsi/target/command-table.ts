/**
 * The commands the logical unit supports, with their CDB usage data (SPC-4 §6.35.4: for each CDB byte, a mask
 * of the bits the device server looks at). REPORT SUPPORTED OPERATION CODES answers from this table; a test
 * checks that the logical unit executes exactly these commands and refuses the rest.
 *
 * Bits we refuse when set (RDPROTECT, ANCHOR, NACA, ...) are 0 in the masks: they are not supported.
 */
import { MaintenanceIn, Opcode, PrInAction, PrOutAction, ServiceActionIn16 } from '../opcodes.js';

/** One supported command. */
export interface SupportedCommand {
  /** OPERATION CODE. */
  readonly opcode: number;
  /** SERVICE ACTION, for the opcodes that have them. */
  readonly serviceAction?: number;
  /** CDB USAGE DATA: byte 0 is the opcode; its length is the CDB length. */
  readonly usage: readonly number[];
}

const LBA4 = [0xff, 0xff, 0xff, 0xff];
const LBA8 = [...LBA4, ...LBA4];
const LEN2 = [0xff, 0xff];
const LEN4 = LBA4;
const GROUP = 0x1f;
const CONTROL = 0x00; // NACA and LINK are not supported

/** READ/WRITE-style layouts: flags in byte 1, LBA, length, group number, control. */
function block10(opcode: number, flags: number): SupportedCommand {
  return { opcode, usage: [opcode, flags, ...LBA4, GROUP, ...LEN2, CONTROL] };
}
function block12(opcode: number, flags: number): SupportedCommand {
  return { opcode, usage: [opcode, flags, ...LBA4, ...LEN4, GROUP, CONTROL] };
}
function block16(opcode: number, flags: number): SupportedCommand {
  return { opcode, usage: [opcode, flags, ...LBA8, ...LEN4, GROUP, CONTROL] };
}

const READ_FLAGS = 0x1c; // DPO, FUA, RARC
const WRITE_FLAGS = 0x18; // DPO, FUA
const VERIFY_FLAGS = 0x16; // DPO, BYTCHK
const WRITE_VERIFY_FLAGS = 0x12; // DPO, BYTCHK (0 or 1)

/** Every supported command, sorted by opcode then service action. */
export const SUPPORTED_COMMANDS: readonly SupportedCommand[] = [
  { opcode: Opcode.TestUnitReady, usage: [Opcode.TestUnitReady, 0, 0, 0, 0, CONTROL] },
  { opcode: Opcode.RequestSense, usage: [Opcode.RequestSense, 0x01, 0, 0, 0xff, CONTROL] },
  { opcode: Opcode.Read6, usage: [Opcode.Read6, 0x1f, 0xff, 0xff, 0xff, CONTROL] },
  { opcode: Opcode.Write6, usage: [Opcode.Write6, 0x1f, 0xff, 0xff, 0xff, CONTROL] },
  { opcode: Opcode.Inquiry, usage: [Opcode.Inquiry, 0x01, 0xff, 0xff, 0xff, CONTROL] },
  { opcode: Opcode.ModeSelect6, usage: [Opcode.ModeSelect6, 0x10, 0, 0, 0xff, CONTROL] },
  { opcode: Opcode.ModeSense6, usage: [Opcode.ModeSense6, 0x08, 0xff, 0xff, 0xff, CONTROL] },
  { opcode: Opcode.StartStopUnit, usage: [Opcode.StartStopUnit, 0x01, 0, 0x0f, 0xf7, CONTROL] },
  { opcode: Opcode.ReadCapacity10, usage: [Opcode.ReadCapacity10, 0, ...LBA4, 0, 0, 0x01, CONTROL] },
  block10(Opcode.Read10, READ_FLAGS),
  block10(Opcode.Write10, WRITE_FLAGS),
  block10(Opcode.WriteAndVerify10, WRITE_VERIFY_FLAGS),
  block10(Opcode.Verify10, VERIFY_FLAGS),
  block10(Opcode.PreFetch10, 0x02),
  block10(Opcode.SynchronizeCache10, 0x06),
  block10(Opcode.WriteSame10, 0x08),
  { opcode: Opcode.Unmap, usage: [Opcode.Unmap, 0, 0, 0, 0, 0, GROUP, ...LEN2, CONTROL] },
  { opcode: Opcode.ModeSelect10, usage: [Opcode.ModeSelect10, 0x10, 0, 0, 0, 0, 0, ...LEN2, CONTROL] },
  { opcode: Opcode.ModeSense10, usage: [Opcode.ModeSense10, 0x18, 0xff, 0xff, 0, 0, 0, ...LEN2, CONTROL] },
  ...Object.values(PrInAction).map((sa) => ({
    opcode: Opcode.PersistentReserveIn,
    serviceAction: sa,
    usage: [Opcode.PersistentReserveIn, 0x1f, 0, 0, 0, 0, 0, ...LEN2, CONTROL],
  })),
  ...[
    PrOutAction.Register,
    PrOutAction.Reserve,
    PrOutAction.Release,
    PrOutAction.Clear,
    PrOutAction.Preempt,
    PrOutAction.PreemptAndAbort,
    PrOutAction.RegisterAndIgnoreExistingKey,
  ].map((sa) => ({
    opcode: Opcode.PersistentReserveOut,
    serviceAction: sa,
    usage: [Opcode.PersistentReserveOut, 0x1f, 0xff, 0, 0, ...LEN4, CONTROL],
  })),
  block16(Opcode.Read16, READ_FLAGS),
  {
    opcode: Opcode.CompareAndWrite,
    usage: [Opcode.CompareAndWrite, WRITE_FLAGS, ...LBA8, 0, 0, 0, 0xff, GROUP, CONTROL],
  },
  block16(Opcode.Write16, WRITE_FLAGS),
  block16(Opcode.WriteAndVerify16, WRITE_VERIFY_FLAGS),
  block16(Opcode.Verify16, VERIFY_FLAGS),
  block16(Opcode.PreFetch16, 0x02),
  block16(Opcode.SynchronizeCache16, 0x06),
  block16(Opcode.WriteSame16, 0x09), // UNMAP, NDOB
  {
    opcode: Opcode.ServiceActionIn16,
    serviceAction: ServiceActionIn16.ReadCapacity16,
    usage: [Opcode.ServiceActionIn16, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, ...LEN4, 0, CONTROL],
  },
  {
    opcode: Opcode.ServiceActionIn16,
    serviceAction: ServiceActionIn16.GetLbaStatus,
    usage: [Opcode.ServiceActionIn16, 0x1f, ...LBA8, ...LEN4, 0, CONTROL],
  },
  { opcode: Opcode.ReportLuns, usage: [Opcode.ReportLuns, 0, 0xff, 0, 0, 0, ...LEN4, 0, CONTROL] },
  {
    opcode: Opcode.MaintenanceIn,
    serviceAction: MaintenanceIn.ReportSupportedOperationCodes,
    usage: [Opcode.MaintenanceIn, 0x1f, 0x87, 0xff, 0xff, 0xff, ...LEN4, 0, CONTROL],
  },
  block12(Opcode.Read12, READ_FLAGS),
  block12(Opcode.Write12, WRITE_FLAGS),
  block12(Opcode.WriteAndVerify12, WRITE_VERIFY_FLAGS),
  block12(Opcode.Verify12, VERIFY_FLAGS),
].sort((a, b) => a.opcode - b.opcode || (a.serviceAction ?? 0) - (b.serviceAction ?? 0));

const SERVICE_ACTION_OPCODES = new Set(
  SUPPORTED_COMMANDS.filter((c) => c.serviceAction !== undefined).map((c) => c.opcode),
);

/** True for the supported opcodes that take a service action in byte 1. */
export function hasServiceActions(opcode: number): boolean {
  return SERVICE_ACTION_OPCODES.has(opcode);
}

/** The table entry for an opcode (and service action), or undefined when not supported. */
export function findCommand(opcode: number, serviceAction?: number): SupportedCommand | undefined {
  return SUPPORTED_COMMANDS.find(
    (c) => c.opcode === opcode && (c.serviceAction === undefined || c.serviceAction === serviceAction),
  );
}
