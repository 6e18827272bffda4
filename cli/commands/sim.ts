/**
 * `iser sim <scenario.yaml> [--seed N] [--out DIR]`: runs a simulation scenario (topology, workload, fault plan,
 * seed) in virtual time and writes report.json, events.jsonl and trace.pcapng (soft-RoCE) to DIR. See
 * cli/sim/run.ts for the exit codes and sim/scenarios/ for examples.
 */
import { Command, Option } from 'commander';
import type { CommandContext } from '../context.js';
import { integerValue } from '../parse-values.js';
import { runSim } from '../sim/run.js';

interface SimFlags {
  readonly seed?: number;
  readonly out?: string;
}

/** Exit codes of `iser sim`, for its --help. */
export const SIM_EXIT_CODES_HELP = `Exit codes:
  0   the scenario ran and every check passed
  1   usage, or the scenario file is invalid (each problem as file:line:column: message)
  2   a command failed: a session could not log in or did not recover within its bound
  4   verification failed: data read back differs, or an acknowledged write was lost
  5   the scenario file cannot be read, or --out cannot be written
  6   the run hit its virtual-time limit before finishing
  70  internal error (a bug; ISER_DEBUG=1 prints the stack)`;

/** The `sim` command; `exitCode` receives the run's code. */
export function simCommand(ctx: CommandContext, exitCode: { value: number }): Command {
  return new Command('sim')
    .description('run a simulation scenario in virtual time: report, event log, pcapng (sim/scenarios/*.yaml)')
    .argument('<scenario>', 'scenario file (YAML)')
    .addOption(new Option('--seed <n>', 'seed (overrides the file)').argParser(integerValue(0, 2 ** 32 - 1)))
    .option('--out <dir>', 'where report.json, events.jsonl and trace.pcapng go (default sim-out/<name>)')
    .action(async (scenario: string, flags: SimFlags) => {
      const outcome = await runSim(
        {
          scenario,
          ...(flags.seed === undefined ? {} : { seed: flags.seed }),
          ...(flags.out === undefined ? {} : { out: flags.out }),
        },
        ctx.io,
      );
      exitCode.value = outcome.exitCode;
    });
}
