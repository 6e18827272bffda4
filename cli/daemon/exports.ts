/**
 * A session's LUNs as NBD exports: learn the disk LUNs of a freshly logged-in session, serve each as `lun<N>`, and
 * move exports to a replacement session (`ctl -M`) without changing their address.
 */
import type { NbdServer } from '../../nbd/server.js';
import type { Lun } from '../../protocol/initiator/lun.js';
import type { Session } from '../../protocol/initiator/session.js';
import { bounded, clearUnitAttention } from '../session.js';
import { LunBlockDevice } from './lun-device.js';
import type { LunInfo } from './protocol.js';

/** How long one SCSI command of the daemon's own (REPORT LUNS, READ CAPACITY) may take. */
const COMMAND_TIMEOUT_MS = 10_000;
/** Largest NBD request payload. */
const MAX_PAYLOAD = 4 * 1024 * 1024;

/** A disk LUN of a freshly logged-in session, before it is exported. */
export interface ProbedLun {
  readonly number: number;
  readonly lun: Lun;
  readonly blocks: bigint;
  readonly blockSize: number;
  readonly thin: boolean;
}

/** A LUN served over NBD: its device (which `-M` rebinds) and what `-L` shows of it. */
export interface Exported {
  readonly device: LunBlockDevice;
  readonly info: LunInfo;
}

/** Clears the power-on UNIT ATTENTIONs and learns the disk LUNs of a new session (others are not exported). */
export async function probeLuns(session: Session): Promise<ProbedLun[]> {
  const lun0 = session.lun(0);
  await clearUnitAttention(lun0, COMMAND_TIMEOUT_MS);
  const report = await bounded(lun0.reportLuns(), COMMAND_TIMEOUT_MS, 'REPORT LUNS');
  const probed: ProbedLun[] = [];
  for (const number of report.luns) {
    const lun = session.lun(number);
    await clearUnitAttention(lun, COMMAND_TIMEOUT_MS);
    const inquiry = await bounded(lun.inquiry(), COMMAND_TIMEOUT_MS, 'INQUIRY');
    if (inquiry.deviceType !== 0) continue; // only block devices go to NBD
    const capacity = await bounded(lun.readCapacity(), COMMAND_TIMEOUT_MS, 'READ CAPACITY');
    const { blocks, blockSize, thinProvisioned: thin } = capacity;
    probed.push({ number, lun, blocks, blockSize, thin });
  }
  return probed;
}

/** Serves `probed` as the NBD export `lun<N>` of `nbd` (listening at `nbdPath`). */
export function exportLun(nbd: NbdServer, nbdPath: string, session: Session, probed: ProbedLun): Exported {
  const name = `lun${probed.number}`;
  const device = new LunBlockDevice(probed.lun, probed.blocks, probed.blockSize, probed.thin);
  nbd.addExport({
    name,
    description: `${session.targetName ?? ''} LUN ${probed.number}`,
    device,
    maxPayload: MAX_PAYLOAD,
  });
  const info: LunInfo = {
    lun: probed.number,
    blocks: probed.blocks.toString(),
    blockSize: probed.blockSize,
    nbd: `nbd+unix:///${name}?socket=${nbdPath}`,
  };
  return { device, info };
}

/**
 * Points `current` exports of `nbd` at `session`'s `probed` LUNs: a LUN of the same size keeps its export (its
 * device is rebound, connected clients stay), others are removed or added. Returns the new exports and the
 * removals in progress (each ends once its clients' running requests have).
 */
export function rebindExports(
  nbd: NbdServer,
  nbdPath: string,
  current: ReadonlyMap<number, Exported>,
  session: Session,
  probed: readonly ProbedLun[],
): { exports: Map<number, Exported>; removed: Promise<void>[] } {
  const removed: Promise<void>[] = [];
  const remove = (exported: Exported): void => {
    removed.push(nbd.removeExport(`lun${exported.info.lun}`).catch(() => undefined));
  };
  const exports = new Map<number, Exported>();
  for (const p of probed) {
    const kept = current.get(p.number);
    if (kept?.info.blocks === p.blocks.toString() && kept.info.blockSize === p.blockSize) {
      kept.device.rebind(p.lun);
      exports.set(p.number, kept);
      continue;
    }
    if (kept !== undefined) remove(kept);
    exports.set(p.number, exportLun(nbd, nbdPath, session, p));
  }
  for (const [number, exported] of current) if (!exports.has(number)) remove(exported);
  return { exports, removed };
}
