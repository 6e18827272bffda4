/**
 * The provider-independent Verbs contract (test/support/verbs-contract.ts) on NativeVerbs, on a real device.
 * Real time: `run` waits for the work, bounded; `settle` gives in-flight completions a moment.
 */
import { describe, it, expect } from 'vitest';
import { NativeVerbs } from '../../native/index.js';
import { verbsContract, type VerbsContractEnv } from '../support/verbs-contract.js';
import { rdmaAddress, rdmaRequired, skipReason } from './rdma-host.js';

const RUN_BOUND_MS = 20_000;

function bounded<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`native contract: work did not settle within ${RUN_BOUND_MS} ms`));
    }, RUN_BOUND_MS);
  });
  return Promise.race([work, limit]).finally(() => {
    clearTimeout(timer);
  });
}

async function nativeEnv(): Promise<VerbsContractEnv> {
  const options = { timeoutMs: 5000, drainTimeoutMs: 2000 };
  const a = NativeVerbs.open(options);
  const b = NativeVerbs.open(options);
  return Promise.resolve({
    a,
    b,
    addressOfB: rdmaAddress(),
    run: bounded,
    settle: () => new Promise<void>((resolve) => setTimeout(resolve, 50)),
    dispose: () => {
      a.close();
      b.close();
      return Promise.resolve();
    },
  });
}

if (skipReason !== undefined) console.warn(`SKIP native Verbs contract: ${skipReason}`);

describe.skipIf(skipReason !== undefined && !rdmaRequired)('native', () => {
  it.runIf(skipReason !== undefined)('has an RDMA device (ISER_REQUIRE_RDMA=1)', () => {
    expect.fail(`no RDMA here: ${skipReason ?? ''}`);
  });
  if (skipReason === undefined) verbsContract('native (rdma-core)', nativeEnv);
});
