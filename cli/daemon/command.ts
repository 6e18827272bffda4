/**
 * `iser daemon [--socket PATH] [--nbd-dir DIR]`: the iscsid role. Serves until SIGINT/SIGTERM, then logs every
 * session out, removes its sockets and exits 0. A second daemon on the same socket exits 2 and leaves the first alone.
 */
import { Command } from 'commander';
import { TcpConnector } from '../../transports/tcp/connector.js';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { defaultSocketPath, IscsiDaemon, type TransportProviders } from './daemon.js';
import { DaemonError } from './errors.js';

interface DaemonFlags {
  readonly socket?: string;
  readonly nbdDir?: string;
}

/** Transports the daemon offers: TCP always; iSER is not wired here yet (ctl -T iser says why). */
function transports(): TransportProviders {
  return {
    tcp: () => new TcpConnector({ connectTimeoutMs: 10_000 }),
    iserUnavailable: 'this daemon was started without an iSER provider (only -T tcp is served)',
  };
}

/** Runs the daemon until a signal (or `stop` resolves, for tests); resolves with the exit code. */
export async function runDaemon(flags: DaemonFlags, ctx: CommandContext, stop?: Promise<void>): Promise<number> {
  let daemon: IscsiDaemon;
  try {
    daemon = await IscsiDaemon.start({
      socketPath: flags.socket ?? defaultSocketPath(),
      ...(flags.nbdDir === undefined ? {} : { nbdDir: flags.nbdDir }),
      transports: transports(),
      log: (line) => {
        ctx.io.err(`iser daemon: ${line}`);
      },
    });
  } catch (err) {
    if (err instanceof DaemonError) {
      ctx.io.err(`iser: ${err.message}`);
      return err.exitCode;
    }
    throw err;
  }
  ctx.io.err(`iser daemon: listening on ${daemon.socketPath}`);
  let onSignal = (): void => undefined;
  await new Promise<void>((resolve) => {
    onSignal = resolve;
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    void stop?.then(onSignal);
  });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  await daemon.close();
  ctx.io.err('iser daemon: stopped');
  return ExitCode.Ok;
}

/** The `daemon` command. */
export function daemonCommand(ctx: CommandContext, exitCode: { value: number }): Command {
  return new Command('daemon')
    .description('hold iSCSI sessions and export their LUNs over NBD; controlled by `iser ctl` (like iscsid)')
    .option('--socket <path>', `control socket (default ${defaultSocketPath()})`)
    .option('--nbd-dir <dir>', 'directory for the NBD sockets (default: the control socket directory)')
    .action(async (flags: DaemonFlags) => {
      exitCode.value = await runDaemon(flags, ctx);
    });
}
