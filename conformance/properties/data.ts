/**
 * Data properties: model-based command sequences against an in-memory model of a scratch region of the LUN.
 * Every run logs in, zeroes the region, runs the sequence (each read checked as it happens) and reads the whole
 * region back at the end.
 */
import fc from 'fast-check';
import type { RunContext } from '../context.js';
import { defineProperty, type ConformanceProperty } from '../property.js';
import {
  ABORT_ATOMIC_RFC,
  checkedRead,
  dataCommands,
  READ_YOUR_WRITES_RFC,
  zeroRegion,
  type DataModel,
  type DataReal,
} from '../support/data-commands.js';
import { LunModel } from '../support/lun-model.js';

/** Blocks of the region a data property works in. */
const REGION_BLOCKS = 256;

async function runSequence(run: RunContext, commands: Iterable<fc.AsyncCommand<DataModel, DataReal>>): Promise<void> {
  const session = await run.login();
  const lun = await run.lun(session);
  const facts = run.facts;
  const region = run.suite.region(REGION_BLOCKS);
  await zeroRegion(run, lun, region, facts);
  const model: DataModel = { lun: new LunModel(region.blocks), facts };
  const real: DataReal = { run, session, lun, region };
  await fc.asyncModelRun(() => ({ model, real }), commands);
  const step = Math.max(1, Math.floor((64 << 10) / facts.blockSize));
  for (let lba = 0; lba < region.blocks; lba += step) {
    await checkedRead(model, real, lba, Math.min(step, region.blocks - lba), 'final read-back');
  }
}

/** Read-your-writes under writes, WRITE SAME, UNMAP, COMPARE AND WRITE, SYNCHRONIZE CACHE and concurrent writes. */
export const readYourWrites: ConformanceProperty = defineProperty({
  group: 'data',
  name: 'read-your-writes',
  rfc: READ_YOUR_WRITES_RFC,
  title: 'every read returns what the completed writes, WRITE SAMEs, UNMAPs and COMPARE AND WRITEs before it left',
  runs: 40,
  arbitrary: (suite, replayPath) => {
    const facts = suite.facts;
    if (facts === undefined) return fc.constant([]);
    const region = suite.region(REGION_BLOCKS);
    return dataCommands(
      { regionBlocks: region.blocks, maxBlocks: 128, facts, aborts: false, maxCommands: 24 },
      replayPath,
    );
  },
  check: runSequence,
});

/** No torn writes: an aborted write leaves its blocks all old or all new. */
export const abortedWritesAtomic: ConformanceProperty = defineProperty({
  group: 'data',
  name: 'aborted-writes-not-torn',
  rfc: ABORT_ATOMIC_RFC,
  title: "after ABORT TASK (and a completed ABORT TASK SET) a write's blocks are all old or all new, never mixed",
  runs: 30,
  arbitrary: (suite, replayPath) => {
    const facts = suite.facts;
    if (facts === undefined) return fc.constant([]);
    const region = suite.region(REGION_BLOCKS);
    return dataCommands(
      { regionBlocks: region.blocks, maxBlocks: 128, facts, aborts: true, maxCommands: 12 },
      replayPath,
    );
  },
  check: runSequence,
});
