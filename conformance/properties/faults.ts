/**
 * Faults (simulated transports only): a seeded fault schedule from sim/fabric's fault plans — the connection
 * dropped, a QP error in the middle of a write (the target's RDMA Read of the data, or a Send), or an RNR storm —
 * hits a session running reads and writes. The session must recover within its bound (ERL 0 session
 * reinstatement, RFC 7143 §6.3.5 and §7.1.5), every command must complete, and no acknowledged write may be lost.
 */
import fc from 'fast-check';
import type { Subscription } from 'rxjs';
import type { FaultRule } from '../../sim/fabric/fault-plan.js';
import type { WcStatus } from '../../transports/verbs.js';
import { ConformanceViolation, expectThat } from '../errors.js';
import { defineProperty, type ConformanceProperty } from '../property.js';
import { LunModel } from '../support/lun-model.js';
import { blockBytes } from '../support/patterns.js';
import { zeroRegion } from '../support/data-commands.js';

const RFC = 'RFC 7143 §6.3.5, §7.1.5';
const REGION_BLOCKS = 256;
/** How long recovery may take in all (virtual ms): reconnect delay, login, reissue. */
const RECOVERY_BOUND_MS = 30_000;

/** A fault, relative to when the workload starts. */
type Fault =
  | { readonly kind: 'drop-connection'; readonly afterMs: number }
  | {
      readonly kind: 'qp-error';
      readonly opcode: 'RDMA_READ' | 'SEND';
      readonly nth: number;
      readonly status: WcStatus;
    }
  | {
      readonly kind: 'rnr-storm';
      readonly afterMs: number;
      readonly durationMs: number;
      readonly receiver: 'target' | 'both';
    };

interface FaultCase {
  readonly fault: Fault;
  readonly batches: readonly (readonly { readonly write: boolean; readonly lba: number; readonly blocks: number }[])[];
}

const STATUSES: readonly WcStatus[] = [
  'RETRY_EXC_ERR',
  'REM_ACCESS_ERR',
  'REM_OP_ERR',
  'LOC_QP_OP_ERR',
  'RNR_RETRY_EXC_ERR',
];

const arbFault: fc.Arbitrary<Fault> = fc.oneof(
  fc.record({ kind: fc.constant('drop-connection' as const), afterMs: fc.constantFrom(0, 0.01, 0.05, 0.2, 1, 5) }),
  fc.oneof(
    fc.record({
      kind: fc.constant('qp-error' as const),
      opcode: fc.constant('RDMA_READ' as const),
      nth: fc.integer({ min: 1, max: 6 }),
      status: fc.constantFrom(...STATUSES),
    }),
    fc.record({
      kind: fc.constant('qp-error' as const),
      opcode: fc.constant('SEND' as const),
      nth: fc.integer({ min: 8, max: 40 }),
      status: fc.constantFrom(...STATUSES),
    }),
  ),
  fc.record({
    kind: fc.constant('rnr-storm' as const),
    afterMs: fc.constantFrom(0, 0.05, 0.5, 2),
    durationMs: fc.constantFrom(1, 10, 100, 500),
    receiver: fc.constantFrom<'target' | 'both'>('target', 'both'),
  }),
);

function arbCase(regionBlocks: number): fc.Arbitrary<FaultCase> {
  const op = fc
    .tuple(fc.boolean(), fc.integer({ min: 0, max: regionBlocks - 1 }), fc.integer({ min: 1, max: 64 }))
    .map(([write, lba, blocks]) => ({ write, lba, blocks: Math.min(blocks, regionBlocks - lba) }));
  return fc.record({
    fault: arbFault,
    batches: fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 8 }),
  });
}

/** A batch keeps no two ops on one block when either writes it (their order would be unknown). */
function disjointWrites(batch: FaultCase['batches'][number]): FaultCase['batches'][number] {
  const written = new Set<number>();
  const read = new Set<number>();
  return batch.filter((op) => {
    const blocks = Array.from({ length: op.blocks }, (_, i) => op.lba + i);
    if (blocks.some((b) => written.has(b) || (op.write && read.has(b)))) return false;
    for (const b of blocks) (op.write ? written : read).add(b);
    return true;
  });
}

