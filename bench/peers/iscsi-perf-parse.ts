/**
 * Parser for libiscsi's `iscsi-perf` output (libiscsi 1.19 utils/iscsi-perf.c).
 *
 * Once a second it prints `\rHH:MM:SS - lba N, iops current I (M MB/s), iops average A (M MB/s), in_flight Q, busy B`
 * (HH:MM:SS counts *down*; `-l` ends each with a newline instead of overwriting it), and when the run time is up
 * `\riops average A (M MB/s)` then `finished.`. Its "MB" is MiB, rounded down to an integer: we also report
 * figures computed from the IOPS and the transfer size.
 */
import { PeerError, PeerErrorCode } from '../../test/support/peers/errors.js';

/** One once-a-second progress line. */
export interface IscsiPerfSample {
  /** Seconds of the run left, as printed. */
  readonly remainingSeconds: number;
  /** Next LBA it would read. */
  readonly lba: number;
  /** IOPS over the last second. */
  readonly iops: number;
  /** MiB/s over the last second, as printed (integer). */
  readonly mibPerSecond: number;
  /** IOPS since the start. */
  readonly averageIops: number;
  readonly inFlight: number;
  readonly busy: number;
}

/** What an iscsi-perf run reported. */
export interface IscsiPerfReport {
  /** `RANDOM` or `SEQUENTIAL`. */
  readonly pattern: 'random' | 'sequential';
  /** Requests kept in flight (`-m`). */
  readonly queueDepth: number;
  /** Bytes per READ(16) (`-b` blocks × the LUN's block size). */
  readonly transferBytes: number;
  /** LUN capacity in bytes. */
  readonly capacityBytes: number;
  /** IOPS over the whole run (the tool's final `iops average`). */
  readonly iops: number;
  /** The tool's final MB/s (MiB/s, rounded down). */
  readonly toolMibPerSecond: number;
  /** iops × transferBytes / 2^20. */
  readonly mibPerSecond: number;
  /** iops × transferBytes / 10^6. */
  readonly mbPerSecond: number;
  readonly samples: readonly IscsiPerfSample[];
  /** True when it printed `finished.` (not `ABORTED!`). */
  readonly finished: boolean;
}

/** Parses iscsi-perf's stdout. */
export function parseIscsiPerf(stdout: string): IscsiPerfReport {
  const need = (re: RegExp, what: string): RegExpExecArray => {
    const m = re.exec(stdout);
    if (m === null) throw new PeerError(PeerErrorCode.Parse, `iscsi-perf: no ${what} in output: ${stdout.slice(-400)}`);
    return m;
  };
  const pattern = need(/performing (RANDOM|SEQUENTIAL) READ with (\d+) parallel requests/, 'pattern line');
  const size = need(
    /(?:FIXED|RANDOM) transfer size of (?:1 - )?(\d+) blocks \((?:\d+ - )?(\d+) byte\)/,
    'transfer size',
  );
  const capacity = need(/capacity is \d+ blocks or (\d+) byte/, 'capacity');
  const samples: IscsiPerfSample[] = [];
  const sampleRe =
    /(\d+):(\d+):(\d+) - lba (\d+), iops current (\d+) \((\d+) MB\/s\), iops average (\d+) \(\d+ MB\/s\), in_flight (\d+), busy (\d+)/g;
  for (const m of stdout.matchAll(sampleRe)) {
    const n = m.slice(1).map(Number);
    samples.push({
      remainingSeconds: n[0]! * 3600 + n[1]! * 60 + n[2]!,
      lba: n[3]!,
      iops: n[4]!,
      mibPerSecond: n[5]!,
      averageIops: n[6]!,
      inFlight: n[7]!,
      busy: n[8]!,
    });
  }
  // The final line is the only `iops average` not preceded by "), " of a progress line.
  const finals = [...stdout.matchAll(/(?:^|\r)iops average (\d+) \((\d+) MB\/s\)/gm)];
  const final = finals.at(-1);
  if (final === undefined) throw new PeerError(PeerErrorCode.Parse, 'iscsi-perf: no final "iops average" line');
  const iops = Number(final[1]);
  const transferBytes = Number(size[2]);
  return {
    pattern: pattern[1] === 'RANDOM' ? 'random' : 'sequential',
    queueDepth: Number(pattern[2]),
    transferBytes,
    capacityBytes: Number(capacity[1]),
    iops,
    toolMibPerSecond: Number(final[2]),
    mibPerSecond: (iops * transferBytes) / 2 ** 20,
    mbPerSecond: (iops * transferBytes) / 1e6,
    samples,
    finished: /^finished\.$/m.test(stdout),
  };
}
