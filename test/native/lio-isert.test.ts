/**
 * Issue #6, must-show 2: OUR iSER initiator on the native addon (rdma-core over rxe0) against the Linux kernel's
 * iSER target (LIO + ib_isert), configured through configfs in the rxe guest. SendTargets discovery over iSER,
 * a login with RDMAExtensions=Yes, 64 MiB of seeded random I/O verified byte for byte, an ABORT TASK of a READ
 * held in LIO's backend (LUN 1: null_blk completing each I/O after 1.5 s; a ramdisk READ is over before any
 * abort reaches it), logout, and the LIO configuration removed again. Runs only inside the guest
 * (`npm run test:rxe`); elsewhere it skips with the reason.
 */
import { lastValueFrom } from 'rxjs';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeVerbs } from '../../native/index.js';
import { discover, login, type Session } from '../../protocol/initiator/index.js';
import { TaskManagementFunction, TaskManagementResponse } from '../../protocol/pdu/task-management.js';
import { IserConnector } from '../../transports/iser/index.js';
import { rdmaAddress } from './rdma-host.js';
import {
  counterDelta,
  guestProblem,
  guestSkipReason,
  mustRun,
  poll,
  run,
  rxeCounters,
  sleep,
} from './support/guest.js';
import { LioTarget } from './support/lio.js';
import { tappingConnector, type TappedPdu } from './support/pdu-tap.js';
import { verifiedIo } from './support/verified-io.js';

const IQN = 'iqn.2024-01.test.rxevm:lio-isert-native';
const INITIATOR = 'iqn.2024-01.test.rxevm:our-initiator';
const PORT = 3260;
const LUN_BYTES = 64 << 20;
const BLOCK = 512;
const SEED = 'issue-6/lio-isert';
const READ_10 = 0x28;
/** null_blk's completion delay for LUN 1 (irqmode=2: a timer per I/O). */
const SLOW_NS = 1_500_000_000;
const NULLB = '/dev/nullb0';

const skip = guestSkipReason();
if (skip !== undefined) console.warn(`SKIP our iSER initiator -> LIO isert: ${skip}`);

/** Prints a measured figure (the run's log is where the numbers are read from). */
function report(what: string): void {
  console.log(`[lio-isert] ${what}`);
}

const phases: string[] = [];
async function phase<T>(name: string, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await work();
  } finally {
    phases.push(`${name} ${((performance.now() - t0) / 1000).toFixed(1)}s`);
  }
}

