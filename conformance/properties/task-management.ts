/**
 * Task management while I/O is in flight (RFC 7143 §11.5.1): concurrent writes and reads on disjoint ranges, then
 * ABORT TASK for some of them (by unsubscribing, as a user would) or a LOGICAL UNIT RESET. The exchange must show
 * no SCSI Response for a task after the TMF response that ended it; the tasks not aborted complete; and the
 * region reads back as the model says (aborted writes all old or all new).
 */
import fc from 'fast-check';
import { lastValueFrom, type Observable, type Subscription } from 'rxjs';
import type { Lun } from '../../protocol/initiator/lun.js';
import type { Session } from '../../protocol/initiator/session.js';
import { TaskManagementFunction, TaskManagementResponse } from '../../protocol/pdu/task-management.js';
import type { RunContext } from '../context.js';
import { ConformanceViolation, expectThat } from '../errors.js';
import { defineProperty, type ConformanceProperty } from '../property.js';
import type { RecordedPdu } from '../record/exchange.js';
import { describePdu } from '../record/describe.js';
import { LunModel } from '../support/lun-model.js';
import { blockBytes } from '../support/patterns.js';
import { zeroRegion } from '../support/data-commands.js';

const RFC = 'RFC 7143 §11.5.1';
const REGION_BLOCKS = 512;

/** One command of the burst. */
interface BurstOp {
  readonly write: boolean;
  readonly blocks: number;
  /** For the ABORT TASK property: abort this one. */
  readonly abort?: boolean;
}

/** A burst of commands, and when the TMF goes out. */
interface TmfInput {
  readonly ops: readonly BurstOp[];
  readonly delayMs: number;
}

/** Bursts of commands; with `aborts`, each command says whether ABORT TASK goes after it. */
function arbInput(aborts: boolean): fc.Arbitrary<TmfInput> {
  const op: fc.Arbitrary<BurstOp> = aborts
    ? fc.record({ write: fc.boolean(), blocks: fc.integer({ min: 1, max: 64 }), abort: fc.boolean() })
    : fc.record({ write: fc.boolean(), blocks: fc.integer({ min: 1, max: 64 }) });
  return fc.record({
    ops: fc.array(op, { minLength: 1, maxLength: 8 }),
    delayMs: fc.constantFrom(0, 0.01, 0.1, 0.5, 2),
  });
}

interface Launched {
  readonly op: BurstOp;
  readonly lba: number;
  readonly contents: ReturnType<typeof LunModel.contents>;
  subscription: Subscription | undefined;
  state: 'running' | 'done' | 'failed';
  error?: unknown;
}

/** Starts every op of the burst on its own slice of the region. */
function launch(run: RunContext, lun: Lun, model: LunModel, input: TmfInput, firstLba: number): Launched[] {
  const slice = Math.floor(REGION_BLOCKS / input.ops.length);
  const blockSize = run.facts.blockSize;
  return input.ops.map((op, i) => {
    const lba = i * slice;
    const blocks = Math.min(op.blocks, slice);
    const contents = LunModel.contents(model.newWrite(), blocks);
    const work: Observable<unknown> = op.write
      ? lun.write(firstLba + lba, Buffer.concat(contents.map((c) => blockBytes(c, blockSize))))
      : lun.read(firstLba + lba, blocks);
    const launched: Launched = {
      op: { ...op, blocks },
      lba,
      contents,
      state: 'running',
      subscription: undefined,
    };
    launched.subscription = work.subscribe({
      complete: () => {
        launched.state = 'done';
      },
      error: (err: unknown) => {
        launched.state = 'failed';
        launched.error = err;
      },
    });
    return launched;
  });
}

