/**
 * Our initiator, logged in and ready to read: a session through any connector (TCP or iSER) and a `Lun` whose
 * size is known. It negotiates MaxRecvDataSegmentLength=262144 as libiscsi does, so a target splits reads into
 * Data-In PDUs of the same size for us as for iscsi-perf (RFC's 8192 would mean 32x more PDUs per 1 MiB read).
 */
import type { SchedulerLike } from 'rxjs';
import type { DatamoverConnector, PortalAddress } from '../../protocol/datamover.js';
import { login } from '../../protocol/initiator/login.js';
import type { Lun } from '../../protocol/initiator/lun.js';
import type { Session } from '../../protocol/initiator/session.js';
import type { NegotiationConfig } from '../../protocol/text/config.js';

export const BENCH_INITIATOR_NAME = 'iqn.2024-01.org.iser-bench:initiator';

/** libiscsi's MaxRecvDataSegmentLength (lib/init.c): what iscsi-perf declares. */
export const LIBISCSI_MAX_RECV_DATA_SEGMENT_LENGTH = 262144;

/** Where to log in. */
export interface OurLunOptions {
  readonly connector: DatamoverConnector;
  readonly portal: PortalAddress;
  readonly targetName: string;
  readonly lun: number;
  /** Clock of the session's timers (default real time). */
  readonly scheduler?: SchedulerLike;
  /** Negotiation on top of the libiscsi-like defaults. */
  readonly negotiation?: NegotiationConfig;
  /** Keepalive NOP-Out interval in ms (default: the session's own). */
  readonly nopIntervalMs?: number;
}

/** A logged-in LUN. */
export interface OurLun {
  readonly session: Session;
  readonly lun: Lun;
  readonly blockBytes: number;
  readonly blocks: number;
  /** Logs out (or just closes). */
  close(): Promise<void>;
}

/** Logs in and reads the capacity (a pending UNIT ATTENTION is consumed by a first TEST UNIT READY). */
export async function openOurLun(options: OurLunOptions): Promise<OurLun> {
  const session = await login({
    connector: options.connector,
    portal: options.portal,
    targetName: options.targetName,
    initiatorName: BENCH_INITIATOR_NAME,
    negotiation: { maxRecvDataSegmentLength: LIBISCSI_MAX_RECV_DATA_SEGMENT_LENGTH, ...options.negotiation },
    ...(options.scheduler === undefined ? {} : { scheduler: options.scheduler }),
    ...(options.nopIntervalMs === undefined ? {} : { session: { nopIntervalMs: options.nopIntervalMs } }),
  });
  try {
    const lun = session.lun(options.lun);
    await lun.promises.testUnitReady().catch(() => undefined); // power-on / new-nexus UNIT ATTENTION
    const capacity = await lun.promises.readCapacity();
    return {
      session,
      lun,
      blockBytes: capacity.blockSize,
      blocks: Number(capacity.blocks),
      close: () => session.close(),
    };
  } catch (err) {
    await session.close();
    throw err;
  }
}
