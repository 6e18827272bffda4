/**
 * Starts a private Debian `tgt` target (tgtd + tgtadm) on loopback for tests and benchmarks.
 *
 * Each instance is isolated from every other tgtd on the machine (another engineer may run one):
 * - its own temp dir, holding the LUN files (sparse), the log, and the management socket;
 * - its own management socket: tgtd and tgtadm 1.0.85 both read `TGT_IPC_SOCKET` and use
 *   `${TGT_IPC_SOCKET}.${control_port}` (+ `.lock`) instead of `/var/run/tgtd/socket.0` (tgt usr/mgmt.c, tgtadm.c);
 * - its own iSCSI portal, `127.0.0.1:PORT`, on a free port;
 * - its own pid: stop() signals that pid only, waits for it (bounded), then removes the temp dir.
 *
 * tgtd ignores SIGTERM (its handler is empty), so stop() sends SIGINT, then SIGKILL.
 *
 * CHAP: tgt 1.0.85 offers MD5 and SHA-1, and encodes SHA-1 as CHAP_A=7 (RFC 7143 and everyone else: 7 = SHA-256).
 * It picks the first of 5 or 7 in the initiator's list (usr/iscsi/chap.c `chap_initiator_auth_create_challenge`);
 * a list with neither fails the login (status 0x0200), and an answer of the wrong length too (0x0200, not 0x0201).
 * Its challenges are 50 bytes. test/peers/tgt-chap-algorithms.test.ts pins all of this on the wire.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerError, PeerErrorCode } from './errors.js';
import { canConnect, freePort, LOOPBACK, waitUntil } from './free-port.js';
import { iscsiUrl, type ChapCredentials, type IscsiUrlParts } from './iscsi-url.js';
import { runTool, runToolChecked, signalChild, tail } from './run-tool.js';

/** CHAP_A values tgt 1.0.85 accepts, and what it means by them (7 is SHA-1 here, SHA-256 in RFC 7143). */
export const TGT_CHAP_ALGORITHMS: Readonly<Record<number, string>> = { 5: 'MD5', 7: 'SHA-1' };

/** The target name used when the caller gives none. */
export const DEFAULT_TGT_IQN = 'iqn.2024-01.org.iser-test:tgt';

/** A LUN to create: backed by a sparse file of `sizeBytes` in the instance's temp dir, or by an existing `path`. */
export type TgtLunSpec =
  | { readonly lun: number; readonly sizeBytes: number; readonly blockSize?: number }
  | { readonly lun: number; readonly path: string; readonly blockSize?: number };

/** A digest preference as tgt's HeaderDigest/DataDigest key takes it. */
export type TgtDigest = 'None' | 'CRC32C' | 'None,CRC32C' | 'CRC32C,None';

/** Options of {@link startTgt}. */
export interface TgtOptions {
  /** iSCSI portal port on 127.0.0.1; default: a free one. */
  readonly port?: number;
  /** LUNs, numbered 1 and up (tgt keeps LUN 0 for its controller). */
  readonly luns: readonly TgtLunSpec[];
  /** Target name; default {@link DEFAULT_TGT_IQN}. */
  readonly iqn?: string;
  /** Initiators allowed in: an address, or `ALL`; default `127.0.0.1`. */
  readonly initiatorAddress?: string;
  /** Require one-way CHAP: the initiator must log in with these (tgt's incoming account). */
  readonly chap?: ChapCredentials;
  /** Mutual CHAP: tgt answers the initiator's challenge with these (tgt's outgoing account). */
  readonly mutualChap?: ChapCredentials;
  /** What tgt accepts for HeaderDigest; default tgt's own (`None`). */
  readonly headerDigest?: TgtDigest;
  /** What tgt accepts for DataDigest; default tgt's own (`None`). */
  readonly dataDigest?: TgtDigest;
  /** Other target keys to set with `tgtadm --op update` (MaxRecvDataSegmentLength, ImmediateData, ...). */
  readonly params?: Readonly<Record<string, string>>;
  /** Bound on tgtd coming up and on each tgtadm call; default 10 s. */
  readonly timeoutMs?: number;
}

/** A LUN as created. */
export interface TgtLun {
  readonly lun: number;
  /** Backing file. */
  readonly path: string;
  /** Size tgt reports (the file size). */
  readonly sizeBytes: number;
}

