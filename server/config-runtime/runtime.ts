/**
 * A target served from target.yaml: builds the server configuration (LUN backends opened), opens the portals,
 * and reloads. A reload builds and checks everything new before touching anything live — backends opened,
 * configuration validated, new portals listening — and only then puts it in force: unchanged targets keep their
 * sessions, removed and replaced ones are asked to log out, removed portals close. If any step fails, what the
 * reload opened is closed again and the running target is exactly as before.
 */
import { open } from 'node:fs/promises';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError } from '../../config/errors.js';
import {
  MAX_TARGET_CONFIG_BYTES,
  parseTargetConfig,
  type PortalSpec,
  type TargetFileConfig,
} from '../../config/target-config.js';
import { locate } from '../../config/yaml-locate.js';
import { openBackend } from '../../backends/spec.js';
import type { DatamoverListener } from '../../protocol/datamover.js';
import type { BlockBackend } from '../../protocol/scsi/backend.js';
import { TargetConfigError, validateTargetConfig } from '../../protocol/target/index.js';
import { IscsiTarget, type IscsiTargetOptions } from '../iscsi-target.js';
import { buildTargetConfig, FILE_PORTAL_GROUP, type BackendOpener, type BuiltConfig } from './build.js';
import { PortalOpener, portalKey, type PortalOpenerOptions } from './portals.js';

/** A target.yaml read from disk. */
export interface LoadedFile {
  readonly path: string;
  readonly config: TargetFileConfig;
  readonly warnings: readonly string[];
}

/**
 * Reads and checks a target.yaml. Throws ConfigError (every issue as `file:line:column: message`), also for
 * what only the server's validation catches (e.g. a mutual CHAP secret equal to the initiator's), located at
 * the target it concerns.
 */
export async function loadTargetFile(path: string): Promise<LoadedFile> {
  const text = await readBounded(path, MAX_TARGET_CONFIG_BYTES + 1);
  if (Buffer.byteLength(text) > MAX_TARGET_CONFIG_BYTES) {
    const message = `file is larger than ${MAX_TARGET_CONFIG_BYTES} bytes`;
    throw new ConfigError(path, { issues: [{ code: 'ERR_CONFIG_TOO_LARGE', line: 1, column: 1, message }] });
  }
  const parsed = parseTargetConfig(text, path);
  const { warnings, ...config } = parsed;
  try {
    // Backends are not opened here: a stand-in with one block lets validation check everything else.
    const stand = { blockSize: 512, blockCount: 1 } as unknown as BlockBackend;
    validateTargetConfig((await buildTargetConfig(config, undefined, () => Promise.resolve(stand))).built.config);
  } catch (err) {
    if (err instanceof TargetConfigError) throw locateServerIssue(err, text, path, config);
    throw err;
  }
  return { path, config, warnings: warnings.map((w) => `${path}:${w.line}:${w.column}: ${w.message}`) };
}

/** At most `limit` bytes of a file as UTF-8 (a larger file is then refused by the parser as too large). */
async function readBounded(path: string, limit: number): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(limit);
    let filled = 0;
    for (let reads = 0; filled < limit && reads < 1024; reads++) {
      const { bytesRead } = await handle.read(buffer, filled, limit - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** A server validation error as a ConfigError at the line of the target (or discovery) it names. */
function locateServerIssue(err: TargetConfigError, text: string, path: string, config: TargetFileConfig): ConfigError {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter });
  const index = config.targets.findIndex((t) => err.message.startsWith(`target ${t.iqn}:`));
  const where =
    index >= 0
      ? locate(document, lineCounter, ['targets', index], 'value')
      : err.message.startsWith('discovery')
        ? locate(document, lineCounter, ['discovery'], 'value')
        : { position: { line: 1, column: 1 } };
  return new ConfigError(path, {
    issues: [{ code: 'ERR_CONFIG_VALUE', ...where.position, message: `${err.message} (${err.code})` }],
    cause: err,
  });
}

/** Options of a {@link TargetRuntime}. */
export interface TargetRuntimeOptions extends Omit<IscsiTargetOptions, 'scheduler'> {
  readonly scheduler?: SchedulerLike;
  /** Opens LUN backends (default backends/spec.ts's openBackend, 512-byte blocks). */
  readonly openBackend?: BackendOpener;
  /** How iSER portals find their providers, and TCP listener options. */
  readonly portals?: Omit<PortalOpenerOptions, 'scheduler'>;
}

/** What a reload did. */
export interface ReloadReport {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly replaced: readonly string[];
  readonly unchanged: readonly string[];
  readonly portalsOpened: readonly string[];
  readonly portalsClosed: readonly string[];
  /** TSIHs of sessions asked to log out (their target was removed or replaced). */
  readonly endingSessions: readonly number[];
  /** Resolves once those sessions are gone and the backends no longer used are closed. */
  readonly settled: Promise<void>;
}

interface OpenPortal {
  readonly key: string;
  readonly spec: PortalSpec;
  readonly listener: DatamoverListener;
}

