/**
 * Measures the iscsi-test-cu baseline of tgt: starts a private tgtd (64 MiB LUN), runs `iscsi-test-cu --test=ALL`
 * (with `--dataloss` unless told otherwise), prints counts, failing tests and the duration, and compares them with
 * the recorded baseline. Run: `tools/peers/test-cu-baseline.sh [--no-dataloss] [--junit PATH] [--tests PATTERN]`.
 * Exit status: 0 when the counts match the recorded baseline (or no baseline applies), 1 otherwise.
 */
import { pathToFileURL } from 'node:url';
import { TGT_1_0_85_TEST_CU_BASELINE, tgtdVersion } from '../../test/support/peers/baselines.js';
import { runIscsiTestCu, type TestCuResult } from '../../test/support/peers/test-cu.js';
import { startTgt } from '../../test/support/peers/tgt.js';

/** Options of {@link measureTgtBaseline}. */
export interface BaselineOptions {
  readonly tests?: string;
  readonly dataloss?: boolean;
  readonly junitXmlPath?: string;
  /** Bound on the iscsi-test-cu run; default 10 minutes. */
  readonly timeoutMs?: number;
}

/** Runs iscsi-test-cu against a fresh private tgt and returns its results. */
export async function measureTgtBaseline(opts: BaselineOptions = {}): Promise<TestCuResult> {
  const tgt = await startTgt({ luns: [{ lun: 1, sizeBytes: 64 * 2 ** 20 }] });
  try {
    return await runIscsiTestCu(tgt.url(1), {
      tests: opts.tests ?? 'ALL',
      dataloss: opts.dataloss ?? true,
      timeoutMs: opts.timeoutMs ?? 600_000,
      junitXmlPath: opts.junitXmlPath,
    });
  } finally {
    await tgt.stop();
  }
}

async function main(argv: readonly string[]): Promise<number> {
  let tests = 'ALL';
  let dataloss = true;
  let junitXmlPath: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--no-dataloss') dataloss = false;
    else if (arg === '--junit') junitXmlPath = argv[++i];
    else if (arg === '--tests') tests = argv[++i] ?? 'ALL';
    else throw new Error(`unknown argument ${arg ?? ''}`);
  }
  const version = await tgtdVersion();
  const r = await measureTgtBaseline({ tests, dataloss, junitXmlPath });
  const failed = r.perTest.filter((t) => t.result === 'failed').map((t) => t.name);
  console.log(`tgt ${version ?? '?'}: iscsi-test-cu --test=${tests}${dataloss ? ' --dataloss' : ''}`);
  console.log(
    `${r.passed} passed / ${r.failed} failed / ${r.skipped} skipped of ${r.total} in ${(r.durationMs / 1000).toFixed(1)} s`,
  );
  console.log(`failed: ${failed.join(', ') || 'none'}`);
  const base = TGT_1_0_85_TEST_CU_BASELINE;
  if (version !== '1.0.85' || tests !== base.tests || dataloss !== base.dataloss) return 0;
  const same = r.passed === base.passed && r.failed === base.failed && r.skipped === base.skipped;
  console.log(
    same ? 'matches the recorded baseline' : `DIFFERS from the recorded ${base.passed}/${base.failed}/${base.skipped}`,
  );
  return same ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(e);
      process.exitCode = 2;
    },
  );
}
