/**
 * A random I/O workload for the sequencing properties: batches of concurrent reads, writes and pings (up to more
 * than the target's command window, so the window's edge is reached), under random but legal negotiation
 * preferences that shape the data PDUs (burst lengths, immediate data, unsolicited data, segment sizes).
 */
import fc from 'fast-check';
import { lastValueFrom } from 'rxjs';
import type { NegotiationConfig } from '../../protocol/text/config.js';
import type { RunContext } from '../context.js';
import type { ScratchRegion } from '../target.js';

/** One operation. */
export type WorkloadOp =
  | { readonly op: 'read'; readonly lba: number; readonly blocks: number }
  | { readonly op: 'write'; readonly lba: number; readonly blocks: number }
  | { readonly op: 'ping'; readonly bytes: number };

/** A workload: negotiation preferences and batches of concurrent operations. */
export interface Workload {
  readonly negotiation: NegotiationConfig;
  readonly batches: readonly (readonly WorkloadOp[])[];
}

/** Blocks of the region the workload touches. */
export const WORKLOAD_BLOCKS = 512;

/** Legal preferences that change how data moves. */
export const arbDataNegotiation: fc.Arbitrary<NegotiationConfig> = fc
  .record(
    {
      immediateData: fc.boolean(),
      initialR2T: fc.boolean(),
      maxRecvDataSegmentLength: fc.constantFrom(512, 1024, 4096, 8192, 65536),
      maxBurstLength: fc.constantFrom(512, 4096, 16384, 65536, 262144),
      firstBurstLength: fc.constantFrom(512, 4096, 16384, 65536),
      maxOutstandingR2T: fc.integer({ min: 1, max: 4 }),
    },
    { requiredKeys: [] },
  )
  .map((c) =>
    c.firstBurstLength !== undefined && c.maxBurstLength !== undefined && c.firstBurstLength > c.maxBurstLength
      ? { ...c, firstBurstLength: c.maxBurstLength }
      : c,
  );

function arbOp(regionBlocks: number, maxBlocks: number): fc.Arbitrary<WorkloadOp> {
  const range = fc
    .tuple(fc.integer({ min: 0, max: regionBlocks - 1 }), fc.integer({ min: 1, max: maxBlocks }))
    .map(([lba, blocks]) => ({ lba, blocks: Math.min(blocks, regionBlocks - lba) }));
  return fc.oneof(
    range.map((r) => ({ op: 'read' as const, ...r })),
    range.map((r) => ({ op: 'write' as const, ...r })),
    fc.integer({ min: 0, max: 64 }).map((bytes) => ({ op: 'ping' as const, bytes })),
  );
}

/** Workloads: mostly small batches, sometimes a burst of up to 48 small commands at once. */
export function arbWorkload(regionBlocks: number): fc.Arbitrary<Workload> {
  const batch = fc.oneof(
    { weight: 4, arbitrary: fc.array(arbOp(regionBlocks, 160), { minLength: 1, maxLength: 6 }) },
    { weight: 1, arbitrary: fc.array(arbOp(regionBlocks, 2), { minLength: 8, maxLength: 48 }) },
  );
  return fc.record({ negotiation: arbDataNegotiation, batches: fc.array(batch, { minLength: 1, maxLength: 6 }) });
}

/** Counts a workload's operations (the counterexample size). */
export function workloadSize(workload: Workload): number {
  return workload.batches.reduce((n, b) => n + b.length, 0);
}

/** Runs a workload on a fresh session; every operation must succeed. */
export async function runWorkload(run: RunContext, workload: Workload, region: ScratchRegion): Promise<void> {
  const session = await run.login({ negotiation: workload.negotiation });
  const lun = await run.lun(session);
  const blockSize = run.facts.blockSize;
  let n = 0;
  for (const batch of workload.batches) {
    await Promise.all(
      batch.map((op) => {
        n += 1;
        switch (op.op) {
          case 'read':
            return run.bounded(lun.promises.read(region.firstLba + op.lba, op.blocks), `READ ${op.lba}+${op.blocks}`);
          case 'write':
            return run.bounded(
              lun.promises.write(region.firstLba + op.lba, Buffer.alloc(op.blocks * blockSize, n & 0xff)),
              `WRITE ${op.lba}+${op.blocks}`,
            );
          case 'ping':
            return run.bounded(lastValueFrom(session.ping(Buffer.alloc(op.bytes, 0x5a))), 'NOP-Out ping');
        }
      }),
    );
  }
  await run.bounded(session.logout(), 'logout');
}
