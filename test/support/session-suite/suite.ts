/**
 * The session suite: one set of end-to-end tests of our initiator, declared against any (target, transport)
 * fixture. Every data check is byte for byte against a {@link LunModel}; every wait is bounded on the fixture's
 * scheduler; a capability the fixture lacks skips its test with the reason printed.
 *
 * Tests run in order on one fixture and share one model per LUN. A test that breaks off forgets the model
 * (its blocks become "unknown until read"), so one failure does not cascade into the tests after it.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { discover, INITIATOR_CHANNEL, type Lun } from '../../../protocol/initiator/index.js';
import { LoginError } from '../../../protocol/login/errors.js';
import { LoginStatus } from '../../../protocol/pdu/login.js';
import { TaskManagementFunction, TaskManagementResponse } from '../../../protocol/pdu/task-management.js';
import { InitiatorSessionError } from '../../../protocol/session/initiator-errors.js';
import type { SessionEvent } from '../../../protocol/session/initiator-types.js';
import { ScsiStatusError } from '../../../protocol/scsi/errors.js';
import { SenseKey } from '../../../protocol/scsi/sense-codes.js';
import { DataPattern } from './data-pattern.js';
import type { SessionFixture, SuiteCapabilities, SuiteLun, SuiteTarget } from './fixture.js';
import { describeVerdict, LunModel } from './lun-model.js';
import { firstLun, openSession, readyLun, withSession } from './session-helpers.js';
import { decodeDirection, pdusOfKind } from './wire.js';
import { bounded, runWorkload, verifyRegion, type BlockRegion, type WorkloadReport } from './workload.js';

/** Options of {@link sessionSuite}. */
export interface SessionSuiteOptions {
  /** Skip the whole suite with this reason (e.g. a tool is missing). */
  readonly skip?: string;
  /** Seed of the random workloads (default: ISER_SEED, else a fixed one). */
  readonly seed?: string;
}

/** Is the long (1 GiB) run asked for? */
export const LONG_TESTS = process.env.ISER_LONG_TESTS === '1';

/** Bound on what a wire capture keeps per connection and direction. */
const WIRE_CAPTURE_BYTES = 64 << 20;

/** Bound on the long run (1 GiB at a few MiB/s at worst). */
const LONG_TEST_TIMEOUT_MS = 60 * 60_000;

/** Blocks at the start of the first LUN kept for the single-command tests; workloads use the rest. */
const SPECIAL_BYTES = 1 << 20;

