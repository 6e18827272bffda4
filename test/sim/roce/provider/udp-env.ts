/**
 * Two soft-RoCE devices on real UDP over loopback in real time: 127.x.y.1 (a) and 127.x.y.2 (b) on a random
 * loopback net per environment, port 4791 each (or ephemeral ports when 4791 is taken). Every wait is bounded;
 * sockets are closed on dispose.
 */
import { randomInt } from 'node:crypto';
import { asyncScheduler } from 'rxjs';
import { PcapTap } from '../../../../sim/roce/link/pcap-tap.js';
import { UdpLink, type UdpLinkOptions } from '../../../../sim/roce/link/udp-link.js';
import type { SoftRoceOptions } from '../../../../sim/roce/provider/options.js';
import { SoftRoceProvider } from '../../../../sim/roce/provider/provider.js';
import type { VerbsContractEnv } from '../../../support/verbs-contract.js';

/** The environment plus its link and tap. */
export interface UdpEnv extends VerbsContractEnv {
  readonly a: SoftRoceProvider;
  readonly b: SoftRoceProvider;
  readonly link: UdpLink;
  readonly tap: PcapTap;
}

/** Rejects with a clear message when `work` takes longer than `ms` of real time. */
export function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what} did not finish within ${ms} ms of real time`));
    }, ms);
  });
  return Promise.race([work, deadline]).finally(() => {
    clearTimeout(timer);
  });
}

/** Two addresses on a random 127.x.y.0/24 (127.0.0.0/16 left to tests that name their addresses). */
export function loopbackPair(): [string, string] {
  const net = `127.${randomInt(64, 250)}.${randomInt(1, 250)}`;
  return [`${net}.1`, `${net}.2`];
}

/** Options of {@link makeUdpEnv}. */
export interface UdpEnvOptions {
  readonly addresses?: readonly [string, string];
  readonly link?: UdpLinkOptions;
  /** One link per device instead of a shared one (e.g. two endpoints on ::1). */
  readonly links?: readonly [UdpLink, UdpLink];
  readonly provider?: Partial<Omit<SoftRoceOptions, 'address' | 'link' | 'scheduler'>>;
  /** Bound on each `run`, ms of real time; default 20 s. */
  readonly runTimeoutMs?: number;
}

/** Opens both devices. */
export async function makeUdpEnv(options: UdpEnvOptions = {}): Promise<UdpEnv> {
  // A net of its own: test files run in parallel, and two devices on one address would share 4791 (the second
  // falls back to an ephemeral port), so another file's device, sending to 4791, would reach ours.
  const [addressA, addressB] = options.addresses ?? loopbackPair();
  const tap = new PcapTap(asyncScheduler);
  const link = new UdpLink({ tap, ...options.link });
  const [linkA, linkB] = options.links ?? [link, link];
  const common = { scheduler: asyncScheduler, minRnrTimer: 1, ...options.provider };
  const a = await SoftRoceProvider.open({ ...common, link: linkA, address: addressA });
  let b: SoftRoceProvider;
  try {
    b = await SoftRoceProvider.open({ ...common, link: linkB, address: addressB });
  } catch (error) {
    await a.close();
    throw error;
  }
  const runTimeoutMs = options.runTimeoutMs ?? 20_000;
  return {
    a,
    b,
    link,
    tap,
    addressOfB: b.address,
    run: (work) => within(work, runTimeoutMs, 'a soft-RoCE UDP operation'),
    settle: () => new Promise((resolve) => setTimeout(resolve, 50)),
    async dispose(): Promise<void> {
      await a.close();
      await b.close();
    },
  };
}
