/**
 * `iser target`: serves LUNs over iSCSI/TCP until SIGINT or SIGTERM, then asks every session to log out and
 * closes. For example:
 *
 *   iser target --portal 127.0.0.1:3260 --iqn iqn.2024-01.org.example:disk --lun 0=mem:256M --lun 1=file:/srv/l1.img:1G
 *     [--chap user:secret]... [--mutual-chap name:secret] [--allow iqn.1993-08.org.debian:01:abc]...
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { openBackend } from '../backends/spec.js';
import { isIserError } from '../protocol/errors.js';
import type { BlockBackend } from '../protocol/scsi/backend.js';
import type { ChapAccount, ChapConfig, LunConfig, PortalConfig, TargetConfig } from '../protocol/target/index.js';
import { TargetServerError } from './errors.js';
import { IscsiTarget, type TargetServerEvent } from './iscsi-target.js';

/** Where the CLI writes and how it learns to stop (tests replace these). */
export interface TargetCliIo {
  /** A line for the user (what is being served). */
  readonly out: (line: string) => void;
  /** A line of log or error. */
  readonly err: (line: string) => void;
  /** Resolves (with the signal's name) when the server should stop; default SIGINT or SIGTERM. */
  readonly untilStopped: () => Promise<string>;
  /** Called once the portals are open. */
  readonly onListening?: (target: IscsiTarget) => void;
}

const defaultIo: TargetCliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  untilStopped: () =>
    new Promise((resolve) => {
      const stop = (signal: string): void => {
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
        resolve(signal);
      };
      const onInt = (): void => {
        stop('SIGINT');
      };
      const onTerm = (): void => {
        stop('SIGTERM');
      };
      process.once('SIGINT', onInt);
      process.once('SIGTERM', onTerm);
    }),
};

/** Parses `host:port`, `[v6]:port` or `host` (port 3260). */
export function parsePortal(text: string): PortalConfig {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const plain = /^([^:[\]]+)(?::(\d+))?$/.exec(text);
  const match = bracketed ?? plain;
  const port = Number(match?.[2] ?? '3260');
  if (match?.[1] === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`"${text}" is not host:port`);
  }
  return { host: match[1], port };
}

/** Parses `N=spec`, e.g. `0=mem:256M` or `1=file:/srv/lun1.img:1G`. */
export function parseLunArgument(text: string): { readonly lun: number; readonly spec: string } {
  const match = /^(\d+)=(.+)$/.exec(text);
  if (match?.[1] === undefined || match[2] === undefined) {
    throw new InvalidArgumentError(`"${text}" is not N=spec (e.g. 0=mem:256M or 1=file:/path[:size])`);
  }
  return { lun: Number(match[1]), spec: match[2] };
}

/** Parses `user:secret` (the secret may itself contain colons). */
export function parseChapArgument(text: string): ChapAccount {
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1) throw new InvalidArgumentError('CHAP credentials are user:secret');
  return { user: text.slice(0, colon), secret: text.slice(colon + 1) };
}

const collect =
  <T>(parse: (text: string) => T) =>
  (value: string, previous: T[] | undefined): T[] => [...(previous ?? []), parse(value)];

function integerOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}`);
    }
    return n;
  };
}

interface CliOptions {
  readonly portal?: PortalConfig[];
  readonly iqn: string;
  readonly alias?: string;
  readonly lun?: { lun: number; spec: string }[];
  readonly chap?: ChapAccount[];
  readonly mutualChap?: ChapAccount;
  readonly allow?: string[];
  readonly blockSize: number;
  readonly queueDepth?: number;
  readonly nopInterval: number;
  readonly allowShortSecrets?: boolean;
  readonly discovery: boolean;
}

function describe(event: TargetServerEvent): string | undefined {
  switch (event.kind) {
    case 'listening':
      return `listening on ${event.address.host}:${event.address.port} (portal group ${event.portalGroupTag})`;
    case 'login-failed':
      return `login from ${event.remote.host}:${event.remote.port} failed${event.error ? `: ${event.error.message}` : ''}`;
    case 'session-started':
      return `session ${event.tsih}: ${event.initiatorName} -> ${event.targetName ?? '(discovery)'}${
        event.reinstated === undefined ? '' : ` (reinstates ${event.reinstated})`
      }`;
    case 'session-ended':
      return `session ${event.tsih} ended: ${event.reason.message}`;
    default:
      return undefined;
  }
}

/** Runs `iser target` with `argv` (the arguments after `target`); resolves with the exit code. */
export async function runTargetCli(argv: readonly string[], io: TargetCliIo = defaultIo): Promise<number> {
  const program = new Command('iser target')
    .description('Serve block devices over iSCSI until SIGINT or SIGTERM')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => {
        io.out(s.trimEnd());
      },
      writeErr: (s) => {
        io.err(s.trimEnd());
      },
    })
    .requiredOption('--iqn <name>', 'the target name, e.g. iqn.2024-01.org.example:disk')
    .option('--portal <host:port>', 'a portal to listen on (repeatable; default 0.0.0.0:3260)', collect(parsePortal))
    .option('--lun <n=spec>', 'a LUN: N=mem:<size> or N=file:<path>[:<size>] (repeatable)', collect(parseLunArgument))
    .option('--alias <alias>', 'TargetAlias')
    .option('--chap <user:secret>', 'require CHAP; an initiator account (repeatable)', collect(parseChapArgument))
    .option('--mutual-chap <user:secret>', "the target's own CHAP name and secret for mutual CHAP", parseChapArgument)
    .option('--allow <initiator-iqn>', 'allow only these initiators (repeatable; default any)', collect(String))
    .option('--block-size <bytes>', 'logical block size', integerOption('--block-size', 512, 65536), 512)
    .option('--queue-depth <n>', 'commands each session may queue', integerOption('--queue-depth', 1, 65535))
    .option(
      '--nop-interval <seconds>',
      'NOP-In keepalive after this idle time (0 = off)',
      integerOption('--nop-interval', 0, 86400),
      0,
    )
    .option('--allow-short-secrets', 'accept CHAP secrets shorter than 12 bytes (interop testing only)')
    .option('--no-discovery', 'refuse discovery sessions');
  let options: CliOptions;
  try {
    await program.parseAsync([...argv], { from: 'user' });
    options = program.opts<CliOptions>();
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
    throw err;
  }
  const lunArgs = options.lun ?? [];
  if (lunArgs.length === 0) {
    io.err('error: at least one --lun is needed (e.g. --lun 0=mem:256M)');
    return EXIT_USAGE;
  }
  if (options.mutualChap !== undefined && (options.chap ?? []).length === 0) {
    io.err('error: --mutual-chap needs --chap (mutual CHAP authenticates the initiator too)');
    return EXIT_USAGE;
  }

  const backends: BlockBackend[] = [];
  let target: IscsiTarget | undefined;
  try {
    const luns: LunConfig[] = [];
    for (const { lun, spec } of lunArgs) {
      const backend = await openBackend(spec, { blockSize: options.blockSize });
      backends.push(backend);
      luns.push({ lun, backend });
    }
    const chap: ChapConfig | undefined =
      options.chap === undefined
        ? undefined
        : { accounts: options.chap, ...(options.mutualChap === undefined ? {} : { mutual: options.mutualChap }) };
    const config: TargetConfig = {
      targets: [
        {
          name: options.iqn,
          luns,
          ...(options.alias === undefined ? {} : { alias: options.alias }),
          ...(options.allow === undefined ? {} : { acl: options.allow }),
          ...(chap === undefined ? {} : { chap }),
        },
      ],
      portalGroups: [{ tag: 1, portals: options.portal ?? [{ host: '0.0.0.0', port: 3260 }] }],
      discovery: { enabled: options.discovery },
      nopInIntervalMs: options.nopInterval * 1000,
      allowShortChapSecrets: options.allowShortSecrets === true,
      ...(options.queueDepth === undefined ? {} : { queueDepth: options.queueDepth }),
    };
    target = await IscsiTarget.listen(config, {
      onEvent: (event) => {
        const line = describe(event);
        if (line !== undefined) io.err(line);
      },
    });
    for (const { address } of target.portals) io.out(`serving ${options.iqn} on ${address.host}:${address.port}`);
    io.onListening?.(target);
    const signal = await io.untilStopped();
    io.err(`${signal}: logging sessions out`);
    await target.close();
    return 0;
  } catch (err) {
    io.err(`error: ${isIserError(err) ? `${err.code}: ${err.message}` : String(err)}`);
    await target?.close();
    return isUsageError(err) ? EXIT_USAGE : EXIT_FAILURE;
  } finally {
    for (const backend of backends) await backend.close?.().catch(() => undefined);
  }
}

/** Exit codes shared with the rest of the `iser` command: 1 usage or configuration, 2 the target could not serve. */
const EXIT_USAGE = 1;
const EXIT_FAILURE = 2;

/** A mistake in what the user asked for, as opposed to a failure while serving (e.g. the port is taken). */
function isUsageError(err: unknown): boolean {
  if (err instanceof TargetServerError) return err.code === 'ERR_SERVER_USAGE';
  return isIserError(err) && (err.code.startsWith('ERR_TARGET_CONFIG') || err.code.startsWith('ERR_BACKEND'));
}
