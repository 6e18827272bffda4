/**
 * `iser ctl`: iscsictl(8) against `iser daemon`. -A adds a session, -R removes sessions, -L lists them with each
 * LUN's NBD address; --json prints the daemon's reply as JSON. Exit codes are the daemon's (see `iser --help`).
 */
import { Command, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { findTarget, parseIscsiConf, type IscsiConfTarget } from '../../config/iscsi-conf.js';
import { isIserError } from '../../protocol/errors.js';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { redact } from '../failure.js';
import { defaultSocketPath } from '../daemon/daemon.js';
import { DaemonError } from '../daemon/errors.js';
import type { Request, SessionInfo } from '../daemon/protocol.js';
import { sendRequest } from './client.js';

interface CtlFlags {
  readonly add?: boolean;
  readonly remove?: boolean;
  readonly list?: boolean;
  readonly target?: string;
  readonly portal?: string;
  readonly transport: 'tcp' | 'iser';
  readonly user?: string;
  readonly secret?: string;
  readonly nickname?: string;
  readonly all?: boolean;
  readonly verbose?: boolean;
  readonly json?: boolean;
  readonly socket?: string;
  readonly discovery?: boolean;
  readonly config?: string;
}

class UsageError extends Error {}

/** The request an iscsi.conf(5) target block asks for. */
function confRequest(target: IscsiConfTarget): Request {
  const host = target.portal.host.includes(':') ? `[${target.portal.host}]` : target.portal.host;
  const common = {
    portal: `${host}:${target.portal.port}`,
    transport: target.protocol === 'iser' ? ('iser' as const) : ('tcp' as const),
    ...(target.chapIName === undefined ? {} : { user: target.chapIName }),
    ...(target.chapSecret === undefined ? {} : { secret: target.chapSecret }),
    ...(target.initiatorName === undefined ? {} : { initiatorName: target.initiatorName }),
    ...(target.tgtChapName === undefined ? {} : { mutualUser: target.tgtChapName }),
    ...(target.tgtChapSecret === undefined ? {} : { mutualSecret: target.tgtChapSecret }),
  };
  if (target.sessionType === 'Discovery') return { op: 'discover', ...common };
  if (target.targetName === undefined) throw new UsageError(`${target.nickname}: no TargetName`);
  return { op: 'add', target: target.targetName, nickname: target.nickname, ...common };
}

/** The requests `-A -c file (-n nickname | -a)` asks for. */
async function configRequests(flags: CtlFlags, file: string): Promise<Request[]> {
  const text = await readFile(file, 'utf8');
  const conf = parseIscsiConf(text, file);
  if (flags.all === true) return conf.targets.filter((t) => t.enable).map(confRequest);
  if (flags.nickname === undefined) throw new UsageError('-A -c <file> needs -n <nickname> or -a');
  const target = findTarget(conf, flags.nickname);
  if (target === undefined) throw new UsageError(`${file}: no target named ${flags.nickname}`);
  return [confRequest(target)];
}

/** The request the flags ask for. */
export function ctlRequest(flags: CtlFlags): Request {
  const modes = [flags.add, flags.remove, flags.list].filter((m) => m === true).length;
  if (modes !== 1) throw new UsageError('give exactly one of -A, -R, -L');
  if (flags.add === true && flags.discovery === true) {
    if (flags.portal === undefined || flags.target !== undefined)
      throw new UsageError('-A -d needs -p <portal> (and no -t)');
    if ((flags.user === undefined) !== (flags.secret === undefined)) throw new UsageError('-u and -s go together');
    return {
      op: 'discover',
      portal: flags.portal,
      transport: flags.transport,
      ...(flags.user === undefined ? {} : { user: flags.user }),
      ...(flags.secret === undefined ? {} : { secret: flags.secret }),
    };
  }
  if (flags.add === true) {
    if (flags.target === undefined || flags.portal === undefined)
      throw new UsageError('-A needs -t <target> and -p <portal>');
    if ((flags.user === undefined) !== (flags.secret === undefined)) throw new UsageError('-u and -s go together');
    return {
      op: 'add',
      target: flags.target,
      portal: flags.portal,
      transport: flags.transport,
      ...(flags.user === undefined ? {} : { user: flags.user }),
      ...(flags.secret === undefined ? {} : { secret: flags.secret }),
      ...(flags.nickname === undefined ? {} : { nickname: flags.nickname }),
    };
  }
  if (flags.remove === true) {
    const chosen = [flags.target, flags.nickname, flags.all].filter((x) => x !== undefined).length;
    if (chosen !== 1) throw new UsageError('-R needs exactly one of -t <target>, -n <nickname>, -a');
    return {
      op: 'remove',
      ...(flags.target === undefined ? {} : { target: flags.target }),
      ...(flags.nickname === undefined ? {} : { nickname: flags.nickname }),
      ...(flags.all === true ? { all: true } : {}),
    };
  }
  return { op: 'list', verbose: flags.verbose === true };
}

function sizeText(info: { blocks: string; blockSize: number }): string {
  const bytes = BigInt(info.blocks) * BigInt(info.blockSize);
  const mib = bytes / 1048576n;
  return mib >= 1n ? `${mib}M` : `${bytes}B`;
}

function printSessions(ctx: CommandContext, sessions: readonly SessionInfo[], header: boolean): void {
  if (header) ctx.io.out(`${'Id'.padEnd(4)}${'Target name'.padEnd(44)}${'Target portal'.padEnd(22)}Transport State`);
  for (const s of sessions) {
    ctx.io.out(
      `${String(s.id).padEnd(4)}${s.target.padEnd(44)}${s.portal.padEnd(22)}${s.transport.padEnd(10)}${s.state}`,
    );
    for (const lun of s.luns) ctx.io.out(`    lun ${lun.lun} ${sizeText(lun).padEnd(8)} ${lun.nbd}`);
    for (const [key, value] of Object.entries(s.keys ?? {})) ctx.io.out(`    ${key}=${value}`);
  }
}

/** Runs ctl with parsed flags; resolves with the exit code. */
export async function runCtl(flags: CtlFlags, ctx: CommandContext): Promise<number> {
  if (flags.secret !== undefined) ctx.addSecrets([flags.secret]);
  let requests: Request[];
  try {
    if (flags.config !== undefined && flags.add !== true) throw new UsageError('-c <file> goes with -A');
    requests = flags.config === undefined ? [ctlRequest(flags)] : await configRequests(flags, flags.config);
  } catch (err) {
    if (err instanceof UsageError) {
      ctx.io.err(`iser ctl: ${err.message}`);
      return ExitCode.Usage;
    }
    if (isIserError(err) && err.code.startsWith('ERR_CONFIG_')) {
      ctx.io.err(`iser ctl: ${err.message}`);
      return ExitCode.Usage;
    }
    const errno = (err as { code?: unknown }).code;
    if (typeof errno === 'string' && errno.startsWith('E') && err instanceof Error) {
      ctx.io.err(`iser ctl: ${err.message}`);
      return ExitCode.LocalIo;
    }
    throw err;
  }
  for (const request of requests) {
    if (request.op === 'add' || request.op === 'discover') {
      ctx.addSecrets([request.secret ?? '', request.mutualSecret ?? '']);
    }
  }
  try {
    const sessions: SessionInfo[] = [];
    for (const request of requests) {
      const response = await sendRequest(flags.socket ?? defaultSocketPath(), request);
      if (!response.ok) {
        ctx.io.err(`iser ctl: ${redact(response.message, ctx.secrets)}`);
        return response.exitCode;
      }
      sessions.push(...response.sessions);
    }
    const op = requests[0]?.op;
    if (flags.json === true) ctx.io.out(JSON.stringify({ sessions }, undefined, 2));
    else if (op === 'list') printSessions(ctx, sessions, true);
    else if (op === 'remove') for (const s of sessions) ctx.io.out(`removed ${s.id} ${s.target}`);
    else printSessions(ctx, sessions, false);
    return ExitCode.Ok;
  } catch (err) {
    if (!(err instanceof DaemonError)) throw err;
    ctx.io.err(`iser ctl: ${err.message}`);
    return err.exitCode;
  }
}

/** The `ctl` command (iscsictl flags). */
export function ctlCommand(ctx: CommandContext, exitCode: { value: number }): Command {
  return new Command('ctl')
    .description('control `iser daemon` with iscsictl(8) flags: -A add, -R remove, -L list')
    .option('-A', 'add a session (-t <target> -p <portal>)')
    .option('-R', 'remove sessions (-t <target> | -n <nickname> | -a)')
    .option('-L', 'list sessions with their LUNs and NBD addresses')
    .option('-t <target>', 'target name (IQN)')
    .option('-p <portal>', 'portal host[:port]')
    .addOption(new Option('-T <transport>', 'transport').choices(['tcp', 'iser']).default('tcp'))
    .option('-u <user>', 'CHAP user')
    .option('-s <secret>', 'CHAP secret (never printed)')
    .option('-n <nickname>', 'session nickname')
    .option('-a', 'with -R: every session; with -A -c: every enabled target of the file')
    .option('-d', 'with -A: discovery (SendTargets) at -p, and a session to every target found')
    .option('-c <file>', 'with -A: read targets from an iscsi.conf(5) file (-n <nickname> or -a)')
    .option('-v', 'with -L: negotiated keys too')
    .option('--json', 'print the result as JSON')
    .option('--socket <path>', `daemon control socket (default ${defaultSocketPath()})`)
    .action(async (raw: Record<string, unknown>) => {
      exitCode.value = await runCtl(fromRaw(raw), ctx);
    });
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Commander names single-letter options by their letter; map them to ctl's flags. */
function fromRaw(raw: Record<string, unknown>): CtlFlags {
  const flags = {
    add: raw['A'] === true,
    remove: raw['R'] === true,
    list: raw['L'] === true,
    target: str(raw['t']),
    portal: str(raw['p']),
    transport: raw['T'] === 'iser' ? 'iser' : 'tcp',
    user: str(raw['u']),
    secret: str(raw['s']),
    nickname: str(raw['n']),
    all: raw['a'] === true ? true : undefined,
    verbose: raw['v'] === true,
    json: raw['json'] === true,
    socket: str(raw['socket']),
    discovery: raw['d'] === true,
    config: str(raw['c']),
  };
  const defined = Object.entries(flags).filter(([, value]) => value !== undefined && value !== false);
  return Object.fromEntries(defined) as unknown as CtlFlags;
}
