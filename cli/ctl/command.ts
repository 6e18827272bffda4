/**
 * `iser ctl`: iscsictl(8) against `iser daemon`. -A adds a session, -M modifies one (by its -L id), -R removes
 * sessions, -L lists them with each LUN's NBD address; --json prints the daemon's reply as JSON. Exit codes are the
 * daemon's (see `iser --help`).
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
  readonly modify?: boolean;
  readonly remove?: boolean;
  readonly list?: boolean;
  readonly target?: string;
  readonly portal?: string;
  /** Undefined when -T was not given (-A then uses tcp, -M keeps the session's). */
  readonly transport?: 'tcp' | 'iser';
  /** -i: a session id, as -L shows it. */
  readonly id?: string;
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

/** The requests `-A -c file (-n nickname | -a)` (or `-M -i id -c file -n nickname`) asks for. */
async function configRequests(flags: CtlFlags, file: string): Promise<Request[]> {
  if (flags.modify === true && (flags.all === true || flags.nickname === undefined)) {
    throw new UsageError('-M -c <file> needs -i <id> and -n <nickname>');
  }
  const id = flags.modify === true ? sessionId(flags.id) : undefined;
  const text = await readFile(file, 'utf8');
  const conf = parseIscsiConf(text, file);
  if (flags.all === true) return conf.targets.filter((t) => t.enable).map(confRequest);
  if (flags.nickname === undefined) throw new UsageError('-A -c <file> needs -n <nickname> or -a');
  const target = findTarget(conf, flags.nickname);
  if (target === undefined) throw new UsageError(`${file}: no target named ${flags.nickname}`);
  const request = confRequest(target);
  if (id === undefined) return [request];
  if (request.op !== 'add') throw new UsageError(`${flags.nickname}: -M needs a target block, not discovery`);
  const { op: _op, ...fields } = request;
  return [{ ...fields, op: 'modify', id, replace: true }];
}

/** `-i <id>`: a positive integer session id. */
function sessionId(text: string | undefined): number {
  if (text === undefined) throw new UsageError('-M needs -i <session-id> (iser ctl -L shows the ids)');
  const id = /^\d{1,10}$/u.test(text) ? Number(text) : Number.NaN;
  if (!(id >= 1 && id <= 2 ** 31)) throw new UsageError(`-i ${text}: a session id is a positive integer`);
  return id;
}