/** A running tgtd. */
export interface TgtInstance {
  readonly pid: number;
  readonly portal: { readonly host: string; readonly port: number };
  readonly iqn: string;
  readonly luns: readonly TgtLun[];
  /** The instance's temp dir (LUN files, log, management socket). */
  readonly dir: string;
  /** The file tgtd's stdout and stderr go to. */
  readonly logPath: string;
  /** Environment that points tgtadm at this instance (`TGT_IPC_SOCKET`). */
  readonly env: Readonly<Record<string, string>>;
  /** `iscsi://127.0.0.1:PORT/IQN/LUN`, with the instance's CHAP credentials unless overridden. */
  url(lun: number, overrides?: Partial<Pick<IscsiUrlParts, 'chap' | 'mutualChap' | 'headerDigest'>>): string;
  /** `iscsi://127.0.0.1:PORT`: the portal, for discovery (with the CHAP credentials `iscsi-ls -s` needs to log in). */
  portalUrl(overrides?: Partial<Pick<IscsiUrlParts, 'chap'>>): string;
  /** Runs `tgtadm --lld iscsi ARGS` against this instance; rejects on a non-zero exit. Returns stdout. */
  tgtadm(args: readonly string[]): Promise<string>;
  /** `tgtadm --mode target --op show`: what tgt thinks it serves. */
  show(): Promise<string>;
  /** True while tgtd runs. */
  running(): boolean;
  /** Stops tgtd (SIGINT, then SIGKILL; each wait bounded), then removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

const TID = 1;
const SOCKET_PATH_MAX = 100; // sun_path is 108 bytes; tgt appends ".0" and ".0.lock".
const PORT_ATTEMPTS = 3;

/** Starts tgtd on 127.0.0.1, configures one target with `luns`, ACL and CHAP, and waits until it serves. */
export async function startTgt(opts: TgtOptions): Promise<TgtInstance> {
  validate(opts);
  const dir = await mkdtemp(join(tmpdir(), 'iser-tgt-'));
  try {
    // Without a fixed port, a port picked free can be taken before tgtd binds it: try a few.
    for (let attempt = 1; ; attempt++) {
      const port = opts.port ?? (await freePort(LOOPBACK));
      try {
        return await startOn(dir, port, opts);
      } catch (e) {
        if (opts.port !== undefined || attempt >= PORT_ATTEMPTS || !isBindFailure(e)) throw e;
      }
    }
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

async function startOn(dir: string, port: number, opts: TgtOptions): Promise<TgtInstance> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const iqn = opts.iqn ?? DEFAULT_TGT_IQN;
  const socketBase = join(dir, 'socket');
  if (socketBase.length > SOCKET_PATH_MAX) {
    throw new PeerError(PeerErrorCode.Start, `management socket path too long for AF_UNIX: ${socketBase}`);
  }
  const env = { TGT_IPC_SOCKET: socketBase };
  const logPath = join(dir, `tgtd-${port}.log`);
  const log = openSync(logPath, 'a');
  let exit: string | undefined;
  let child;
  try {
    child = spawn('tgtd', ['-f', '--control-port', '0', '--iscsi', `portal=${LOOPBACK}:${port}`], {
      stdio: ['ignore', log, log],
      env: { ...process.env, ...env },
    });
  } finally {
    closeSync(log);
  }
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = `tgtd exited ${code ?? signal ?? '?'}`;
      resolve();
    });
  });
  const spawned = await new Promise<number>((resolve, reject) => {
    child.once('spawn', () => {
      if (child.pid === undefined) reject(new PeerError(PeerErrorCode.Spawn, 'tgtd has no pid'));
      else resolve(child.pid);
    });
    child.once('error', (e) => {
      reject(new PeerError(PeerErrorCode.Spawn, `cannot start tgtd: ${e.message}`, { cause: e }));
    });
  });
  const pid = spawned;
  livePids.set(pid, dir);

  const tgtadm = async (args: readonly string[]): Promise<string> => {
    const r = await runToolChecked('tgtadm', ['--lld', 'iscsi', ...args], { timeoutMs, env });
    return r.stdout;
  };
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (exit === undefined) {
        signalChild(pid, 'SIGINT');
        if (!(await settles(exited, 3000))) {
          signalChild(pid, 'SIGKILL');
          await settles(exited, 3000);
        }
      }
      livePids.delete(pid);
      await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    // Ready = tgtd lists our portal and it accepts TCP. A tgtd whose portal bind failed keeps running (and
    // another process may own the port), so the log is checked too, to fail fast and let startTgt retry.
    const portalLine = `Portal: ${LOOPBACK}:${port},`;
    await waitUntil(
      `tgtd on ${LOOPBACK}:${port}`,
      async () => {
        const r = await runTool('tgtadm', ['--lld', 'iscsi', '--mode', 'portal', '--op', 'show'], { timeoutMs, env });
        return r.exitCode === 0 && r.stdout.includes(portalLine) && (await canConnect(LOOPBACK, port, 500));
      },
      { timeoutMs, abort: () => exit ?? bindFailure(logPath) },
    );
    const luns = await configure(dir, iqn, opts, tgtadm);
    const instance: TgtInstance = {
      pid,
      portal: { host: LOOPBACK, port },
      iqn,
      luns,
      dir,
      logPath,
      env,
      url: (lun, overrides) =>
        iscsiUrl({
          host: LOOPBACK,
          port,
          iqn,
          lun,
          chap: opts.chap,
          mutualChap: opts.mutualChap,
          ...overrides,
        }),
      portalUrl: (overrides) => iscsiUrl({ host: LOOPBACK, port, chap: opts.chap, ...overrides }),
      tgtadm,
      show: () => tgtadm(['--mode', 'target', '--op', 'show']),
      running: () => exit === undefined,
      stop,
    };
    return instance;
  } catch (e) {
    const logText = await readFile(logPath, 'utf8').catch(() => '');
    // Stop the daemon but keep the dir: startTgt removes it (or retries in it on another port).
    if (exit === undefined) {
      signalChild(pid, 'SIGKILL');
      await settles(exited, 3000);
    }
    livePids.delete(pid);
    if (e instanceof PeerError) {
      throw new PeerError(e.code, `${e.message}; tgtd log: ${tail(logText)}`, { cause: e, stderr: logText });
    }
    throw e;
  }
}

