/**
 * The conformance suite (the library API `iser conformance` uses) against Linux LIO, inside the rxe guest: over
 * iSCSI/TCP first, then over iSER through the native addon on rxe0, each within a fixed budget. Asserts that each
 * run completes with a well-formed report in which the suite could log in; LIO's deviations are findings, not test
 * failures. Prints each report and writes it (text + JUnit XML + failures' pcapng over TCP) to the 9p share
 * (/mnt/host, or ISER_CONFORMANCE_OUT) so the host can show them.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_PROPERTIES } from '../../conformance/properties/index.js';
import type { ConformanceProperty } from '../../conformance/property.js';
import { formatReport, type ConformanceReport } from '../../conformance/results.js';
import { runConformance } from '../../conformance/runner.js';
import { targetFromUrl } from '../../conformance/url-target.js';
import { NativeVerbs } from '../../native/index.js';
import { SEED, expectWellFormed } from '../conformance/support.js';
import { lioUnavailable, startLio, type LioTarget } from './lio.js';
import { rdmaAddress, rdmaRequired, skipReason as noRdma } from './rdma-host.js';

/** Our own target name and port, so the other LIO tests' targets (portal 3260) never meet this one. */
const IQN = 'iqn.2003-01.org.linux-iscsi.rxevm:conformance';
const PORT = 3262;
/** Seconds per transport: TCG runs the guest several times slower than the host, and the host may be loaded. */
const BUDGET_S = Number(process.env.ISER_LIO_BUDGET ?? 90);
/**
 * Each step (login, command) may take this long before the suite calls it hung: more than LIO's 15 s login
 * timeout, because an iSER login the suite abandons mid-negotiation holds LIO's portal for that long.
 */
const OP_TIMEOUT_MS = 25_000;
/**
 * The vitest bound on one run: the budget, the runner's per-property grace, the probe's login, and rxe's teardown
 * of a QP in error, which can block the thread in ibv_destroy_qp for about a minute under TCG.
 */
const RUN_TIMEOUT_MS = (BUDGET_S + 180) * 1000;

// LIO runs only where its modules load: the guest. The modules are only tried where RDMA exists.
const skip = noRdma ?? lioUnavailable();
if (skip !== undefined) console.warn(`SKIP conformance against LIO: ${skip} (runs in the rxe guest: npm run test:rxe)`);

/** Where the reports go: ISER_CONFORMANCE_OUT, else the guest's 9p share when it is mounted, else nowhere. */
function outputDir(): string | undefined {
  const fromEnv = process.env.ISER_CONFORMANCE_OUT;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const mounts = existsSync('/proc/self/mounts') ? readFileSync('/proc/self/mounts', 'utf8') : '';
  return mounts.split('\n').some((line) => line.split(' ')[1] === '/mnt/host') ? '/mnt/host' : undefined;
}

function save(name: string, text: string): void {
  const dir = outputDir();
  if (dir === undefined) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.txt`), `${text}\n`);
  console.info(`conformance-lio: wrote ${join(dir, name)}.{txt,junit.xml}`);
}

/**
 * Every property, with illegal-values-refused last. Its hand-built logins end after the answer it checks, mid-
 * negotiation; over iSER LIO then stops serving the portal (each later connection's login times out after 15 s),
 * so run first it would leave every later property skipped. Last, the others are measured first.
 */
function rawLoginsLast(): ConformanceProperty[] {
  const last = ALL_PROPERTIES.filter((p) => p.id === 'negotiation/illegal-values-refused');
  return [...ALL_PROPERTIES.filter((p) => !last.includes(p)), ...last];
}

/** Runs the suite against LIO over `transport` and prints, saves and checks its report. */
async function suite(lio: LioTarget, transport: 'tcp' | 'iser', provider?: NativeVerbs): Promise<ConformanceReport> {
  const name = `conformance-lio-${transport}`;
  const dir = outputDir();
  const started = Date.now();
  const report = await runConformance({
    target: targetFromUrl(`iscsi://${lio.address}:${lio.port}/${lio.iqn}/0`, {
      transport,
      ...(provider === undefined ? {} : { provider }),
      opTimeoutMs: OP_TIMEOUT_MS,
    }),
    budgetSeconds: BUDGET_S,
    seed: SEED,
    ...(transport === 'iser' ? { properties: rawLoginsLast() } : {}),
    ...(dir === undefined ? {} : { junit: join(dir, `${name}.junit.xml`), artifactsDir: join(dir, name) }),
  });
  const text = `${formatReport(report, { exchangeLines: 12 })}\nwall ${((Date.now() - started) / 1000).toFixed(1)} s`;
  console.info(text);
  save(name, text);
  expectWellFormed(report);
  // The suite reached LIO: it logged in and probed the LUN, so every failure is a finding about LIO (or us).
  for (const result of report.results) {
    expect(result.failure?.message ?? '', result.id).not.toMatch(/could not log in and probe/);
  }
  return report;
}

describe.skipIf(skip !== undefined && !rdmaRequired)('conformance: LIO in the rxe guest', () => {
  let lio: LioTarget | undefined;
  let provider: NativeVerbs | undefined;

  beforeAll(async () => {
    if (skip !== undefined) return;
    lio = await startLio({
      iqn: IQN,
      address: rdmaAddress(),
      port: PORT,
      hba: PORT,
      sizeBytes: 64 << 20,
      file: '/tmp/conformance-lio.img',
    });
    console.info(`conformance-lio: LIO ${IQN} on ${lio.address}:${lio.port}, iser=${String(lio.iser)}`);
  });
  afterAll(async () => {
    provider?.close();
    const stuck = await lio?.stop();
    if (stuck !== undefined) console.warn(`conformance-lio: ${stuck}`);
  }, 30_000);

  it.runIf(skip !== undefined)('has RDMA and LIO (ISER_REQUIRE_RDMA=1)', () => {
    expect.fail(`no LIO or no RDMA here: ${skip ?? ''}`);
  });

  it.runIf(skip === undefined)(
    'over iSCSI/TCP: the suite completes and reports',
    async () => {
      await suite(lio!, 'tcp');
    },
    RUN_TIMEOUT_MS,
  );

  it.runIf(skip === undefined)(
    'over iSER (native addon on rxe0): the suite completes and reports',
    async () => {
      expect(lio?.iser, 'the portal took iser=1').toBe(true);
      provider = NativeVerbs.open({ timeoutMs: OP_TIMEOUT_MS });
      const report = await suite(lio!, 'iser', provider);
      // Something was checked over iSER beyond the probe's login (a slow guest may leave some properties skipped).
      expect(report.passed + report.failed).toBeGreaterThan(0);
    },
    RUN_TIMEOUT_MS,
  );
});
