/** What a conformance run reports: a result per property, and the summary line. */
import type { PropertyGroup } from './property.js';

/** Why and how a property failed. */
export interface PropertyFailure {
  /** What went wrong, as the check said it. */
  readonly message: string;
  /** The rule broken (the violation's own section when it names one, else the property's). */
  readonly rfc: string;
  /** fast-check's shrunk counterexample. */
  readonly counterexample: string;
  /** Its size (commands in a sequence, items in a list): small means a readable reproduction. */
  readonly counterexampleSize: number;
  readonly seed: number;
  /** fast-check's path to the counterexample: with `seed`, replays it directly. */
  readonly path: string | undefined;
  /** fast-check's replay hint for command sequences. */
  readonly replayPath: string | undefined;
  readonly shrinks: number;
  /** The PDU exchange of the failing run (its last PDUs), one per line. */
  readonly exchange: readonly string[];
  /** A pcapng of the failing run, when the transport has packets (TCP via the proxy, soft-RoCE). */
  readonly pcapng: Buffer | undefined;
  /** Where the pcapng was written, when an artifacts directory was given. */
  readonly pcapngPath: string | undefined;
  /** How to replay it from the CLI. */
  readonly replay: string;
}

/** The outcome of one property. */
export interface PropertyResult {
  /** `group/name`. */
  readonly id: string;
  readonly group: PropertyGroup;
  readonly name: string;
  readonly rfc: string;
  readonly title: string;
  readonly status: 'passed' | 'failed' | 'skipped';
  /** Inputs tried (up to the first failure). */
  readonly runs: number;
  /** Wall-clock duration (reporting only). */
  readonly durationMs: number;
  /** Things worth knowing (commands left out, budget cut the run short...). */
  readonly notes: readonly string[];
  /** Why it was skipped. */
  readonly reason?: string;
  readonly failure?: PropertyFailure;
}

/** A whole run. */
export interface ConformanceReport {
  /** The target, as described. */
  readonly target: string;
  readonly seed: number;
  readonly results: readonly PropertyResult[];
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  /** Exactly `N passed, N failed, N skipped`. */
  readonly summary: string;
}

/** The summary line. */
export function summaryLine(results: readonly PropertyResult[]): string {
  const count = (status: PropertyResult['status']): number => results.filter((r) => r.status === status).length;
  return `${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped`;
}

/** A human report: a line per property, details of each failure, then the summary line. */
export function formatReport(report: ConformanceReport, options: { readonly exchangeLines?: number } = {}): string {
  const lines: string[] = [`conformance: ${report.target} (seed ${report.seed})`];
  for (const r of report.results) {
    const mark = r.status === 'passed' ? 'PASS' : r.status === 'failed' ? 'FAIL' : 'SKIP';
    lines.push(`${mark} ${r.id} [${r.rfc}] ${r.status === 'skipped' ? `— ${r.reason ?? ''}` : `(${r.runs} runs)`}`);
    for (const note of r.notes) lines.push(`     note: ${note}`);
    const f = r.failure;
    if (f === undefined) continue;
    lines.push(`     ${f.message}`);
    lines.push(`     rule: ${f.rfc}`);
    lines.push(`     counterexample (${f.counterexampleSize}, after ${f.shrinks} shrinks): ${f.counterexample}`);
    lines.push(`     replay: ${f.replay}`);
    if (f.pcapngPath !== undefined) lines.push(`     pcapng: ${f.pcapngPath}`);
    const limit = options.exchangeLines ?? 20;
    const shown = limit > 0 ? f.exchange.slice(-limit) : [];
    if (shown.length > 0) lines.push('     exchange:', ...shown.map((l) => `       ${l}`));
  }
  lines.push(report.summary);
  return lines.join('\n');
}
