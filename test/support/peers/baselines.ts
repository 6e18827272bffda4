/**
 * Conformance baselines of real peers: what our own target has to match or beat. Measured on loopback with
 * tools/peers/test-cu-baseline.sh (`iscsi-test-cu --dataloss --test=ALL` against a 64 MiB file-backed LUN).
 */
import { runTool } from './run-tool.js';

/** Counts and failing tests of one iscsi-test-cu run. */
export interface TestCuBaseline {
  /** Which peer and versions this was measured with. */
  readonly peer: string;
  readonly tests: string;
  readonly dataloss: boolean;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  /** `Suite.Test` names that failed. */
  readonly failedTests: readonly string[];
}

/**
 * tgt 1.0.85 (Debian 12) vs libiscsi 1.19 iscsi-test-cu, `--dataloss --test=ALL`: 230 tests, about 20 s.
 * Without `--dataloss` the same run gives 84 passed / 21 failed / 125 skipped (the reservation tests fail).
 */
export const TGT_1_0_85_TEST_CU_BASELINE: TestCuBaseline = {
  peer: 'tgt 1.0.85 / libiscsi 1.19 iscsi-test-cu',
  tests: 'ALL',
  dataloss: true,
  passed: 160,
  failed: 8,
  skipped: 62,
  failedTests: [
    'GetLBAStatus.BeyondEol',
    'PrinServiceactionRange.Range',
    'ProutReserve.OwnershipEA',
    'ProutReserve.OwnershipWE',
    'ProutReserve.OwnershipEARO',
    'ProutReserve.OwnershipWERO',
    'Reserve6.2Initiators',
    'iSCSIdatasn.iSCSIDataSnInvalid',
  ],
};

/** The installed tgtd's version (`tgtd -V`), or undefined when it cannot be run. */
export async function tgtdVersion(): Promise<string | undefined> {
  try {
    const r = await runTool('tgtd', ['-V'], { timeoutMs: 5000 });
    return r.exitCode === 0 ? r.stdout.trim() : undefined;
  } catch {
    return undefined;
  }
}