/** Declares the suite's tests in a `describe(name)` block run against the fixture `makeFixture` builds. */
export function sessionSuite(
  name: string,
  makeFixture: () => Promise<SessionFixture>,
  options: SessionSuiteOptions = {},
): void {
  const seed = options.seed ?? process.env.ISER_SEED ?? 'session-suite-1';
  describe.skipIf(options.skip !== undefined)(name, () => {
    let fixture: SessionFixture | undefined;
    const models = new Map<string, LunModel>();

    beforeAll(async () => {
      fixture = await makeFixture();
      console.info(`[${name}] workload seed: ${seed} (set ISER_SEED to change it)`);
    });
    afterAll(async () => {
      await fixture?.teardown();
    });

    const fx = (): SessionFixture => {
      if (fixture === undefined) throw new Error('the fixture did not start (see beforeAll)');
      return fixture;
    };
    const modelOf = (target: SuiteTarget, lun: SuiteLun): LunModel => {
      const key = `${target.targetName}/${lun.lun}`;
      let model = models.get(key);
      if (model === undefined) {
        model = new LunModel(lun.blockSize, lun.blocks);
        models.set(key, model);
      }
      return model;
    };
    /** Skips (with the reason printed) unless the fixture claims `capability`. */
    const need = (ctx: TestContext, capability: keyof SuiteCapabilities): void => {
      if (fx().capabilities[capability]) return;
      const reason = `SKIP: ${name} does not claim ${capability}`;
      console.warn(reason);
      ctx.skip(reason);
    };
    /** Runs a test body that changes `model`; if it breaks off, what it touched is unknown. */
    const guarded = async (model: LunModel, body: () => Promise<void>): Promise<void> => {
      try {
        await body();
      } catch (err) {
        model.forgetAll();
        throw err;
      }
    };
    const special = (lun: SuiteLun): BlockRegion => ({ lba: 0, blocks: Math.floor(SPECIAL_BYTES / lun.blockSize) });
    const workRegion = (lun: SuiteLun): BlockRegion => {
      const start = special(lun).blocks;
      return { lba: start, blocks: lun.blocks - start };
    };
    const expectClean = (report: WorkloadReport): void => {
      expect(report.mismatches, 'reads that differ from the model').toEqual([]);
      expect(
        report.failures.map((f) => `op ${f.op.index} ${f.op.kind}: ${String(f.error)}`),
        'operations that failed',
      ).toEqual([]);
    };

    // ------------------------------------------------------------------------------------------ discovery

    it('discovery: SendTargets lists the target at its portal', async () => {
      const f = fx();
      const found = await discover(f.discoveryPortal, {
        connector: f.connector(),
        initiatorName: f.initiatorName,
        scheduler: f.scheduler,
        loginTimeoutMs: 10_000,
      });
      const entry = found.find((t) => t.name === f.target.targetName);
      expect(entry, `SendTargets answer: ${JSON.stringify(found)}`).toBeDefined();
      expect(entry?.addresses.map((a) => `${a.host}:${a.port ?? 3260}`)).toContain(
        `${f.target.announcedPortal.host}:${f.target.announcedPortal.port}`,
      );
    });

    // ------------------------------------------------------------------------------------------- login

    it('logs in without authentication and logs out', async () => {
      const f = fx();
      const session = await openSession(f, f.target);
      try {
        expect(session.state).toBe('full-feature');
        expect(session.targetName).toBe(f.target.targetName);
        expect(session.tsih).toBeGreaterThan(0);
        expect(session.params.errorRecoveryLevel).toBe(0);
        const lun = await readyLun(session, firstLun(f.target), f);
        await bounded(lun.testUnitReady(), f.workload.opTimeoutMs, f.scheduler);
        const result = await session.logout();
        expect(result.time2Wait).toBeGreaterThanOrEqual(0);
        expect(result.time2Retain).toBeGreaterThanOrEqual(0);
        expect(session.state).toBe('logged-out');
        await session.ended;
        // A logged-out session takes nothing more, and says so with a typed error.
        const after = await bounded(lun.testUnitReady(), f.workload.opTimeoutMs, f.scheduler).catch(
          (err: unknown) => err,
        );
        expect(after).toBeInstanceOf(InitiatorSessionError);
        expect((after as InitiatorSessionError).code).toMatch(/^ERR_SESSION_(LOGGED_OUT|CLOSED)$/);
      } finally {
        await session.close();
      }
    });

    it('logs in with CHAP', async (ctx) => {
      need(ctx, 'supportsChap');
      const f = fx();
      const target = f.chapTarget;
      expect(target?.chap, 'a fixture that claims CHAP has a CHAP target').toBeDefined();
      if (target === undefined) return;
      await withSession(f, target, async (session) => {
        expect(session.state).toBe('full-feature');
        const suiteLun = firstLun(target);
        const lun = await readyLun(session, suiteLun, f);
        const model = modelOf(target, suiteLun);
        await guarded(model, async () => {
          const data = new DataPattern(`${seed}/chap`).bytes(0, 8 * suiteLun.blockSize);
          await bounded(lun.write(8, data), f.workload.opTimeoutMs, f.scheduler);
          model.written(8, data);
          const back = await bounded(lun.read(0, 32), f.workload.opTimeoutMs, f.scheduler);
          const verdict = model.verifyRead(0, back);
          expect(verdict.ok, describeVerdict(verdict, 'CHAP session read-back')).toBe(true);
        });
      });
    });

    it('refuses a wrong CHAP secret with status 0x0201 and a typed error that does not reveal the secret', async (ctx) => {
      need(ctx, 'supportsChap');
      const f = fx();
      const target = f.chapTarget;
      if (target?.chap === undefined) throw new Error('a fixture that claims CHAP has a CHAP target');
      const wrongSecret = `wrong-${target.chap.secret}-x`;
      const published: unknown[] = [];
      const listener = (message: unknown): void => {
        published.push(message);
      };
      diagnosticsChannel.subscribe(INITIATOR_CHANNEL, listener);
      let error: unknown;
      try {
        const session = await openSession(f, target, {
          auth: { method: 'CHAP', credentials: { user: target.chap.user, secret: wrongSecret } },
        });
        await session.close();
      } catch (err) {
        error = err;
      } finally {
        diagnosticsChannel.unsubscribe(INITIATOR_CHANNEL, listener);
      }
      expect(error).toBeInstanceOf(LoginError);
      const loginError = error as LoginError;
      expect(loginError.code).toBe('ERR_LOGIN_AUTHENTICATION_FAILED');
      expect(loginError.status).toBe(LoginStatus.AuthenticationFailure);
      expect([loginError.statusClass, loginError.statusDetail]).toEqual([2, 1]);
      expect(loginError.retryable).toBe(false);
      expect(loginError.message).toContain('0x0201');
      // Nowhere a person or a log could see it: message, stack, inspection (with causes), JSON, diagnostics.
      const renderings = [
        String(loginError),
        loginError.stack ?? '',
        inspect(loginError, { depth: 10 }),
        JSON.stringify(loginError),
        JSON.stringify(published),
      ];
      for (const secret of [wrongSecret, target.chap.secret]) {
        for (const text of renderings) expect(text).not.toContain(secret);
      }
      expect(published.length).toBeGreaterThan(0);
    });

    it('refuses a login without authentication to a target that requires CHAP', async (ctx) => {
      need(ctx, 'supportsChap');
      const f = fx();
      const target = f.chapTarget;
      if (target === undefined) throw new Error('a fixture that claims CHAP has a CHAP target');
      const error = await openSession(f, target, { auth: { method: 'None' } }).then(
        async (session) => {
          await session.close();
          return undefined;
        },
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(LoginError);
      expect((error as LoginError).statusClass).toBe(2);
    });

    // ------------------------------------------------------------------------------------------ digests

    it('negotiates CRC32C header and data digests and uses them on the wire', async (ctx) => {
      need(ctx, 'supportsDigests');
      const f = fx();
      const suiteLun = firstLun(f.target);
      const model = modelOf(f.target, suiteLun);
      const capture = f.wire?.capture(WIRE_CAPTURE_BYTES);
      let report: WorkloadReport | undefined;
      await guarded(model, () =>
        withSession(
          f,
          f.target,
          async (session) => {
            expect(session.params.headerDigest).toBe('CRC32C');
            expect(session.params.dataDigest).toBe('CRC32C');
            const lun = await readyLun(session, suiteLun, f);
            report = await runWorkload(lun, model, {
              seed: `${seed}/digests`,
              ops: 40,
              queueDepth: 8,
              region: workRegion(suiteLun),
              scheduler: f.scheduler,
              opTimeoutMs: f.workload.opTimeoutMs,
            });
            expectClean(report);
          },
          { negotiation: { headerDigest: ['CRC32C'], dataDigest: ['CRC32C'] } },
        ),
      ).finally(() => capture?.stop());
      if (capture === undefined || report === undefined) return;
      // The proxy's bytes, framed independently with digests on: every CRC32C must check out.
      const recordings = capture.recordings();
      expect(recordings.length, 'connections the proxy saw').toBe(1);
      const recording = recordings[0];
      if (recording === undefined) return;
      expect(recording.truncated).toBe(false);
      const digests = { headerDigest: true, dataDigest: true };
      for (const [direction, bytes] of [
        ['initiator → target', recording.toTarget],
        ['target → initiator', recording.toInitiator],
      ] as const) {
        const decoded = decodeDirection(bytes, digests);
        expect(decoded.error?.message, `${direction}: framing with digests`).toBeUndefined();
        expect(decoded.dataDigestErrors, `${direction}: data digest errors`).toBe(0);
        expect(decoded.trailingBytes, `${direction}: bytes left over`).toBe(0);
      }
      const toTarget = decodeDirection(recording.toTarget, digests).pdus;
      const toInitiator = decodeDirection(recording.toInitiator, digests).pdus;
      // TEST UNIT READYs, then one command per operation.
      const commands = toTarget.filter((p) => p.kind === 'scsi-command').length;
      expect(commands).toBeGreaterThanOrEqual(report.ops);
      const dataPdus = [...toTarget, ...toInitiator].filter(
        (p) => (p.kind === 'scsi-data-out' || p.kind === 'scsi-data-in') && p.data.length > 0,
      ).length;
      expect(dataPdus, 'data PDUs (each carried a data digest)').toBeGreaterThan(0);
    });

    // --------------------------------------------------------------------------------------- SCSI basics

    it('INQUIRY, READ CAPACITY and REPORT LUNS describe the units as configured', async () => {
      const f = fx();
      await withSession(f, f.target, async (session) => {
        for (const suiteLun of f.target.luns) {
          const lun = await readyLun(session, suiteLun, f);
          const inquiry = await bounded(lun.inquiry(), f.workload.opTimeoutMs, f.scheduler);
          expect(inquiry.qualifier).toBe(0);
          expect(inquiry.deviceType).toBe(0); // direct-access block device
          expect(inquiry.vendor.trim().length).toBeGreaterThan(0);
          expect(inquiry.product.trim().length).toBeGreaterThan(0);
          const capacity = await bounded(lun.readCapacity(), f.workload.opTimeoutMs, f.scheduler);
          expect(capacity.blockSize).toBe(suiteLun.blockSize);
          expect(capacity.blocks).toBe(BigInt(suiteLun.blocks));
          expect(capacity.lastLba).toBe(BigInt(suiteLun.blocks - 1));
          const reported = await bounded(lun.reportLuns(), f.workload.opTimeoutMs, f.scheduler);
          expect(reported.luns).toContain(suiteLun.lun);
        }
      });
    });

    // -------------------------------------------------------------------------------------- data: random

    it('random-size reads and writes, one at a time, match the model byte for byte', async () => {
      const f = fx();
      const suiteLun = firstLun(f.target);
      const model = modelOf(f.target, suiteLun);
      await guarded(model, () =>
        withSession(f, f.target, async (session) => {
          const lun = await readyLun(session, suiteLun, f);
          const report = await runWorkload(lun, model, {
            seed: `${seed}/serial`,
            ops: Math.max(20, Math.floor(f.workload.ops / 3)),
            queueDepth: 1,
            region: workRegion(suiteLun),
            scheduler: f.scheduler,
            opTimeoutMs: f.workload.opTimeoutMs,
          });
          expectClean(report);
          expect(report.maxInFlight).toBe(1);
          expect(report.reads).toBeGreaterThan(0);
          expect(report.writes).toBeGreaterThan(0);
        }),
      );
    });

    it('every LUN, whatever its block size, takes random reads and writes that match the model', async (ctx) => {
      const f = fx();
      const others = f.target.luns.slice(1);
      if (others.length === 0) ctx.skip(`SKIP: ${name} has a single LUN`);
      await withSession(f, f.target, async (session) => {
        for (const suiteLun of others) {
          const model = modelOf(f.target, suiteLun);
          await guarded(model, async () => {
            const lun = await readyLun(session, suiteLun, f);
            const report = await runWorkload(lun, model, {
              seed: `${seed}/lun-${suiteLun.lun}`,
              ops: 40,
              queueDepth: 8,
              scheduler: f.scheduler,
              opTimeoutMs: f.workload.opTimeoutMs,
            });
            expectClean(report);
            const problems = await verifyRegion(
              lun,
              model,
              { lba: 0, blocks: suiteLun.blocks },
              { queueDepth: 4, scheduler: f.scheduler, opTimeoutMs: f.workload.opTimeoutMs },
            );
            expect(problems).toEqual([]);
          });
        }
      });
    });

    it('concurrent random reads and writes at queue depth 32 match the model, and read back whole', async (ctx) => {
      const f = fx();
      const suiteLun = firstLun(f.target);
      const model = modelOf(f.target, suiteLun);
      await guarded(model, () =>
        withSession(f, f.target, async (session) => {
          const lun = await readyLun(session, suiteLun, f);
          const region = workRegion(suiteLun);
          const report = await runWorkload(lun, model, {
            seed: `${seed}/concurrent`,
            ops: f.workload.ops,
            queueDepth: 32,
            region,
            scheduler: f.scheduler,
            opTimeoutMs: f.workload.opTimeoutMs,
          });
          expectClean(report);
          expect(report.maxInFlight, 'commands in flight at once').toBeGreaterThanOrEqual(16);
          const problems = await verifyRegion(lun, model, region, {
            queueDepth: 8,
            scheduler: f.scheduler,
            opTimeoutMs: f.workload.opTimeoutMs,
          });
          expect(problems).toEqual([]);
          await ctx.annotate(
            `${report.ops} ops (${report.reads} reads, ${report.writes} writes), ` +
              `${((report.bytesRead + report.bytesWritten) / 2 ** 20).toFixed(1)} MiB, ` +
              `max ${report.maxInFlight} in flight, ${report.unitAttentions} UA retries`,
          );
        }),
      );
    });

    // ------------------------------------------------------------------------------ data: other commands

    const specialTest = (
      title: string,
      capability: keyof SuiteCapabilities,
      body: (lun: Lun, model: LunModel, suiteLun: SuiteLun, f: SessionFixture) => Promise<void>,
    ): void => {
      it(title, async (ctx) => {
        need(ctx, capability);
        const f = fx();
        const suiteLun = firstLun(f.target);
        const model = modelOf(f.target, suiteLun);
        await guarded(model, () =>
          withSession(f, f.target, async (session) => {
            const lun = await readyLun(session, suiteLun, f);
            await body(lun, model, suiteLun, f);
          }),
        );
      });
    };
    const readBack = async (lun: Lun, model: LunModel, region: BlockRegion, f: SessionFixture): Promise<void> => {
      const data = await bounded(lun.read(region.lba, region.blocks), f.workload.opTimeoutMs, f.scheduler);
      const verdict = model.verifyRead(region.lba, data);
      expect(verdict.ok, describeVerdict(verdict, `read-back of LBA ${region.lba}+${region.blocks}`)).toBe(true);
    };

    specialTest('WRITE SAME repeats one block over a range', 'writeSame', async (lun, model, suiteLun, f) => {
      const block = new DataPattern(`${seed}/write-same`).bytes(0, suiteLun.blockSize);
      const range = { lba: 16, blocks: 48 };
      await bounded(lun.writeSame(range.lba, range.blocks, { data: block }), f.workload.opTimeoutMs, f.scheduler);
      model.written(range.lba, Buffer.concat(Array.from({ length: range.blocks }, () => block)));
      await readBack(lun, model, { lba: 0, blocks: 128 }, f);
    });

    specialTest('UNMAP deallocates a range (zeros where LBPRZ says so)', 'unmap', async (lun, model, suiteLun, f) => {
      const range = { lba: 200, blocks: 64 };
      const data = new DataPattern(`${seed}/unmap`).bytes(0, range.blocks * suiteLun.blockSize);
      await bounded(lun.write(range.lba, data), f.workload.opTimeoutMs, f.scheduler);
      model.written(range.lba, data);
      const capacity = await bounded(lun.readCapacity(), f.workload.opTimeoutMs, f.scheduler);
      expect(capacity.thinProvisioned, 'a unit that takes UNMAP reports LBPME').toBe(true);
      await bounded(lun.unmap([range]), f.workload.opTimeoutMs, f.scheduler);
      if (capacity.unmappedReadsZeros) model.written(range.lba, Buffer.alloc(data.length));
      else model.forget(range.lba, range.blocks);
      await readBack(lun, model, { lba: 192, blocks: 80 }, f);
    });

    specialTest(
      'COMPARE AND WRITE writes on a match and reports MISCOMPARE (changing nothing) otherwise',
      'compareAndWrite',
      async (lun, model, suiteLun, f) => {
        const pattern = new DataPattern(`${seed}/caw`);
        const lba = 300;
        const blocks = 4;
        const length = blocks * suiteLun.blockSize;
        const first = pattern.bytes(0, length);
        await bounded(lun.write(lba, first), f.workload.opTimeoutMs, f.scheduler);
        model.written(lba, first);
        const second = pattern.bytes(1, length);
        await bounded(lun.compareAndWrite(lba, first, second), f.workload.opTimeoutMs, f.scheduler);
        model.written(lba, second);
        await readBack(lun, model, { lba, blocks }, f);
        // Compare against stale data: MISCOMPARE, and the blocks keep `second`.
        const third = pattern.bytes(2, length);
        const error = await bounded(lun.compareAndWrite(lba, first, third), f.workload.opTimeoutMs, f.scheduler).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(error).toBeInstanceOf(ScsiStatusError);
        expect((error as ScsiStatusError).sense?.key).toBe(SenseKey.Miscompare);
        await readBack(lun, model, { lba, blocks }, f);
      },
    );

    specialTest(
      'SYNCHRONIZE CACHE succeeds, for the whole unit and for a range',
      'synchronizeCache',
      async (lun, model, suiteLun, f) => {
        const data = new DataPattern(`${seed}/sync`).bytes(0, 8 * suiteLun.blockSize);
        await bounded(lun.write(400, data, { fua: true }), f.workload.opTimeoutMs, f.scheduler);
        model.written(400, data);
        await bounded(lun.sync(), f.workload.opTimeoutMs, f.scheduler);
        await bounded(lun.sync({ lba: 400, blocks: 8 }), f.workload.opTimeoutMs, f.scheduler);
        await readBack(lun, model, { lba: 400, blocks: 8 }, f);
      },
    );

    // ---------------------------------------------------------------------------------------------- TMF

    it('unsubscribing aborts in-flight commands (ABORT TASK); the session stays usable and the data consistent', async () => {
      const f = fx();
      const suiteLun = firstLun(f.target);
      const model = modelOf(f.target, suiteLun);
      const capture = f.wire?.capture(WIRE_CAPTURE_BYTES);
      const region = { lba: 1024, blocks: special(suiteLun).blocks - 1024 };
      const pattern = new DataPattern(`${seed}/abort`);
      await guarded(model, () =>
        withSession(f, f.target, async (session) => {
          const lun = await readyLun(session, suiteLun, f);
          const errors: unknown[] = [];
          const swallow = { error: (err: unknown) => errors.push(err) };
          // 1. A large write, unsubscribed as soon as it is sent: the target holds it waiting for its data.
          const chunk = Math.min(region.blocks, Math.floor((1 << 20) / suiteLun.blockSize) / 2);
          const big = pattern.bytes(0, chunk * suiteLun.blockSize);
          lun.write(region.lba, big).subscribe(swallow).unsubscribe();
          model.mayHaveWritten(region.lba, big);
          // 2. A read, likewise.
          lun
            .read(region.lba + chunk, chunk)
            .subscribe(swallow)
            .unsubscribe();
          // 3. Sixteen small writes at once; every other one is unsubscribed at once, the rest complete.
          const kept: Promise<void>[] = [];
          const small = Math.max(1, Math.floor((region.blocks - 2 * chunk) / 16));
          for (let i = 0; i < 16; i++) {
            const lba = region.lba + 2 * chunk + i * small;
            const data = pattern.bytes(1 + i, small * suiteLun.blockSize);
            if (i % 2 === 0) {
              lun.write(lba, data).subscribe(swallow).unsubscribe();
              model.mayHaveWritten(lba, data);
            } else {
              kept.push(
                bounded(lun.write(lba, data), f.workload.opTimeoutMs, f.scheduler).then(() => {
                  model.written(lba, data);
                }),
              );
            }
          }
          await Promise.all(kept);
          // Aborted commands end silently (the caller left); nothing errors towards a gone subscriber.
          expect(errors).toEqual([]);
          expect(session.state).toBe('full-feature');
          // Each block of an aborted write holds its old or its new content, nothing else; then it is settled.
          const problems = await verifyRegion(lun, model, region, {
            queueDepth: 4,
            scheduler: f.scheduler,
            opTimeoutMs: f.workload.opTimeoutMs,
          });
          expect(problems).toEqual([]);
          expect(model.isOpen(region.lba, region.blocks)).toBe(false);
          // And the session goes on working.
          const report = await runWorkload(lun, model, {
            seed: `${seed}/after-abort`,
            ops: 30,
            queueDepth: 8,
            region,
            maxOpBytes: 64 * 1024,
            scheduler: f.scheduler,
            opTimeoutMs: f.workload.opTimeoutMs,
          });
          expectClean(report);
        }),
      ).finally(() => capture?.stop());
      if (capture === undefined) return;
      // On the wire: ABORT TASK requests naming the aborted commands, each answered.
      const recording = capture.recordings()[0];
      if (recording === undefined) throw new Error('the proxy did not see the connection');
      expect(recording.truncated).toBe(false);
      const none = { headerDigest: false, dataDigest: false };
      const sent = decodeDirection(recording.toTarget, none).pdus;
      const answered = decodeDirection(recording.toInitiator, none).pdus;
      const aborts = pdusOfKind(sent, 'task-management-request').filter(
        (p) => p.function === TaskManagementFunction.AbortTask,
      );
      // Ten commands were unsubscribed right after being sent: each that reached the wire got its ABORT TASK.
      expect(aborts.length, 'ABORT TASK requests sent').toBeGreaterThanOrEqual(1);
      expect(aborts.length).toBeLessThanOrEqual(10);
      const abortItts = new Set(aborts.map((p) => p.itt));
      const responses = pdusOfKind(answered, 'task-management-response').filter((p) => abortItts.has(p.itt));
      expect(responses.length, 'ABORT TASK responses').toBe(aborts.length);
      for (const r of responses) {
        expect([TaskManagementResponse.FunctionComplete, TaskManagementResponse.TaskDoesNotExist]).toContain(
          r.response,
        );
      }
      // Every ABORT TASK names a command this connection sent, and every command left without a status was aborted.
      const commandItts = new Set(pdusOfKind(sent, 'scsi-command').map((p) => p.itt));
      const aborted = new Set(aborts.map((a) => a.referencedTaskTag));
      for (const itt of aborted) expect(commandItts.has(itt), `ABORT TASK for unknown ITT ${itt}`).toBe(true);
      const finished = new Set([
        ...pdusOfKind(answered, 'scsi-response').map((p) => p.itt),
        ...pdusOfKind(answered, 'scsi-data-in')
          .filter((p) => p.statusPresent)
          .map((p) => p.itt),
      ]);
      for (const itt of commandItts) {
        if (!finished.has(itt)) expect(aborted.has(itt), `command ${itt} got no status and no ABORT TASK`).toBe(true);
      }
    });

    // ------------------------------------------------------------------------------------ connection kill

    it('a connection cut mid-workload is recovered (ERL 0): commands are reissued, every acknowledged write is there', async (ctx) => {
      need(ctx, 'canKillConnection');
      const f = fx();
      const kill = f.killConnections?.bind(f);
      if (kill === undefined) throw new Error('a fixture that claims canKillConnection has killConnections()');
      const suiteLun = firstLun(f.target);
      const model = modelOf(f.target, suiteLun);
      const region = workRegion(suiteLun);
      await guarded(model, () =>
        withSession(f, f.target, async (session) => {
          const events: SessionEvent[] = [];
          const subscription = session.events.subscribe((e) => events.push(e));
          const tsihBefore = session.tsih;
          const lun = await readyLun(session, suiteLun, f);
          const ops = Math.max(120, Math.floor(f.workload.ops / 2));
          const cutAt = [Math.floor(ops / 4), Math.floor((ops * 2) / 3)];
          const cuts: number[] = [];
          const report = await runWorkload(lun, model, {
            seed: `${seed}/kill`,
            ops,
            queueDepth: 16,
            region,
            scheduler: f.scheduler,
            opTimeoutMs: f.workload.opTimeoutMs,
            onSettled: (progress) => {
              // Cut while commands are in flight, so some must be reissued.
              const next = cutAt[cuts.length];
              if (next !== undefined && progress.settled >= next && progress.inFlight > 0) {
                cuts.push(kill());
              }
            },
          });
          subscription.unsubscribe();
          expect(cuts.length, 'connections cut').toBe(cutAt.length);
          expect(cuts.every((n) => n >= 1)).toBe(true);
          expectClean(report);
          const kinds = events.map((e) => e.kind);
          expect(kinds.filter((k) => k === 'connection-lost').length).toBeGreaterThanOrEqual(cutAt.length);
          expect(kinds.filter((k) => k === 'reconnected').length).toBeGreaterThanOrEqual(cutAt.length);
          const reissued = events.reduce((n, e) => n + (e.kind === 'reconnected' ? e.reissued : 0), 0);
          expect(reissued, 'commands reissued after the cuts').toBeGreaterThan(0);
          expect(session.state).toBe('full-feature');
          expect(session.tsih).not.toBe(0);
          expect(typeof tsihBefore).toBe('number');
          // Every acknowledged write, read back through the recovered session.
          const problems = await verifyRegion(lun, model, region, {
            queueDepth: 8,
            scheduler: f.scheduler,
            opTimeoutMs: f.workload.opTimeoutMs,
          });
          expect(problems).toEqual([]);
          await ctx.annotate(
            `${report.ops} ops, ${cutAt.length} cuts, ${reissued} commands reissued, ${report.unitAttentions} UA retries`,
          );
        }),
      );
    }, 120_000);

    // ------------------------------------------------------------------------------------------ long run

    it.runIf(LONG_TESTS)(
      'long run: a connection cut every 25 operations at queue depth 32 loses no acknowledged write',
      async (ctx) => {
        need(ctx, 'canKillConnection');
        const f = fx();
        const kill = f.killConnections?.bind(f);
        if (kill === undefined) throw new Error('a fixture that claims canKillConnection has killConnections()');
        const suiteLun = firstLun(f.target);
        const model = modelOf(f.target, suiteLun);
        const region = workRegion(suiteLun);
        await guarded(model, () =>
          withSession(f, f.target, async (session) => {
            const lun = await readyLun(session, suiteLun, f);
            let cuts = 0;
            let nextCut = 10;
            const report = await runWorkload(lun, model, {
              seed: `${seed}/many-cuts`,
              ops: 400,
              queueDepth: 32,
              region,
              scheduler: f.scheduler,
              opTimeoutMs: f.workload.opTimeoutMs,
              onSettled: (progress) => {
                if (progress.settled < nextCut || progress.inFlight === 0) return;
                nextCut = progress.settled + 25;
                if (kill() > 0) cuts += 1;
              },
            });
            expectClean(report);
            expect(cuts).toBeGreaterThanOrEqual(10);
            const problems = await verifyRegion(lun, model, region, {
              queueDepth: 8,
              scheduler: f.scheduler,
              opTimeoutMs: f.workload.opTimeoutMs,
            });
            expect(problems).toEqual([]);
            const line = `[${name}] ${cuts} cuts in ${report.ops} ops at queue depth 32: no failure, no lost write`;
            console.info(line);
            await ctx.annotate(line);
          }),
        );
      },
      LONG_TEST_TIMEOUT_MS,
    );

    it.runIf(LONG_TESTS)(
      'long run: random-size reads and writes of a large byte volume match the model',
      async (ctx) => {
        const f = fx();
        if (f.workload.longBytes <= 0) ctx.skip(`SKIP: ${name} has no long workload`);
        const suiteLun = firstLun(f.target);
        const model = modelOf(f.target, suiteLun);
        await guarded(model, () =>
          withSession(f, f.target, async (session) => {
            const lun = await readyLun(session, suiteLun, f);
            const region = workRegion(suiteLun);
            const started = performance.now();
            const report = await runWorkload(lun, model, {
              seed: `${seed}/long`,
              bytes: f.workload.longBytes,
              queueDepth: 16,
              region,
              scheduler: f.scheduler,
              opTimeoutMs: f.workload.opTimeoutMs,
            });
            const seconds = (performance.now() - started) / 1000;
            expectClean(report);
            const problems = await verifyRegion(lun, model, region, {
              queueDepth: 8,
              scheduler: f.scheduler,
              opTimeoutMs: f.workload.opTimeoutMs,
            });
            expect(problems).toEqual([]);
            const mib = (report.bytesRead + report.bytesWritten) / 2 ** 20;
            const line =
              `[${name}] long run: ${report.ops} ops, ${mib.toFixed(0)} MiB ` +
              `(${(report.bytesRead / 2 ** 20).toFixed(0)} read, ${(report.bytesWritten / 2 ** 20).toFixed(0)} written) ` +
              `in ${seconds.toFixed(1)} s = ${(mib / seconds).toFixed(1)} MiB/s at queue depth 16; whole LUN read back`;
            console.info(line);
            await ctx.annotate(line);
          }),
        );
      },
      LONG_TEST_TIMEOUT_MS,
    );
  });
}