/** Recovery after faults: the session comes back, every command completes, no acknowledged write is lost. */
export const recovery: ConformanceProperty = defineProperty<FaultCase>({
  group: 'faults',
  name: 'recovers-without-losing-writes',
  rfc: RFC,
  title:
    'after a dropped connection, a QP error mid-write or an RNR storm the session recovers in bounds, every command completes and no acknowledged write is lost',
  runs: 25,
  skip: (suite) =>
    suite.target.faults === undefined
      ? 'fault schedules need a simulated transport (sim/fabric fault plans)'
      : undefined,
  arbitrary: (suite) => arbCase(suite.region(REGION_BLOCKS).blocks),
  // Whatever the budget allows, one run drops the connection under a write, so recovery is always exercised.
  examples: () => [
    {
      fault: { kind: 'drop-connection', afterMs: 0 },
      batches: [[{ write: true, lba: 0, blocks: 8 }], [{ write: false, lba: 0, blocks: 8 }]],
    },
  ],
  size: (c) => 1 + c.batches.reduce((n, b) => n + b.length, 0),
  async check(run, input) {
    const faults = run.target.faults;
    if (faults === undefined) throw new ConformanceViolation(RFC, 'no fault injector');
    const session = await run.login({
      session: { recovery: true, recoveryTimeoutMs: RECOVERY_BOUND_MS, minReconnectDelayMs: 10 },
    });
    const lun = await run.lun(session);
    const facts = run.facts;
    const region = run.suite.region(REGION_BLOCKS);
    await zeroRegion(run, lun, region, facts);
    const model = new LunModel(region.blocks);
    const events: Subscription = session.events.subscribe((event) => {
      if (event.kind === 'connection-lost' || event.kind === 'reconnected') run.count(event.kind);
    });
    try {
      // The rule is scoped to this session's connection: the one recovery opens must not meet it again.
      const connection = faults.nextConnection() - 1;
      const fault = input.fault;
      const rule: FaultRule =
        fault.kind === 'drop-connection'
          ? { kind: 'drop-connection', connection, atMs: faults.now() + fault.afterMs }
          : fault.kind === 'qp-error'
            ? {
                kind: 'qp-error',
                connection,
                opcode: fault.opcode,
                nth: fault.nth,
                status: fault.status as Exclude<WcStatus, 'SUCCESS' | 'WR_FLUSH_ERR'>,
              }
            : {
                kind: 'rnr-storm',
                connection,
                ...(fault.receiver === 'target' ? { host: run.target.portal.host } : {}),
                fromMs: faults.now() + fault.afterMs,
                durationMs: fault.durationMs,
              };
      faults.add(rule);
      const bound = RECOVERY_BOUND_MS + run.opTimeoutMs;
      for (const batch of input.batches.map(disjointWrites)) {
        await Promise.all(
          batch.map(async (op) => {
            if (!op.write) {
              const data = await run.bounded(
                lun.promises.read(region.firstLba + op.lba, op.blocks),
                `READ ${op.lba}+${op.blocks}`,
                bound,
              );
              const mismatch = model.checkRead(op.lba, data, facts.blockSize);
              if (mismatch !== undefined)
                throw new ConformanceViolation(RFC, `a read during the fault: ${mismatch.message}`);
              return;
            }
            const contents = LunModel.contents(model.newWrite(), op.blocks);
            await run.bounded(
              lun.promises.write(
                region.firstLba + op.lba,
                Buffer.concat(contents.map((c) => blockBytes(c, facts.blockSize))),
              ),
              `WRITE ${op.lba}+${op.blocks}`,
              bound,
            );
            // Acknowledged: from now on it must be there.
            model.write(op.lba, contents);
          }),
        );
      }
      expectThat(
        session.state === 'full-feature',
        RFC,
        () => `the session is ${session.state} after the workload, not back in full feature phase`,
      );
      const step = Math.max(1, Math.floor((64 << 10) / facts.blockSize));
      for (let lba = 0; lba < region.blocks; lba += step) {
        const blocks = Math.min(step, region.blocks - lba);
        const data = await run.bounded(lun.promises.read(region.firstLba + lba, blocks), 'READ back', bound);
        const mismatch = model.checkRead(lba, data, facts.blockSize);
        if (mismatch !== undefined)
          throw new ConformanceViolation(RFC, `an acknowledged write was lost: ${mismatch.message}`);
      }
    } finally {
      events.unsubscribe();
    }
  },
});
