/**
 * `iser daemon [--socket PATH] [--nbd-dir DIR]`: the iscsid role. Serves until SIGINT/SIGTERM, then logs every
 * session out, removes its sockets and exits 0. A second daemon on the same socket exits 2 and leaves the first alone.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { Command, Option } from 'commander';
import { asyncScheduler } from 'rxjs';
import { TcpConnector } from '../../transports/tcp/connector.js';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { durationValue } from '../parse-values.js';
import { defaultSocketPath, IscsiDaemon, type TransportProviders } from './daemon.js';
import { DaemonError } from './errors.js';

interface DaemonFlags {
  readonly socket?: string;
  readonly nbdDir?: string;
  /** Local loopback address of a soft-RoCE device on UDP (iSER for `ctl -T iser`). */
  readonly iserSoftroce?: string;
  /** How long a lost session keeps reconnecting before NBD requests fail (ms). */
  readonly recoveryTimeout?: number;
}

const TCP = (): TcpConnector => new TcpConnector({ connectTimeoutMs: 10_000 });

/** Transports the daemon offers: TCP always; iSER only over a soft-RoCE device on loopback UDP, when asked. */
async function transports(flags: DaemonFlags): Promise<{ providers: TransportProviders; close: () => Promise<void> }> {
  const address = flags.iserSoftroce;
  if (address === undefined) {
    return {
      providers: {
        tcp: TCP,
        iserUnavailable: 'the daemon was started without --iser-softroce (only -T tcp is served)',
      },
      close: () => Promise.resolve(),
    };
  }
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/u.test(address)) {
    throw new DaemonError('ERR_DAEMON_BAD_REQUEST', `--iser-softroce ${address}: only a 127.x.y.z loopback address`);
  }
  const [{ FIRST_QPN, SoftRoceProvider }, { UdpLink }, { IserConnector }] = await Promise.all([
    import('../../sim/roce/provider/provider.js'),
    import('../../sim/roce/link/udp-link.js'),
    import('../../transports/iser/connector.js'),
  ]);
  // A fresh seed per daemon start: a seeded device would reuse its CM comm IDs and QPNs, and a long-lived target
  // still holding the last daemon's connection would take the new CM REQ for a retransmission and ignore it.
  const provider = await SoftRoceProvider.open({
    link: new UdpLink(),
    address,
    scheduler: asyncScheduler,
    seed: randomUUID(),
    // and a first QPN of its own: a target still holding the last run's connection (QPN 17 too) would refuse
    // the new REQ as a stale connection (REJ 10), as ib_cm does when a rebooted host reuses a QPN.
    firstQpn: randomInt(FIRST_QPN, 0x1000000),
  });
  return {
    providers: {
      tcp: TCP,
      iser: () => new IserConnector(provider, { scheduler: asyncScheduler, connectTimeoutMs: 10_000 }),
    },
    close: () => provider.close(),
  };
}

/** Runs the daemon until a signal (or `stop` resolves, for tests); resolves with the exit code. */
export async function runDaemon(flags: DaemonFlags, ctx: CommandContext, stop?: Promise<void>): Promise<number> {
  let daemon: IscsiDaemon;
  let offered: Awaited<ReturnType<typeof transports>> | undefined;
  try {
    offered = await transports(flags);
    daemon = await IscsiDaemon.start({
      socketPath: flags.socket ?? defaultSocketPath(),
      ...(flags.nbdDir === undefined ? {} : { nbdDir: flags.nbdDir }),
      ...(flags.recoveryTimeout === undefined ? {} : { recoveryTimeoutMs: flags.recoveryTimeout }),
      transports: offered.providers,
      log: (line) => {
        ctx.io.err(`iser daemon: ${line}`);
      },
    });
  } catch (err) {
    await offered?.close();
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
  await offered.close();
  ctx.io.err('iser daemon: stopped');
  return ExitCode.Ok;
}

/** The `daemon` command. */
export function daemonCommand(ctx: CommandContext, exitCode: { value: number }): Command {
  return new Command('daemon')
    .description('hold iSCSI sessions and export their LUNs over NBD; controlled by `iser ctl` (like iscsid)')
    .option('--socket <path>', `control socket (default ${defaultSocketPath()})`)
    .option('--nbd-dir <dir>', 'directory for the NBD sockets (default: the control socket directory)')
    .option('--iser-softroce <address>', 'serve ctl -T iser over a soft-RoCE device on UDP at this 127.x address')
    .addOption(
      new Option(
        '--recovery-timeout <duration>',
        'how long a lost session keeps reconnecting before NBD requests fail (default: Time2Wait + Time2Retain, 22s)',
      ).argParser(durationValue(1000, 24 * 3_600_000)),
    )
    .action(async (flags: DaemonFlags) => {
      exitCode.value = await runDaemon(flags, ctx);
    });
}