describe.skipIf(skip !== undefined)('our iSER initiator (native addon) -> LIO isert on rxe0', () => {
  let host = '';
  let lio: LioTarget | undefined;
  let provider: NativeVerbs | undefined;
  let session: Session | undefined;
  let loadedNullBlk = false;
  const wire: TappedPdu[] = [];

  const connector = (): IserConnector => {
    if (provider === undefined) throw new Error('no provider');
    return new IserConnector(provider, { connectTimeoutMs: 15_000 });
  };
  const live = (): Session => {
    if (session === undefined) throw new Error('not logged in (an earlier step failed)');
    return session;
  };

  beforeAll(async () => {
    const problem = guestProblem(['modprobe']);
    if (problem !== undefined) throw new Error(`the guest cannot run this: ${problem}`);
    host = rdmaAddress();
    if (!existsSync(NULLB)) {
      await mustRun('modprobe', [
        'null_blk',
        'nr_devices=1',
        'gb=1',
        'queue_mode=2',
        'irqmode=2',
        `completion_nsec=${SLOW_NS}`,
      ]);
      loadedNullBlk = true;
    }
    expect(await poll(() => (existsSync(NULLB) ? true : undefined), 50, 100), `${NULLB} appears`).toBe(true);
    lio = await phase('lio-configfs', () =>
      LioTarget.create({
        iqn: IQN,
        host,
        port: PORT,
        bytes: LUN_BYTES,
        backstore: 'rd_mcp_42',
        iser: true,
        slowDevice: NULLB,
      }),
    );
    expect(lio.iserEnabled).toBe(true);
    report(`LIO ${IQN} on ${host}:${PORT} with iSER, 64 MiB rd_mcp LUN`);
    provider = NativeVerbs.open({ timeoutMs: 15_000, drainTimeoutMs: 3000 });
  }, 120_000);

  afterAll(async () => {
    await session?.close().catch(() => undefined);
    provider?.close();
    const left = lio?.remove() ?? [];
    if (loadedNullBlk) await run('rmmod', ['null_blk']);
    report(`phases: ${phases.join(', ')}`);
    if (left.length > 0) throw new Error(`LIO teardown left:\n${left.join('\n')}`);
    // Gone from configfs: the next test file starts from a clean LIO.
    expect(() => readFileSync(`/sys/kernel/config/target/iscsi/${IQN}/tpgt_1/enable`)).toThrow();
  }, 120_000);

  it('finds the target by SendTargets over iSER', async () => {
    report('discovery over iSER ...');
    const found = await phase('discovery', () =>
      discover({ host, port: PORT }, { connector: connector(), initiatorName: INITIATOR, loginTimeoutMs: 30_000 }),
    );
    report(`SendTargets: ${JSON.stringify(found)}`);
    const ours = found.find((t) => t.name === IQN);
    expect(ours, `${IQN} among ${found.map((t) => t.name).join(', ')}`).toBeDefined();
    expect(ours?.addresses.some((a) => a.host === host && a.port === PORT)).toBe(true);
  }, 120_000);

  it('logs in with RDMAExtensions=Yes and the iSER keys negotiated', async () => {
    session = await phase('login', () =>
      login({
        connector: tappingConnector(connector(), wire),
        portal: { host, port: PORT },
        targetName: IQN,
        initiatorName: INITIATOR,
        loginTimeoutMs: 30_000,
        // Real time, and keepalives would only add noise to the PDU log.
        session: { nopIntervalMs: 0, recovery: false },
      }),
    );
    const p = session.params;
    report(
      `negotiated: RDMAExtensions=${p.rdmaExtensions} IRDSL=${p.initiatorRecvDataSegmentLength} ` +
        `TRDSL=${p.targetRecvDataSegmentLength} MaxBurst=${p.maxBurstLength} FirstBurst=${p.firstBurstLength} ` +
        `ImmediateData=${p.immediateData} InitialR2T=${p.initialR2T} ERL=${p.errorRecoveryLevel} ` +
        `MaxOutstandingR2T=${p.maxOutstandingR2T} TSIH=${session.tsih}`,
    );
    expect(session.state).toBe('full-feature');
    expect(p.sessionType).toBe('Normal');
    expect(p.targetName).toBe(IQN);
    expect(p.rdmaExtensions).toBe(true);
    // iSER has no digests (RFC 7145 §6.1), and the RDSL keys replace MaxRecvDataSegmentLength (§6.2).
    expect(p.headerDigest).toBe('None');
    expect(p.dataDigest).toBe('None');
    expect(p.initiatorRecvDataSegmentLength).toBeGreaterThanOrEqual(512);
    expect(p.targetRecvDataSegmentLength).toBeGreaterThanOrEqual(512);
    expect(p.maxRecvDataSegmentLength.initiator).toBe(p.initiatorRecvDataSegmentLength);
    expect(p.maxRecvDataSegmentLength.target).toBe(p.targetRecvDataSegmentLength);
    expect(p.errorRecoveryLevel).toBe(0);
    expect(session.tsih).toBeGreaterThan(0);
    // LIO lists the session among the portal group's dynamic sessions.
    const sessions = readFileSync(`/sys/kernel/config/target/iscsi/${IQN}/tpgt_1/dynamic_sessions`, 'utf8');
    expect(sessions).toContain(INITIATOR);
  }, 120_000);

  it('writes 64 MiB of seeded random data in mixed sizes at queue depth 8 and reads it back identical', async () => {
    const lun = live().lun(0);
    const capacity = await lastValueFrom(lun.readCapacity());
    expect(capacity.blockSize).toBe(BLOCK);
    expect(Number(capacity.blocks) * BLOCK).toBe(LUN_BYTES);
    const counters = rxeCounters();
    const r = await phase('verified-io', () =>
      verifiedIo(lun, {
        seed: SEED,
        blockSize: BLOCK,
        blocks: LUN_BYTES / BLOCK,
        minBlocks: 1,
        maxBlocks: (1 << 20) / BLOCK,
        queueDepth: 8,
        opTimeoutMs: 60_000,
      }),
    );
    const mbs = (ms: number): string => (r.bytes / 1e6 / (ms / 1000)).toFixed(1);
    report(
      `verified I/O: ${r.writes} writes + ${r.reads} reads of ${r.smallestBytes}..${r.largestBytes} bytes; ` +
        `write ${mbs(r.writeMs)} MB/s (${(r.writeMs / 1000).toFixed(1)} s), read ${mbs(r.readMs)} MB/s ` +
        `(${(r.readMs / 1000).toFixed(1)} s), mismatches ${r.mismatches}`,
    );
    report(`rxe0 counters during the run: ${counterDelta(counters, rxeCounters())}`);
    expect(r.bytes).toBe(LUN_BYTES);
    expect(r.mismatches, `first difference at byte ${r.firstMismatchAt ?? -1}`).toBe(0);
    expect(r.smallestBytes).toBeLessThan(64 * 1024);
    expect(r.largestBytes).toBeGreaterThanOrEqual(512 * 1024);
  }, 600_000);

  it('aborts an in-flight READ with ABORT TASK: Function Complete, no status for it, the session goes on', async () => {
    const s = live();
    // LUN 1 is null_blk completing each I/O after SLOW_NS: LIO holds the READ in its backend while we abort it.
    // The block size is given, so the READ goes out at subscription (no READ CAPACITY first).
    const slow = s.lun(1, { blockSize: BLOCK });
    // LUN 1 was added with the target: LIO reports that as a unit attention first. Take it now.
    for (let i = 0; i < 3; i++) {
      const ready = await lastValueFrom(slow.testUnitReady(), { defaultValue: undefined }).then(
        () => true,
        () => false,
      );
      if (ready) break;
    }
    const outcomes: string[] = [];
    let aborted = false;
    for (let attempt = 0; attempt < 3 && !aborted; attempt++) {
      const mark = wire.length;
      let ended: string | undefined;
      const sub = slow.read(attempt * 128, 128).subscribe({
        next: () => (ended = 'completed'),
        error: (err: unknown) => (ended = `failed: ${String(err)}`),
      });
      await sleep(300); // on the wire at once; this lets LIO pass it to the backend
      sub.unsubscribe();
      const cmd = wire
        .slice(mark)
        .map((t) => t.pdu)
        .find((pdu) => pdu.kind === 'scsi-command' && pdu.cdb[0] === READ_10);
      if (ended !== undefined || cmd?.kind !== 'scsi-command') {
        outcomes.push(`attempt ${attempt}: READ ${ended ?? 'not sent'} before the abort`);
        continue;
      }
      const itt = cmd.itt;
      const tmf = wire
        .slice(mark)
        .map((t) => t.pdu)
        .find(
          (pdu) =>
            pdu.kind === 'task-management-request' &&
            pdu.function === TaskManagementFunction.AbortTask &&
            pdu.referencedTaskTag === itt,
        );
      expect(tmf, 'unsubscribing a sent READ sends ABORT TASK naming it').toBeDefined();
      const tmfItt = tmf?.kind === 'task-management-request' ? tmf.itt : -1;
      expect(tmf?.kind === 'task-management-request' && tmf.refCmdSN === cmd.cmdSN).toBe(true);
      const answerAt = await poll(
        () => {
          const i = wire.findIndex(
            (t, k) =>
              k >= mark &&
              t.direction === 'received' &&
              t.pdu.kind === 'task-management-response' &&
              t.pdu.itt === tmfItt,
          );
          return i < 0 ? undefined : i;
        },
        300,
        50,
      );
      expect(answerAt, 'LIO answers the ABORT TASK within 15 s').toBeDefined();
      const answer = wire[answerAt ?? -1]?.pdu;
      const response = answer?.kind === 'task-management-response' ? answer.response : -1;
      const statusOf = (from: number, to?: number): boolean =>
        wire
          .slice(from, to)
          .some((t) => t.direction === 'received' && t.pdu.kind === 'scsi-response' && t.pdu.itt === itt);
      outcomes.push(
        `attempt ${attempt}: ABORT TASK -> response ${response}, status before it: ${statusOf(mark, answerAt)}`,
      );
      if (response === TaskManagementResponse.FunctionComplete) {
        // Aborted in flight: no status for it, then or after the backend's I/O would have completed.
        await sleep(SLOW_NS / 1e6 + 1000);
        expect(statusOf(mark), 'no SCSI Response for the aborted READ').toBe(false);
        aborted = true;
      } else {
        // The only other right answer: the READ was already over (its status came first).
        expect(response).toBe(TaskManagementResponse.TaskDoesNotExist);
        expect(statusOf(mark, answerAt)).toBe(true);
      }
    }
    report(`abort: ${outcomes.join('; ')}`);
    expect(aborted, `an ABORT TASK caught a READ in flight (${outcomes.join('; ')})`).toBe(true);
    // The session survived: commands after the abort work, on both LUNs.
    expect(s.state).toBe('full-feature');
    await lastValueFrom(slow.testUnitReady(), { defaultValue: undefined });
    const back = await lastValueFrom(s.lun(0, { blockSize: BLOCK }).read(0, 8));
    expect(back.length).toBe(8 * BLOCK);
  }, 180_000);

  it('logs out, and LIO drops the session', async () => {
    const s = live();
    const result = await phase('logout', () => s.logout());
    report(`logout: Time2Wait=${result.time2Wait} Time2Retain=${result.time2Retain}`);
    session = undefined;
    await s.close();
    const gone = await poll(
      () => {
        const left = readFileSync(`/sys/kernel/config/target/iscsi/${IQN}/tpgt_1/dynamic_sessions`, 'utf8');
        return left.includes(INITIATOR) ? undefined : true;
      },
      100,
      100,
    );
    expect(gone, 'LIO still lists our session 10 s after logout').toBe(true);
    const counts = new Map<string, number>();
    for (const t of wire)
      counts.set(`${t.direction} ${t.pdu.kind}`, (counts.get(`${t.direction} ${t.pdu.kind}`) ?? 0) + 1);
    report(`PDUs: ${[...counts].map(([k, n]) => `${k}=${n}`).join(', ')}`);
  }, 60_000);
});