/** Keys of `portals`, with duplicates (port 0 may repeat) told apart by their occurrence. */
function keyed(portals: readonly PortalSpec[]): { key: string; spec: PortalSpec }[] {
  const seen = new Map<string, number>();
  return portals.map((spec) => {
    const base = portalKey(spec);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return { key: n === 0 ? base : `${base} #${n + 1}`, spec };
  });
}

/** A target served from a target.yaml, reloadable. */
export class TargetRuntime {
  readonly #target: IscsiTarget;
  readonly #opener: PortalOpener;
  readonly #open: BackendOpener;
  #built: BuiltConfig;
  #portals: OpenPortal[] = [];
  #busy: Promise<unknown> = Promise.resolve();
  #settling: Promise<void>[] = [];

  private constructor(target: IscsiTarget, opener: PortalOpener, open: BackendOpener, built: BuiltConfig) {
    this.#target = target;
    this.#opener = opener;
    this.#open = open;
    this.#built = built;
  }

  /** Opens the backends and portals of `file` and serves them; on failure closes what it opened and throws. */
  static async start(file: TargetFileConfig, options: TargetRuntimeOptions = {}): Promise<TargetRuntime> {
    const scheduler = options.scheduler ?? asyncScheduler;
    const open = options.openBackend ?? ((spec: string) => openBackend(spec));
    const { built, opened } = await buildTargetConfig(file, undefined, open);
    const opener = new PortalOpener({ ...options.portals, scheduler });
    let target: IscsiTarget;
    try {
      target = new IscsiTarget(built.config, { ...options, scheduler });
    } catch (err) {
      await closeAll(opened);
      throw err;
    }
    const runtime = new TargetRuntime(target, opener, open, built);
    try {
      const listeners = await runtime.#openPortals(keyed(file.portals));
      for (const portal of listeners) target.serve(portal.listener, FILE_PORTAL_GROUP);
      runtime.#portals = listeners;
    } catch (err) {
      await target.close();
      await opener.close();
      await closeAll(opened);
      throw err;
    }
    return runtime;
  }

  /** The server. */
  get target(): IscsiTarget {
    return this.#target;
  }

  /** The configuration in force. */
  get file(): TargetFileConfig {
    return this.#built.file;
  }

  /** Open portals: their key (`tcp 127.0.0.1:3260`, `iser/softroce-udp 127.0.0.1:3261`) and bound address. */
  get portals(): { readonly key: string; readonly spec: PortalSpec; readonly listener: DatamoverListener }[] {
    return [...this.#portals];
  }

  /** Puts `next` in force (reloads run one at a time); throws and changes nothing when any part of it fails. */
  reload(next: TargetFileConfig): Promise<ReloadReport> {
    const run = this.#busy.then(() => this.#reload(next));
    this.#busy = run.catch(() => undefined);
    return run;
  }

  /** Logs every session out (bounded), closes portals, providers and backends. */
  async close(): Promise<void> {
    await this.#busy;
    await this.#target.close();
    await this.#opener.close();
    await Promise.allSettled(this.#settling);
    await closeAll([...new Set(this.#built.backends.values())]);
  }

  async #reload(next: TargetFileConfig): Promise<ReloadReport> {
    const { built, opened, dropped } = await buildTargetConfig(next, this.#built, this.#open);
    const wanted = keyed(next.portals);
    const fresh: OpenPortal[] = [];
    try {
      validateTargetConfig(built.config);
      const have = new Set(this.#portals.map((p) => p.key));
      fresh.push(...(await this.#openPortals(wanted.filter((p) => !have.has(p.key)))));
    } catch (err) {
      await closeAll(opened);
      throw err;
    }
    // Nothing can fail from here on (the portal group is always FILE_PORTAL_GROUP, and validation passed).
    const result = this.#target.reconfigure(built.config);
    this.#built = built;
    for (const portal of fresh) this.#target.serve(portal.listener, FILE_PORTAL_GROUP);
    const keep = new Set(wanted.map((p) => p.key));
    const gone = this.#portals.filter((p) => !keep.has(p.key));
    for (const portal of gone) await this.#target.unserve(portal.listener);
    this.#portals = [...this.#portals.filter((p) => keep.has(p.key)), ...fresh];
    const settled = result.settled.then(() => closeAll(dropped));
    this.#settling.push(settled);
    return {
      added: result.added,
      removed: result.removed,
      replaced: result.replaced,
      unchanged: result.unchanged,
      portalsOpened: fresh.map((p) => p.key),
      portalsClosed: gone.map((p) => p.key),
      endingSessions: result.endingSessions,
      settled,
    };
  }

  /** Opens `portals` in order; on a failure closes the ones it opened and throws. */
  async #openPortals(portals: readonly { key: string; spec: PortalSpec }[]): Promise<OpenPortal[]> {
    const opened: OpenPortal[] = [];
    try {
      for (const { key, spec } of portals) opened.push({ key, spec, listener: await this.#opener.open(spec) });
    } catch (err) {
      await Promise.allSettled(opened.map((p) => p.listener.close()));
      throw err;
    }
    return opened;
  }
}

async function closeAll(backends: readonly BlockBackend[]): Promise<void> {
  await Promise.allSettled(backends.map((b) => b.close?.() ?? Promise.resolve()));
}