async function configure(
  dir: string,
  iqn: string,
  opts: TgtOptions,
  tgtadm: (args: readonly string[]) => Promise<string>,
): Promise<TgtLun[]> {
  const tid = ['--tid', String(TID)];
  await tgtadm(['--mode', 'target', '--op', 'new', ...tid, '--targetname', iqn]);
  const luns: TgtLun[] = [];
  for (const spec of opts.luns) {
    let path: string;
    let sizeBytes: number;
    if ('path' in spec) {
      path = spec.path;
      const handle = await open(path, 'r');
      try {
        sizeBytes = (await handle.stat()).size;
      } finally {
        await handle.close();
      }
    } else {
      path = join(dir, `lun${spec.lun}.img`);
      sizeBytes = spec.sizeBytes;
      const handle = await open(path, 'wx');
      try {
        await handle.truncate(sizeBytes); // sparse: no blocks written
      } finally {
        await handle.close();
      }
    }
    const blockSize = spec.blockSize === undefined ? [] : ['--blocksize', String(spec.blockSize)];
    await tgtadm([
      '--mode',
      'logicalunit',
      '--op',
      'new',
      ...tid,
      '--lun',
      String(spec.lun),
      '--backing-store',
      path,
      ...blockSize,
    ]);
    luns.push({ lun: spec.lun, path, sizeBytes });
  }
  await tgtadm(['--mode', 'target', '--op', 'bind', ...tid, '--initiator-address', opts.initiatorAddress ?? LOOPBACK]);
  if (opts.chap !== undefined) {
    await tgtadm(['--mode', 'account', '--op', 'new', '--user', opts.chap.user, '--password', opts.chap.secret]);
    await tgtadm(['--mode', 'account', '--op', 'bind', ...tid, '--user', opts.chap.user]);
  }
  if (opts.mutualChap !== undefined) {
    const m = opts.mutualChap;
    await tgtadm(['--mode', 'account', '--op', 'new', '--user', m.user, '--password', m.secret]);
    await tgtadm(['--mode', 'account', '--op', 'bind', ...tid, '--user', m.user, '--outgoing']);
  }
  const params: [string, string][] = Object.entries(opts.params ?? {});
  if (opts.headerDigest !== undefined) params.push(['HeaderDigest', opts.headerDigest]);
  if (opts.dataDigest !== undefined) params.push(['DataDigest', opts.dataDigest]);
  for (const [name, value] of params) {
    await tgtadm(['--mode', 'target', '--op', 'update', ...tid, '--name', name, '--value', value]);
  }
  return luns;
}

function validate(opts: TgtOptions): void {
  const bad = (why: string): never => {
    throw new PeerError(PeerErrorCode.BadOption, why);
  };
  if (opts.luns.length === 0) bad('tgt needs at least one LUN');
  const seen = new Set<number>();
  for (const l of opts.luns) {
    if (!Number.isInteger(l.lun) || l.lun < 1 || l.lun > 255) bad(`LUN ${l.lun}: use 1..255 (tgt owns LUN 0)`);
    if (seen.has(l.lun)) bad(`LUN ${l.lun} given twice`);
    seen.add(l.lun);
    if ('sizeBytes' in l && (!Number.isSafeInteger(l.sizeBytes) || l.sizeBytes <= 0 || l.sizeBytes % 512 !== 0)) {
      bad(`LUN ${l.lun}: size ${l.sizeBytes} is not a positive multiple of 512`);
    }
  }
  if (opts.mutualChap !== undefined && opts.chap === undefined) bad('mutual CHAP needs one-way CHAP too');
  if (opts.chap !== undefined && opts.mutualChap !== undefined && opts.chap.user === opts.mutualChap.user) {
    bad('tgt keeps one account per name: the incoming and outgoing CHAP users must differ');
  }
}

const BIND_FAILURE = 'failed to create/bind to portal';

/** The reason, when tgtd's log says it could not bind the portal. */
function bindFailure(logPath: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(logPath, 'utf8');
  } catch {
    return undefined;
  }
  return text.includes(BIND_FAILURE) ? `tgtd ${BIND_FAILURE}` : undefined;
}

function isBindFailure(e: unknown): boolean {
  return e instanceof PeerError && e.message.includes(BIND_FAILURE);
}

/** Resolves true when `p` settles within `ms`, false otherwise. */
async function settles(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => {
      resolve(false);
    }, ms);
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// A test worker that exits without calling stop() must not leave its tgtd behind holding a port, nor its files.
const livePids = new Map<number, string>();
process.once('exit', () => {
  for (const [pid, dir] of livePids) {
    signalChild(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
