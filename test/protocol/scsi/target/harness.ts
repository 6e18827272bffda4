/** Drives a LogicalUnit or ScsiTargetDevice the way a transport would, and decodes what comes back. */
import { expect } from 'vitest';
import { MemoryBackend } from '../../../../backends/memory.js';
import { decodeSense, type SenseData } from '../../../../protocol/scsi/sense.js';
import { ScsiStatus } from '../../../../protocol/scsi/status.js';
import { LogicalUnit, type LogicalUnitOptions } from '../../../../protocol/scsi/target/logical-unit.js';
import type { ScsiNexus, ScsiResponse } from '../../../../protocol/scsi/target/types.js';

/** Two I_T nexuses: different initiators on the same target port. */
export const NEXUS_A: ScsiNexus = {
  initiatorPortName: 'iqn.2024-01.test:a,i,0x000000000001',
  targetPortName: 'iqn.2024-01.test:target,t,0x0001',
};
export const NEXUS_B: ScsiNexus = {
  initiatorPortName: 'iqn.2024-01.test:b,i,0x000000000002',
  targetPortName: 'iqn.2024-01.test:target,t,0x0001',
};

/** A command's outcome, decoded. */
export interface Outcome {
  readonly status: number;
  readonly sense: SenseData | undefined;
  readonly data: Buffer;
  /** How many data-out pulls the command made. */
  readonly pulls: number;
}

/** Options of {@link run}. */
export interface RunOptions {
  readonly nexus?: ScsiNexus;
  readonly dataOut?: Buffer;
  /** Expected Data Transfer Length; defaults to the data-out length (or 1 MiB for reads). */
  readonly edtl?: number;
}

/** Something with `execute` (a LogicalUnit). */
export interface Executor {
  execute(command: Parameters<LogicalUnit['execute']>[0]): Promise<ScsiResponse>;
}

/** Runs `cdb` and decodes status, sense and data-in. */
export async function run(target: Executor, cdb: Buffer, options: RunOptions = {}): Promise<Outcome> {
  let pulls = 0;
  const dataOut = options.dataOut ?? Buffer.alloc(0);
  const response = await target.execute({
    cdb,
    nexus: options.nexus ?? NEXUS_A,
    expectedDataTransferLength: options.edtl ?? (options.dataOut === undefined ? 1 << 26 : dataOut.length),
    direction: options.dataOut === undefined ? 'read' : 'write',
    getDataOut: (offset, length) => {
      pulls++;
      return Promise.resolve([dataOut.subarray(offset, offset + length)]);
    },
  });
  return {
    status: response.status,
    sense: response.sense === undefined ? undefined : decodeSense(response.sense),
    data: Buffer.concat(response.dataIn ?? []),
    pulls,
  };
}

/** Asserts GOOD and returns the data-in. */
export async function good(target: Executor, cdb: Buffer, options: RunOptions = {}): Promise<Buffer> {
  const outcome = await run(target, cdb, options);
  expect(outcome.sense, 'sense of a command expected to succeed').toBeUndefined();
  expect(outcome.status).toBe(ScsiStatus.Good);
  return outcome.data;
}

/** Asserts CHECK CONDITION with the given key and `ASC << 8 | ASCQ`; returns the sense. */
export async function check(
  target: Executor,
  cdb: Buffer,
  key: number,
  code: number,
  options: RunOptions = {},
): Promise<SenseData> {
  const outcome = await run(target, cdb, options);
  expect(outcome.status).toBe(ScsiStatus.CheckCondition);
  expect(outcome.sense).toBeDefined();
  const sense = outcome.sense!;
  expect({ key: sense.key, code: (sense.asc << 8) | sense.ascq }).toEqual({ key, code });
  return sense;
}

/** A unit over a fresh memory backend whose nexus A and B have already seen (and cleared) their power-on UA. */
export async function readyUnit(
  blocks = 1024,
  options: Partial<LogicalUnitOptions> & { blockSize?: number } = {},
): Promise<{ unit: LogicalUnit; backend: MemoryBackend }> {
  const backend = new MemoryBackend(blocks, { blockSize: options.blockSize ?? 512, chunkBytes: 4096 });
  const unit = new LogicalUnit({ backend, ...options });
  for (const nexus of [NEXUS_A, NEXUS_B]) {
    await run(unit, Buffer.alloc(6), { nexus }); // TEST UNIT READY: collects POWER ON
  }
  return { unit, backend };
}