/** The request the flags ask for. */
export function ctlRequest(flags: CtlFlags): Request {
  const modes = [flags.add, flags.modify, flags.remove, flags.list].filter((m) => m === true).length;
  if (modes !== 1) throw new UsageError('give exactly one of -A, -M, -R, -L');
  if (flags.id !== undefined && flags.modify !== true && flags.remove !== true) {
    throw new UsageError('-i <id> goes with -M or -R');
  }
  if (flags.discovery === true && flags.add !== true) throw new UsageError('-d goes with -A');
  if (flags.add === true && flags.discovery === true) {
    if (flags.portal === undefined || flags.target !== undefined)
      throw new UsageError('-A -d needs -p <portal> (and no -t)');
    if ((flags.user === undefined) !== (flags.secret === undefined)) throw new UsageError('-u and -s go together');
    return {
      op: 'discover',
      portal: flags.portal,
      transport: flags.transport ?? 'tcp',
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
      transport: flags.transport ?? 'tcp',
      ...(flags.user === undefined ? {} : { user: flags.user }),
      ...(flags.secret === undefined ? {} : { secret: flags.secret }),
      ...(flags.nickname === undefined ? {} : { nickname: flags.nickname }),
    };
  }
  if (flags.modify === true) {
    const id = sessionId(flags.id);
    if (flags.all === true) throw new UsageError('-M changes one session: -i <id>, not -a');
    if ((flags.user === undefined) !== (flags.secret === undefined)) throw new UsageError('-u and -s go together');
    const changes = {
      ...(flags.target === undefined ? {} : { target: flags.target }),
      ...(flags.portal === undefined ? {} : { portal: flags.portal }),
      ...(flags.transport === undefined ? {} : { transport: flags.transport }),
      ...(flags.user === undefined ? {} : { user: flags.user }),
      ...(flags.secret === undefined ? {} : { secret: flags.secret }),
      ...(flags.nickname === undefined ? {} : { nickname: flags.nickname }),
    };
    if (Object.keys(changes).length === 0)
      throw new UsageError('-M -i <id> needs something to change: -t, -p, -T, -u -s or -n');
    return { op: 'modify', id, ...changes };
  }
  if (flags.remove === true) {
    const chosen = [flags.id, flags.target, flags.nickname, flags.all].filter((x) => x !== undefined).length;
    if (chosen !== 1) throw new UsageError('-R needs exactly one of -i <id>, -t <target>, -n <nickname>, -a');
    return {
      op: 'remove',
      ...(flags.id === undefined ? {} : { id: sessionId(flags.id) }),
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
  if (header) {
    const columns = `${'Id'.padEnd(4)}${'Target name'.padEnd(44)}${'Target portal'.padEnd(22)}`;
    ctx.io.out(`${columns}${'Transport'.padEnd(10)}${'State'.padEnd(14)}Reconnects`);
  }
  for (const s of sessions) {
    const columns = `${String(s.id).padEnd(4)}${s.target.padEnd(44)}${s.portal.padEnd(22)}`;
    ctx.io.out(`${columns}${s.transport.padEnd(10)}${s.state.padEnd(14)}${s.reconnects}`);
    for (const lun of s.luns) ctx.io.out(`    lun ${lun.lun} ${sizeText(lun).padEnd(8)} ${lun.nbd}`);
    for (const [key, value] of Object.entries(s.keys ?? {})) ctx.io.out(`    ${key}=${value}`);
  }
}

/** Runs ctl with parsed flags; resolves with the exit code. */
export async function runCtl(flags: CtlFlags, ctx: CommandContext): Promise<number> {
  if (flags.secret !== undefined) ctx.addSecrets([flags.secret]);
  let requests: Request[];
  try {
    if (flags.config !== undefined && flags.add !== true && flags.modify !== true) {
      throw new UsageError('-c <file> goes with -A or -M');
    }
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
    if (request.op === 'add' || request.op === 'discover' || request.op === 'modify') {
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
    else if (op === 'modify')
      for (const s of sessions) ctx.io.out(`modified ${s.id} ${s.target} ${s.portal} ${s.state}`);
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
    .description('control `iser daemon` with iscsictl(8) flags: -A add, -M modify, -R remove, -L list')
    .option('-A', 'add a session (-t <target> -p <portal>)')
    .option('-M', 'modify session -i <id>: new -t/-p/-T/-u -s log it in again (same NBD address); -n renames')
    .option('-R', 'remove sessions (-i <id> | -t <target> | -n <nickname> | -a)')
    .option('-L', 'list sessions with their LUNs and NBD addresses')
    .option('-t <target>', 'target name (IQN)')
    .option('-p <portal>', 'portal host[:port]')
    .option('-i <id>', 'session id (as -L shows it), with -M or -R')
    .addOption(new Option('-T <transport>', 'transport (default tcp)').choices(['tcp', 'iser']))
    .option('-u <user>', 'CHAP user')
    .option('-s <secret>', 'CHAP secret (never printed)')
    .option('-n <nickname>', 'session nickname')
    .option('-a', 'with -R: every session; with -A -c: every enabled target of the file')
    .option('-d', 'with -A: discovery (SendTargets) at -p, and a session to every target found')
    .option('-c <file>', 'with -A (or -M -i <id>): read targets from an iscsi.conf(5) file (-n <nickname> or -a)')
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
    modify: raw['M'] === true,
    remove: raw['R'] === true,
    list: raw['L'] === true,
    target: str(raw['t']),
    portal: str(raw['p']),
    transport: raw['T'] === 'iser' || raw['T'] === 'tcp' ? raw['T'] : undefined,
    id: str(raw['i']),
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
  return Object.fromEntries(defined);
}
