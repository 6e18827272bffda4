/** JUnit XML of a conformance report: a testsuite per property group, a testcase per property. */
import type { ConformanceReport, PropertyResult } from './results.js';

function escape(text: string): string {
  return (
    text
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      // XML 1.0 forbids most control characters even when escaped.
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '?')
  );
}

function testcase(r: PropertyResult): string {
  const attrs = `classname="conformance.${escape(r.group)}" name="${escape(`${r.name} [${r.rfc}]`)}" time="${(r.durationMs / 1000).toFixed(3)}"`;
  const notes = r.notes.length > 0 ? `\n      <system-out>${escape(r.notes.join('\n'))}</system-out>` : '';
  if (r.status === 'skipped') {
    return `    <testcase ${attrs}>\n      <skipped message="${escape(r.reason ?? '')}"/>${notes}\n    </testcase>`;
  }
  const f = r.failure;
  if (r.status === 'failed' && f !== undefined) {
    const body = [
      `rule: ${f.rfc}`,
      `counterexample (${f.counterexampleSize}): ${f.counterexample}`,
      `seed: ${f.seed}  path: ${f.path ?? '-'}`,
      `replay: ${f.replay}`,
      ...(f.pcapngPath === undefined ? [] : [`pcapng: ${f.pcapngPath}`]),
      'exchange:',
      ...f.exchange,
    ].join('\n');
    return `    <testcase ${attrs}>\n      <failure message="${escape(f.message)}" type="${escape(f.rfc)}">${escape(body)}</failure>${notes}\n    </testcase>`;
  }
  return `    <testcase ${attrs}>${notes}\n    </testcase>`;
}

/** The report as JUnit XML. */
export function junitXml(report: ConformanceReport): string {
  const groups = new Map<string, PropertyResult[]>();
  for (const r of report.results) groups.set(r.group, [...(groups.get(r.group) ?? []), r]);
  const suites = [...groups].map(([group, results]) => {
    const failures = results.filter((r) => r.status === 'failed').length;
    const skipped = results.filter((r) => r.status === 'skipped').length;
    const time = results.reduce((t, r) => t + r.durationMs, 0) / 1000;
    return (
      `  <testsuite name="conformance.${escape(group)}" tests="${results.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${time.toFixed(3)}">\n` +
      `${results.map(testcase).join('\n')}\n  </testsuite>`
    );
  });
  const total = report.results.length;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites name="${escape(`iser conformance: ${report.target} (seed ${report.seed})`)}" tests="${total}" failures="${report.failed}" errors="0" skipped="${report.skipped}">\n` +
    `${suites.join('\n')}\n</testsuites>\n`
  );
}
