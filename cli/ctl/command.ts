/**
 * `iser ctl`: iscsictl(8) against `iser daemon`. -A adds a session, -R removes sessions, -L lists them with each
 * LUN's NBD address; --json prints the daemon's reply as JSON. Exit codes are the daemon's (see `iser --help`).
 */
import { Command, Option } from 'commander';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
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
}

class UsageError extends Error {}

/** The request the flags ask for. */
export function ctlRequest(flags: CtlFlags): Request {
  const modes = [flags.add, flags.remove, flags.list].filter((m) => m === true).length;
  if (modes !== 1) throw new UsageError('give exactly one of -A, -R, -L');
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
  let request: Request;
  try {
    request = ctlRequest(flags);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    ctx.io.err(`iser ctl: ${err.message}`);
    return ExitCode.Usage;
  }
  try {
    const response = await sendRequest(flags.socket ?? defaultSocketPath(), request);
    if (!response.ok) {
      ctx.io.err(`iser ctl: ${response.message}`);
      return response.exitCode;
    }
    if (flags.json === true) ctx.io.out(JSON.stringify({ sessions: response.sessions }, undefined, 2));
    else if (request.op === 'list') printSessions(ctx, response.sessions, true);
    else if (request.op === 'add') printSessions(ctx, response.sessions, false);
    else for (const s of response.sessions) ctx.io.out(`removed ${s.id} ${s.target}`);
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
    .option('-a', 'with -R: every session')
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
  };
  const defined = Object.entries(flags).filter(([, value]) => value !== undefined && value !== false);
  return Object.fromEntries(defined) as unknown as CtlFlags;
}
