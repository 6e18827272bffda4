/**
 * probe(): can real verbs run here, and if not, precisely why (the rules of roce-rxe.md, "Detecting 'no RDMA
 * here'"). Tests that need a device skip with this reason; the CLI prints it.
 */
import { existsSync } from 'node:fs';
import { type AddonDeviceInfo, addonErrorInfo, loadAddon } from './addon.js';

/** A usable verbs device. */
export type NativeDevice = AddonDeviceInfo;

/** What {@link probe} found. */
export type ProbeResult =
  | { readonly available: true; readonly devices: readonly NativeDevice[] }
  | { readonly available: false; readonly reason: string };

/** Probes the addon, the kernel's uverbs, the device list and rdma_ucm, in that order. Never throws. */
export function probe(): ProbeResult {
  const load = loadAddon();
  if (!load.ok) return { available: false, reason: load.reason };
  const { addon } = load;

  let devices: NativeDevice[];
  try {
    devices = addon.getDevices();
  } catch (err) {
    const { errno } = addonErrorInfo(err);
    // libibverbs says ENOSYS when /sys/class/infiniband_verbs is missing: the kernel has no uverbs at all.
    if (errno === 'ENOSYS' || !existsSync('/sys/class/infiniband_verbs')) {
      return {
        available: false,
        reason: `kernel has no RDMA support (no uverbs): ibv_get_device_list: ${errno ?? 'error'}`,
      };
    }
    return { available: false, reason: `ibv_get_device_list failed: ${errno ?? String(err)}` };
  }
  if (devices.length === 0) {
    return {
      available: false,
      reason: 'RDMA core present, no devices (hint: modprobe rdma_rxe; rdma link add rxe0 type rxe netdev eth0)',
    };
  }

  // librdmacm needs rdma_ucm's /dev/infiniband/rdma_cm; without it every rdma_cm call fails (ENODEV/ENOENT).
  try {
    addon.probeCm();
  } catch (err) {
    const { errno } = addonErrorInfo(err);
    return {
      available: false,
      reason: `rdma_ucm not loaded (rdma_create_event_channel: ${errno ?? 'error'}; hint: modprobe rdma_ucm)`,
    };
  }
  if (!existsSync('/dev/infiniband/rdma_cm')) {
    return {
      available: false,
      reason: 'rdma_ucm not loaded (/dev/infiniband/rdma_cm missing; hint: modprobe rdma_ucm)',
    };
  }
  return { available: true, devices };
}
