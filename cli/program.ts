/**
 * The `iser` command line as a function: `runIser(argv, io)` parses, runs one subcommand and resolves with the exit
 * code, never throwing for an expected failure. main.ts calls it with the process's streams; tests call it
 * in-process with their own.
 */
import { Command, CommanderError } from 'commander';
import { CommandContext } from './context.js';
import { debugStack, describeFailure } from './failure.js';
import { EXIT_CODES_HELP, ExitCode } from './exit-codes.js';
import type { CliIo } from './io.js';
import { ddCommand } from './commands/dd.js';
import { conformanceCommand } from './commands/conformance.js';
import { ctlCommand } from './ctl/command.js';
import { daemonCommand } from './daemon/command.js';
import { inqCommand } from './commands/inq.js';
import { lsCommand } from './commands/ls.js';
import { perfCommand } from './commands/perf.js';
import { readcapCommand } from './commands/readcap.js';
import { SIM_EXIT_CODES_HELP, simCommand } from './commands/sim.js';
import { targetCommand } from './commands/target.js';
import { packageVersion } from './version.js';

/** Builds the program; `exitCode` receives a code a subcommand decided itself (target). */
function buildProgram(ctx: CommandContext, exitCode: { value: number }): Command {
  const program = new Command('iser')
    .description('iSCSI (RFC 7143) and iSER (RFC 7145) initiator tools and target')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => {
        ctx.io.out(text.trimEnd());
      },
      writeErr: (text) => {
        ctx.io.err(text.trimEnd());
      },
      outputError: (text, write) => {
        write(`iser: ${text.replace(/^error: /u, '')}`);
      },
    })
    .addHelpText(
      'after',
      `
URLs: iscsi://[user[%password]@]host[:port]/target-iqn/lun  (iser:// for iSER; a portal URL stops after the port)
Prefer --chap-user with --chap-secret-file (or $ISER_CHAP_SECRET) to a password in the URL.

${EXIT_CODES_HELP}`,
    );
  for (const command of [
    lsCommand(ctx),
    inqCommand(ctx),
    readcapCommand(ctx),
    ddCommand(ctx),
    perfCommand(ctx),
    targetCommand(ctx, exitCode),
    daemonCommand(ctx, exitCode),
    ctlCommand(ctx, exitCode),
    conformanceCommand(ctx, exitCode),
    simCommand(ctx, exitCode),
  ]) {
    // addCommand, unlike command(), does not pass on exitOverride and the output settings: copy them.
    command.copyInheritedSettings(program);
    // `iser target --help` and `iser conformance --help` are the delegates' own: the copy must not bring ours back.
    if (command.name() === 'target' || command.name() === 'conformance') command.helpOption(false);
    else command.addHelpText('after', `\n${command.name() === 'sim' ? SIM_EXIT_CODES_HELP : EXIT_CODES_HELP}`);
    program.addCommand(command);
  }
  return program;
}

/** Runs `iser` with `argv` (the arguments after the program name); resolves with the exit code. */
export async function runIser(argv: readonly string[], io: CliIo): Promise<number> {
  const ctx = new CommandContext(io);
  const exitCode = { value: ExitCode.Ok as number };
  const program = buildProgram(ctx, exitCode);
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return ExitCode.Usage;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    await ctx.close();
    return exitCode.value;
  } catch (err) {
    await ctx.close().catch(() => undefined);
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    const failure = describeFailure(err, ctx.secrets);
    io.progress(undefined);
    io.err(`iser: ${failure.message}`);
    const stack = failure.exitCode === ExitCode.Internal ? debugStack(err, ctx.secrets) : undefined;
    if (stack !== undefined) io.err(stack);
    return failure.exitCode;
  }
}