/** The SCSI Responses that came after the TMF response that ended their task. */
function lateResponses(pdus: readonly RecordedPdu[]): string | undefined {
  const tmfs = new Map<number, { fn: number; rtt: number; lun: bigint }>();
  const ended = new Map<number, RecordedPdu>();
  const commandLun = new Map<number, bigint>();
  for (const p of pdus) {
    const pdu = p.pdu;
    if (p.direction === 'out' && pdu.kind === 'scsi-command') commandLun.set(pdu.itt, pdu.lun);
    if (p.direction === 'out' && pdu.kind === 'task-management-request') {
      tmfs.set(pdu.itt, { fn: pdu.function, rtt: pdu.referencedTaskTag, lun: pdu.lun });
    }
    if (p.direction !== 'in') continue;
    if (pdu.kind === 'task-management-response' && pdu.response === TaskManagementResponse.FunctionComplete) {
      const tmf = tmfs.get(pdu.itt);
      if (tmf?.fn === TaskManagementFunction.AbortTask) ended.set(tmf.rtt, p);
      if (tmf?.fn === TaskManagementFunction.LogicalUnitReset || tmf?.fn === TaskManagementFunction.AbortTaskSet) {
        for (const [itt, lun] of commandLun) if (lun === tmf.lun && !ended.has(itt)) ended.set(itt, p);
      }
      continue;
    }
    const final = pdu.kind === 'scsi-response' || (pdu.kind === 'scsi-data-in' && pdu.statusPresent);
    if (!final) continue;
    const tmf = ended.get(pdu.itt);
    if (tmf !== undefined) {
      return `${describePdu(pdu)} came after the TMF response that ended the task (${describePdu(tmf.pdu)})`;
    }
    commandLun.delete(pdu.itt);
  }
  return undefined;
}

/** Reads the region back and checks it against the model. */
async function verify(run: RunContext, lun: Lun, model: LunModel, firstLba: number): Promise<void> {
  const blockSize = run.facts.blockSize;
  const step = Math.max(1, Math.floor((64 << 10) / blockSize));
  for (let lba = 0; lba < REGION_BLOCKS; lba += step) {
    const blocks = Math.min(step, REGION_BLOCKS - lba);
    const data = await run.bounded(lun.promises.read(firstLba + lba, blocks), 'READ back');
    const mismatch = model.checkRead(lba, data, blockSize);
    if (mismatch !== undefined) throw new ConformanceViolation(RFC, `after the TMF: ${mismatch.message}`);
  }
}

async function prepare(run: RunContext): Promise<{ session: Session; lun: Lun; model: LunModel; firstLba: number }> {
  const session = await run.login();
  const lun = await run.lun(session);
  const region = run.suite.region(REGION_BLOCKS);
  expectThat(
    region.blocks >= REGION_BLOCKS,
    RFC,
    () => `the scratch region holds ${region.blocks} blocks, fewer than ${REGION_BLOCKS}`,
  );
  await zeroRegion(run, lun, region, run.facts);
  return { session, lun, model: new LunModel(REGION_BLOCKS), firstLba: region.firstLba };
}

/** Waits for every in-flight command to settle (bounded). */
async function settle(run: RunContext, launched: readonly Launched[]): Promise<void> {
  const ok = await run.until(
    () => launched.every((l) => l.state !== 'running' || l.subscription?.closed === true),
    run.opTimeoutMs,
  );
  expectThat(ok, RFC, () => 'commands still had no outcome after the TMF completed');
}

