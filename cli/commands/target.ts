/**
 * `iser target …`: the runnable target, delegated to server/'s runTargetCli with every argument after `target`
 * (its own --help describes them): from flags, or from `-c target.yaml` (reloaded on SIGHUP). Runs until SIGINT or
 * SIGTERM. JSON log lines go to stderr, "serving" lines to stdout.
 */
import { Command } from 'commander';
import { runTargetCli } from '../../server/target-cli.js';
import type { CommandContext } from '../context.js';

/** Resolves with the signal's name at the first SIGINT or SIGTERM. */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** The `target` command; `exitCode` receives runTargetCli's code. */
export function targetCommand(ctx: CommandContext, exitCode: { value: number }): Command {
  return new Command('target')
    .description('serve LUNs over iSCSI (TCP, iSER) from flags or -c target.yaml (`iser target --help` for options)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .argument('[options...]', 'the target options')
    .action(async (args: string[]) => {
      exitCode.value = await runTargetCli(args, {
        out: ctx.io.out,
        err: ctx.io.err,
        log: ctx.io.err,
        untilStopped: untilSignal,
      });
    });
}
