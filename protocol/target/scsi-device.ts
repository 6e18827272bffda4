/**
 * The SCSI device behind a target node: one `LogicalUnit` per configured LUN, attached to a
 * `ScsiTargetDevice` that answers REPORT LUNS and LUNs with no unit.
 */
import { ScsiTargetDevice } from '../scsi/target/device.js';
import { LogicalUnit } from '../scsi/target/logical-unit.js';
import type { ScsiNexus } from '../scsi/target/types.js';
import type { TargetNodeConfig } from './config.js';

/** Hooks the server gives the logical units. */
export interface ScsiDeviceHooks {
  /** PREEMPT AND ABORT: the tasks of these nexuses on `lun` are to be aborted. */
  readonly onAbortTasks?: (lun: number, nexuses: readonly ScsiNexus[]) => void;
  /** A command hit a bug (it ended in HARDWARE ERROR). */
  readonly onInternalError?: (lun: number, error: unknown) => void;
}

/** Builds the device of a target node. */
export function createScsiDevice(node: TargetNodeConfig, hooks: ScsiDeviceHooks = {}): ScsiTargetDevice {
  const device = new ScsiTargetDevice();
  for (const lun of node.luns) {
    const unit = new LogicalUnit({
      backend: lun.backend,
      ...(lun.identity === undefined ? {} : { identity: lun.identity }),
      ...(lun.limits === undefined ? {} : { limits: lun.limits }),
      ...(lun.readOnly === undefined ? {} : { readOnly: lun.readOnly }),
      onAbortTasks: (nexuses) => hooks.onAbortTasks?.(lun.lun, nexuses),
      onInternalError: (error) => hooks.onInternalError?.(lun.lun, error),
    });
    device.attach(lun.lun, unit);
  }
  return device;
}
