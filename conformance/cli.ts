/**
 * `iser conformance <url> [--transport tcp|iser] [--budget SECONDS] [--seed N] [--junit FILE] [--only GROUP]`:
 * runs the property suite against a target and prints a line per property, the details of each failure, and a
 * last line exactly `N passed, N failed, N skipped`. A live progress line appears on a terminal only.
 *
 * Exit codes: 0 nothing failed; 1 usage error; 10 at least one property failed.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { TransportKind } from '../protocol/datamover.js';
import { isIserError } from '../protocol/errors.js';
import type { VerbsProvider } from '../transports/verbs.js';
import type { ProgressEvent } from './progress.js';
import { PROPERTY_GROUPS } from './property.js';
import { formatReport } from './results.js';
import { runConformance } from './runner.js';
import { targetFromUrl } from './url-target.js';

/** Exit codes of {@link runConformanceCli}. */
export const ConformanceExit = {
  Ok: 0,
  Usage: 1,
  Failed: 10,
} as const;

/** Where the command writes (compatible with the `iser` CLI's own io). */
export interface ConformanceCliIo {
  /** A line of the report (stdout). */
  readonly out: (line: string) => void;
  /** A line of diagnostics (stderr). */
  readonly err: (line: string) => void;
  /** Rewrites the live progress line; a no-op unless stderr is a terminal. `undefined` clears it. */
  readonly progress: (line: string | undefined) => void;
}

/** Extra wiring the `iser` program can hand in. */
export interface ConformanceCliOptions {
  /** The Verbs provider for iser:// URLs (the native addon). */
  readonly provider?: VerbsProvider;
}

function stdio(): ConformanceCliIo {
  const tty = process.stderr.isTTY;
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    progress: (line) => {
      if (!tty) return;
      process.stderr.write(line === undefined ? '\r\x1b[K' : `\r${line.slice(0, 150)}\x1b[K`);
    },
  };
}

function positiveNumber(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number of seconds');
  return n;
}

function integer(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('must be an integer');
  return n;
}

function scratch(text: string): { firstLba: number; blocks: number } {
  const match = /^(\d+):(\d+)$/.exec(text);
  if (match === null) throw new InvalidArgumentError('must be LBA:BLOCKS');
  return { firstLba: Number(match[1]), blocks: Number(match[2]) };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(',').filter((v) => v !== '')];
}

/** Runs the command with `argv` (the arguments after `conformance`); resolves with the exit code. */
export async function runConformanceCli(
  argv: readonly string[],
  io: ConformanceCliIo = stdio(),
  options: ConformanceCliOptions = {},
): Promise<number> {
  const program = new Command('iser conformance')
    .description('property-based conformance suite (RFC 7143 / RFC 7145) against an iSCSI or iSER target')
    .argument('<url>', 'iscsi://host[:port]/target-iqn/lun (iser:// for iSER); the suite writes to the LUN')
    .addOption(new Option('--transport <kind>', 'transport (default: from the URL)').choices(['tcp', 'iser']))
    .option('--budget <seconds>', 'wall-clock budget of the whole run', positiveNumber, 60)
    .option('--seed <n>', 'fast-check seed (printed; the same seed draws the same inputs)', integer)
    .option('--junit <file>', 'write JUnit XML here')
    .option('--only <group>', `groups (${PROPERTY_GROUPS.join(', ')}) or property ids; repeatable`, collect, [])
    .option('--path <path>', "replay one counterexample: fast-check's path (with --seed and --only <property>)")
    .option('--replay-path <hint>', 'fast-check replayPath of a command-sequence counterexample')
    .option('--artifacts <dir>', "write each failure's pcapng here")
    .option('--scratch <lba:blocks>', 'the blocks the suite may overwrite (default 0:2048)', scratch)
    .option('--initiator-name <iqn>', 'the initiator name to log in with')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => {
        io.out(s.trimEnd());
      },
      writeErr: (s) => {
        io.err(s.trimEnd());
      },
    });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? ConformanceExit.Ok : ConformanceExit.Usage;
    throw err;
  }
  const [url] = program.args;
  const opts = program.opts<{
    transport?: TransportKind;
    budget: number;
    seed?: number;
    junit?: string;
    only: string[];
    path?: string;
    replayPath?: string;
    artifacts?: string;
    scratch?: { firstLba: number; blocks: number };
    initiatorName?: string;
  }>();
  const seed = opts.seed ?? Date.now() % 0x7fffffff;
  let target;
  try {
    target = targetFromUrl(url ?? '', {
      ...(opts.transport === undefined ? {} : { transport: opts.transport }),
      ...(options.provider === undefined ? {} : { provider: options.provider }),
      ...(opts.initiatorName === undefined ? {} : { initiatorName: opts.initiatorName }),
      ...(opts.scratch === undefined ? {} : { scratch: opts.scratch }),
    });
  } catch (err) {
    io.err(`iser conformance: ${err instanceof Error ? err.message : String(err)}`);
    return ConformanceExit.Usage;
  }
  if (opts.path !== undefined && opts.only.length !== 1) {
    io.err('iser conformance: --path replays one property: give it with --only <group/name>');
    return ConformanceExit.Usage;
  }
  const replayProperty = opts.only[0];
  io.err(`iser conformance: ${target.description}, seed ${seed}, budget ${opts.budget} s`);
  const scratchRegion = target.scratch ?? { firstLba: 0, blocks: 2048 };
  io.err(
    `iser conformance: writes to LBAs ${scratchRegion.firstLba}..${scratchRegion.firstLba + scratchRegion.blocks - 1} of LUN ${target.lun}`,
  );
  const onProgress = (event: ProgressEvent): void => {
    if (event.type === 'probe') io.progress(`probing ${event.target}…`);
    else if (event.type === 'property-start') io.progress(`[${event.index + 1}/${event.total}] ${event.id}`);
    else if (event.type === 'run') io.progress(`${event.id}: run ${event.run}`);
    else if (event.index + 1 === event.total) io.progress(undefined);
  };
  try {
    const report = await runConformance({
      target,
      budgetSeconds: opts.budget,
      seed,
      ...(opts.only.length === 0 ? {} : { only: opts.only }),
      ...(opts.junit === undefined ? {} : { junit: opts.junit }),
      ...(opts.artifacts === undefined ? {} : { artifactsDir: opts.artifacts }),
      ...(opts.path === undefined || replayProperty === undefined
        ? {}
        : {
            replay: {
              property: replayProperty,
              path: opts.path,
              ...(opts.replayPath === undefined ? {} : { replayPath: opts.replayPath }),
            },
          }),
      onProgress,
    });
    io.progress(undefined);
    for (const line of formatReport(report).split('\n')) io.out(line);
    return report.failed === 0 ? ConformanceExit.Ok : ConformanceExit.Failed;
  } catch (err) {
    io.progress(undefined);
    if (isIserError(err, 'ERR_CONFORMANCE_BAD_OPTIONS')) {
      io.err(`iser conformance: ${err.message}`);
      return ConformanceExit.Usage;
    }
    throw err;
  }
}
