/**
 * `iser perf <url> [--qd 32] [--bs 4k] [--time 10s] [--rand] [--write]`: keeps `qd` commands in flight for `time`
 * (or until `--count` commands), then prints IOPS, MiB/s and latency percentiles from a histogram. Bounded in time
 * and in count; one failed command stops the run. Random offsets come from --seed, so two runs touch the same blocks.
 */
import { Command, Option } from 'commander';
import type { Lun } from '../../protocol/initiator/lun.js';
import { SeededRandom } from '../../sim/clock/random.js';
import { addConnectOptions, loginPlan, type ConnectFlags } from '../connect-options.js';
import type { CommandContext } from '../context.js';
import { usage } from '../errors.js';
import { LatencyHistogram } from '../latency-histogram.js';
import { durationValue, integerValue, sizeValue } from '../parse-values.js';
import { bounded, withLun } from '../session.js';

interface PerfFlags extends ConnectFlags {
  readonly qd: number;
  readonly bs: number;
  readonly time: number;
  readonly count?: number;
  readonly rand?: boolean;
  readonly write?: boolean;
  readonly seed: number;
}

/** What a run measured. */
export interface PerfResult {
  readonly ios: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly histogram: LatencyHistogram;
}

/** Milliseconds as the report prints them. */
function ms(micros: number): string {
  return `${(micros / 1000).toFixed(3)} ms`;
}

/** The report's lines. */
export function perfReport(result: PerfResult): string[] {
  const h = result.histogram;
  const iops = result.seconds > 0 ? result.ios / result.seconds : 0;
  const mibs = result.seconds > 0 ? result.bytes / 2 ** 20 / result.seconds : 0;
  return [
    `ios:      ${result.ios} in ${result.seconds.toFixed(3)} s`,
    `IOPS:     ${Math.round(iops)}`,
    `MiB/s:    ${mibs.toFixed(1)}`,
    `latency:  mean ${ms(h.mean)}, p50 ${ms(h.percentile(50))}, p90 ${ms(h.percentile(90))}, ` +
      `p99 ${ms(h.percentile(99))}, p99.9 ${ms(h.percentile(99.9))}, max ${ms(h.max)}`,
  ];
}

async function run(lun: Lun, flags: PerfFlags, ctx: CommandContext, timeoutMs: number): Promise<PerfResult> {
  const capacity = await bounded(lun.readCapacity(), timeoutMs, 'READ CAPACITY');
  if (flags.bs % capacity.blockSize !== 0)
    usage(`--bs ${flags.bs} is not a multiple of the ${capacity.blockSize}-byte block`);
  const blocksPerIo = flags.bs / capacity.blockSize;
  const slots = Number(capacity.blocks / BigInt(blocksPerIo));
  if (slots < 1) usage(`--bs ${flags.bs} is larger than the LUN`);
  const random = new SeededRandom(flags.seed);
  const payload = Buffer.alloc(flags.bs, 0xa5);
  const histogram = new LatencyHistogram();
  const maxIos = flags.count ?? Number.MAX_SAFE_INTEGER;
  const started = performance.now();
  const deadline = started + flags.time;
  let issued = 0;
  let done = 0;
  let sequential = 0;
  let lastProgress = started;
  let lastDone = 0;
  let failure: Error | undefined;

  const nextLba = (): number => {
    const slot = flags.rand === true ? random.int(0, slots - 1) : sequential++ % slots;
    return slot * blocksPerIo;
  };
  const worker = async (): Promise<void> => {
    while (failure === undefined && issued < maxIos && performance.now() < deadline) {
      issued++;
      const lba = nextLba();
      const t0 = performance.now();
      try {
        if (flags.write === true) await bounded(lun.write(lba, payload), timeoutMs, 'WRITE');
        else await bounded(lun.read(lba, blocksPerIo), timeoutMs, 'READ');
      } catch (err) {
        failure ??= err instanceof Error ? err : new Error(String(err));
        return;
      }
      const now = performance.now();
      histogram.record((now - t0) * 1000);
      done++;
      if (now - lastProgress >= 1000) {
        ctx.io.progress(`${done} ios, ${Math.round(((done - lastDone) * 1000) / (now - lastProgress))} IOPS now`);
        lastProgress = now;
        lastDone = done;
      }
    }
  };
  await Promise.all(Array.from({ length: flags.qd }, worker));
  ctx.io.progress(undefined);
  if (failure !== undefined) throw failure;
  return { ios: done, bytes: done * flags.bs, seconds: (performance.now() - started) / 1000, histogram };
}

/** The `perf` command. */
export function perfCommand(ctx: CommandContext): Command {
  const command = new Command('perf')
    .description('measure IOPS, throughput and latency percentiles (like iscsi-perf)')
    .argument('<url>', 'iscsi://[user[%password]@]host[:port]/target-iqn/lun')
    .addOption(new Option('--qd <n>', 'commands in flight').default(32).argParser(integerValue(1, 1024)))
    .addOption(new Option('--bs <bytes>', 'bytes per command').default(4096, '4k').argParser(sizeValue(16 * 2 ** 20)))
    .addOption(
      new Option('--time <duration>', 'how long to run').default(10_000, '10s').argParser(durationValue(1, 3_600_000)),
    )
    .addOption(new Option('--count <n>', 'stop after n commands').argParser(integerValue(1, Number.MAX_SAFE_INTEGER)))
    .option('--rand', 'random offsets (default sequential)')
    .option('--write', 'WRITE instead of READ (overwrites the LUN!)')
    .addOption(
      new Option('--seed <n>', 'seed of the random offsets').default(1).argParser(integerValue(0, 2 ** 32 - 1)),
    );
  addConnectOptions(command);
  return command.action(async (text: string, flags: PerfFlags) => {
    const plan = await loginPlan(text, flags);
    ctx.addSecrets(plan.secrets);
    const result = await withLun(plan, ctx, (lun) => run(lun, flags, ctx, plan.commandTimeoutMs));
    const kind = `${flags.rand === true ? 'random' : 'sequential'} ${flags.write === true ? 'write' : 'read'}`;
    ctx.io.out(`perf:     ${kind}, ${flags.bs}-byte blocks, queue depth ${flags.qd}, ${plan.display}`);
    for (const line of perfReport(result)) ctx.io.out(line);
  });
}
