/**
 * Where the native tests find RDMA: probe()'s verdict (printed once as the skip reason) and the IPv4 address
 * of the netdev under the first RDMA device (rxe0 -> eth0 in the guest), unless ISER_RDMA_ADDR names one.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { probe, type ProbeResult } from '../../native/index.js';

/** probe() as the test files see it. */
export const found: ProbeResult = probe();

/** Why device tests skip here, or undefined where they run. */
export const skipReason: string | undefined = found.available ? undefined : found.reason;

/** True when device tests must run (ISER_REQUIRE_RDMA=1: the guest sets it, so a missing device fails). */
export const rdmaRequired = process.env.ISER_REQUIRE_RDMA === '1';

/** The address both ends of a test bind/connect to. */
export function rdmaAddress(): string {
  const fromEnv = process.env.ISER_RDMA_ADDR;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const device = found.available ? found.devices[0] : undefined;
  if (device === undefined) return '127.0.0.1';
  const dir = `/sys/class/infiniband/${device.name}/ports/1/gid_attrs/ndevs`;
  for (const entry of readdirSync(dir)) {
    try {
      const netdev = readFileSync(`${dir}/${entry}`, 'utf8').trim();
      const v4 = networkInterfaces()[netdev]?.find((a) => a.family === 'IPv4');
      if (v4 !== undefined) return v4.address;
    } catch {
      // unused GID slots have no netdev
    }
  }
  throw new Error(`no IPv4 address on the netdev of ${device.name}`);
}