/** ABORT TASK of some in-flight commands. */
export const abortTask: ConformanceProperty = defineProperty<TmfInput>({
  group: 'task-management',
  name: 'abort-task-in-flight',
  rfc: RFC,
  title:
    'ABORT TASK while I/O is in flight: no response for an aborted task after its TMF response, the others complete, data as the model says',
  runs: 25,
  arbitrary: () => arbInput(true),
  size: (input) => input.ops.length,
  async check(run, input) {
    const { session, lun, model, firstLba } = await prepare(run);
    const launched = launch(run, lun, model, input, firstLba);
    if (input.delayMs > 0) await run.sleep(input.delayMs);
    for (const l of launched) if (l.op.abort === true && l.state === 'running') l.subscription?.unsubscribe();
    // Every ABORT TASK sent gets its TMF response; then a ping flushes anything the target still had queued.
    const tmfAnswered = (): boolean => {
      const sent = run.exchange.corePdus.filter(
        (p) => p.direction === 'out' && p.pdu.kind === 'task-management-request',
      );
      const answered = new Set(
        run.exchange.corePdus
          .filter((p) => p.direction === 'in' && p.pdu.kind === 'task-management-response')
          .map((p) => ('itt' in p.pdu ? p.pdu.itt : -1)),
      );
      return sent.every((p) => 'itt' in p.pdu && answered.has(p.pdu.itt));
    };
    const answered = await run.until(tmfAnswered, run.opTimeoutMs);
    expectThat(answered, RFC, () => 'an ABORT TASK got no TMF response');
    await run.bounded(lastValueFrom(session.ping()), 'NOP-Out after the aborts');
    await settle(run, launched);
    const late = lateResponses(run.exchange.corePdus);
    if (late !== undefined) throw new ConformanceViolation(RFC, late);
    for (const p of run.exchange.corePdus) {
      if (p.direction === 'in' && p.pdu.kind === 'task-management-response') {
        run.count(
          p.pdu.response === TaskManagementResponse.FunctionComplete
            ? 'ABORT TASK completed'
            : `ABORT TASK answered ${p.pdu.response}`,
        );
      }
    }
    for (const l of launched) {
      const aborted = l.op.abort === true && l.state !== 'done';
      if (l.state === 'failed') {
        throw new ConformanceViolation(
          RFC,
          `a command that was not aborted failed: ${l.error instanceof Error ? l.error.message : String(l.error)}`,
        );
      }
      if (!l.op.write) continue;
      if (aborted) model.abortedWrite(l.lba, l.contents);
      else model.write(l.lba, l.contents);
    }
    await verify(run, lun, model, firstLba);
  },
});

/** LOGICAL UNIT RESET with I/O in flight. */
export const lunReset: ConformanceProperty = defineProperty<TmfInput>({
  group: 'task-management',
  name: 'lun-reset-in-flight',
  rfc: RFC,
  title:
    'LOGICAL UNIT RESET while I/O is in flight: no response for a task after the TMF response, data as the model says',
  runs: 20,
  arbitrary: () => arbInput(false),
  size: (input) => input.ops.length,
  async check(run, input) {
    const { session, lun, model, firstLba } = await prepare(run);
    const launched = launch(run, lun, model, input, firstLba);
    if (input.delayMs > 0) await run.sleep(input.delayMs);
    let response: number;
    try {
      response = await run.bounded(
        lastValueFrom(session.taskManagement({ function: TaskManagementFunction.LogicalUnitReset, lun: lun.lun })),
        'LOGICAL UNIT RESET',
      );
    } catch (err) {
      const code = (err as { tmfResponse?: unknown }).tmfResponse;
      if (typeof code !== 'number') throw err;
      response = code;
    }
    expectThat(
      response === TaskManagementResponse.FunctionComplete,
      RFC,
      () => `LOGICAL UNIT RESET answered ${response}, not Function Complete (0)`,
    );
    await run.bounded(lastValueFrom(session.ping()), 'NOP-Out after the reset');
    await settle(run, launched);
    const late = lateResponses(run.exchange.corePdus);
    if (late !== undefined) throw new ConformanceViolation(RFC, late);
    run.count(`commands cut by the reset`, launched.filter((l) => l.state !== 'done').length);
    for (const l of launched) {
      if (!l.op.write) continue;
      if (l.state === 'done') model.write(l.lba, l.contents);
      else model.abortedWrite(l.lba, l.contents);
    }
    // The reset leaves a unit attention for this nexus (SAM-5 §6.3.3): clear it before reading back.
    await run.lun(session);
    await verify(run, lun, model, firstLba);
  },
});
