/**
 * `iser conformance <url> …`: the property-based conformance suite, delegated to conformance/'s runConformanceCli
 * with every argument after `conformance` (its own --help describes them). Exit 0 when nothing failed, 1 usage,
 * 10 when a property failed.
 */
import { Command } from 'commander';
import { runConformanceCli } from '../../conformance/cli.js';
import type { CommandContext } from '../context.js';

/** The `conformance` command; `exitCode` receives runConformanceCli's code. */
export function conformanceCommand(ctx: CommandContext, exitCode: { value: number }): Command {
  return new Command('conformance')
    .description('run the property-based conformance suite against a target (`iser conformance --help`)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .argument('[options...]', 'the suite options')
    .action(async (args: string[]) => {
      const tty = process.stderr.isTTY;
      exitCode.value = await runConformanceCli(args, {
        out: ctx.io.out,
        err: ctx.io.err,
        progress: (line) => {
          if (tty) process.stderr.write(`\r\x1b[2K${line ?? ''}`);
        },
      });
    });
}
