/**
 * `iser target`: serves LUNs over iSCSI until SIGINT or SIGTERM, then asks every session to log out and closes.
 * Either from flags:
 *
 *   iser target --portal 127.0.0.1:3260 --iqn iqn.2024-01.org.example:disk --lun 0=mem:256M --lun 1=file:/srv/l1.img:1G
 *     [--chap user:secret]... [--mutual-chap name:secret] [--allow iqn.1993-08.org.debian:01:abc]...
 *
 * or from a file, reloaded on SIGHUP (`-c` and the target flags are exclusive):
 *
 *   iser target -c target.yaml [--metrics 127.0.0.1:9464] [--log-level debug]
 *
 * Structured logs (pino, one JSON line per event) go to stderr; the "serving" lines go to stdout.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { Logger } from 'pino';
import { openBackend } from '../backends/spec.js';
import { ConfigError } from '../config/errors.js';
import type { LogLevel } from '../config/target-config.js';
import type { PortalAddress } from '../protocol/datamover.js';
import { isIserError } from '../protocol/errors.js';
import type { BlockBackend } from '../protocol/scsi/backend.js';
import type { ChapAccount, ChapConfig, LunConfig, PortalConfig, TargetConfig } from '../protocol/target/index.js';
import { createTargetLogger, errorFields, TargetEventLog } from './config-runtime/logging.js';
import { MetricsServer } from './config-runtime/metrics-server.js';
import { TargetMetrics } from './config-runtime/metrics.js';
import { loadTargetFile, TargetRuntime, type ReloadReport } from './config-runtime/runtime.js';
import { TargetServerError } from './errors.js';
import { IscsiTarget, type IscsiTargetOptions } from './iscsi-target.js';

/** What is being served, for tests and tools. */
export interface ServingInfo {
  /** Where /metrics is served, when it is. */
  readonly metrics?: PortalAddress;
  /** The runtime, when serving a file (-c). */
  readonly runtime?: TargetRuntime;
  /** Reloads the file now, as SIGHUP does (a no-op that logs why without -c). */
  readonly reload: () => Promise<void>;
}

/** Where the CLI writes and how it learns to stop or reload (tests replace these). */
export interface TargetCliIo {
  /** A line for the user (what is being served): stdout. */
  readonly out: (line: string) => void;
  /** A line of error for the user (usage, a configuration that cannot be served): stderr. */
  readonly err: (line: string) => void;
  /** One JSON log line; default stderr. */
  readonly log?: (line: string) => void;
  /** Resolves (with the signal's name) when the server should stop; default SIGINT or SIGTERM. */
  readonly untilStopped: () => Promise<string>;
  /** Registers what to do on a reload request and returns how to unregister; default SIGHUP. */
  readonly onReload?: (reload: () => Promise<void>) => () => void;
  /** Called once the portals are open. */
  readonly onListening?: (target: IscsiTarget, info: ServingInfo) => void;
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

/** SIGHUP runs `reload` (one at a time: the runtime queues them). */
function onSighup(reload: () => Promise<void>): () => void {
  const handler = (): void => {
    void reload();
  };
  process.on('SIGHUP', handler);
  return () => process.off('SIGHUP', handler);
}

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

/** Parses the metrics address: `host:port` or `[v6]:port`, the port required. */
export function parseListenAddress(text: string): PortalAddress {
  if (!/:\d+$/.test(text)) throw new InvalidArgumentError(`"${text}" is not host:port (e.g. 127.0.0.1:9464)`);
  return parsePortal(text);
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Options of the flag form; none may go with -c. */
const FLAG_FORM = [
  'iqn',
  'portal',
  'lun',
  'alias',
  'chap',
  'mutualChap',
  'allow',
  'blockSize',
  'queueDepth',
  'nopInterval',
  'allowShortSecrets',
  'discovery',
] as const;

interface CliOptions {
  readonly config?: string;
  readonly metrics?: PortalAddress;
  readonly metricsAllowRemote?: boolean;
  readonly logLevel?: LogLevel;
  readonly portal?: PortalConfig[];
  readonly iqn?: string;
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

/** Logging and metrics, wired to a server's events. */
interface Observability {
  readonly log: Logger;
  readonly metrics: TargetMetrics;
  readonly serverOptions: Pick<IscsiTargetOptions, 'onEvent' | 'observer' | 'commandClock'>;
}

function observability(level: LogLevel, write: (line: string) => void): Observability {
  const log = createTargetLogger(level, write);
  const events = new TargetEventLog(log);
  const metrics = new TargetMetrics();
  return {
    log,
    metrics,
    serverOptions: {
      onEvent: (event) => {
        events.event(event);
        metrics.event(event);
      },
      observer: {
        command: (event) => {
          metrics.command(event);
        },
        connectionClosed: (event) => {
          events.connectionClosed(event);
          metrics.connectionClosed(event);
        },
      },
      // Sub-millisecond latencies: the real-time scheduler's now() counts whole milliseconds.
      commandClock: () => performance.now(),
    },
  };
}

function program(io: TargetCliIo): Command {
  return new Command('iser target')
    .description('Serve block devices over iSCSI until SIGINT or SIGTERM (from flags, or from a file with -c)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => {
        io.out(s.trimEnd());
      },
      writeErr: (s) => {
        io.err(s.trimEnd());
      },
    })
    .option('-c, --config <file>', 'serve target.yaml (reloaded on SIGHUP); exclusive with the flags below')
    .option(
      '--metrics <host:port>',
      'serve Prometheus /metrics here (loopback only; overrides the file)',
      parseListenAddress,
    )
    .option('--metrics-allow-remote', 'allow a non-loopback --metrics address (the endpoint has no authentication)')
    .addOption(new Option('--log-level <level>', 'log level (overrides the file; default info)').choices(LOG_LEVELS))
    .option('--iqn <name>', 'the target name, e.g. iqn.2024-01.org.example:disk')
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
}

/** Runs `iser target` with `argv` (the arguments after `target`); resolves with the exit code. */
export async function runTargetCli(argv: readonly string[], io: TargetCliIo = defaultIo): Promise<number> {
  const command = program(io);
  let options: CliOptions;
  try {
    await command.parseAsync([...argv], { from: 'user' });
    options = command.opts<CliOptions>();
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
    throw err;
  }
  if (options.config !== undefined) {
    const clashing = FLAG_FORM.filter((name) => command.getOptionValueSource(name) === 'cli');
    if (clashing.length > 0) {
      const flags = clashing.map((name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
      io.err(
        `error: -c/--config and ${flags.join(', ')} are exclusive: put the target's settings in ${options.config}`,
      );
      return EXIT_USAGE;
    }
    return serveFile(options.config, options, io);
  }
  return serveFlags(options, io);
}

/** Starts the metrics endpoint when asked for. */
async function startMetrics(
  address: PortalAddress | undefined,
  options: CliOptions,
  metrics: TargetMetrics,
): Promise<MetricsServer | undefined> {
  if (address === undefined) return undefined;
  return MetricsServer.listen(address, () => metrics.text(), metrics.registry.contentType, {
    allowRemote: options.metricsAllowRemote === true,
  });
}

function addressText(address: PortalAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

async function serveFlags(options: CliOptions, io: TargetCliIo): Promise<number> {
  if (options.iqn === undefined) {
    io.err("error: required option '--iqn <name>' not specified (or serve a file with -c target.yaml)");
    return EXIT_USAGE;
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
  const { log, metrics, serverOptions } = observability(options.logLevel ?? 'info', io.log ?? defaultLog);
  const backends: BlockBackend[] = [];
  let target: IscsiTarget | undefined;
  let metricsServer: MetricsServer | undefined;
  let unregister = (): void => undefined;
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
    target = await IscsiTarget.listen(config, serverOptions);
    metricsServer = await startMetrics(options.metrics, options, metrics);
    for (const { address } of target.portals) io.out(`serving ${options.iqn} on ${addressText(address)}`);
    if (metricsServer !== undefined) io.out(`metrics on http://${addressText(metricsServer.address)}/metrics`);
    const reload = (): Promise<void> => {
      log.warn({ event: 'reload-ignored' }, 'reload ignored: the target was started from flags, not from a file (-c)');
      return Promise.resolve();
    };
    unregister = (io.onReload ?? onSighup)(reload);
    io.onListening?.(target, { reload, ...(metricsServer === undefined ? {} : { metrics: metricsServer.address }) });
    const signal = await io.untilStopped();
    log.info({ event: 'shutdown', signal }, `${signal}: logging sessions out`);
    await target.close();
    return 0;
  } catch (err) {
    io.err(`error: ${isIserError(err) ? `${err.code}: ${err.message}` : String(err)}`);
    await target?.close();
    return isUsageError(err) ? EXIT_USAGE : EXIT_FAILURE;
  } finally {
    unregister();
    await metricsServer?.close();
    for (const backend of backends) await backend.close?.().catch(() => undefined);
  }
}

async function serveFile(path: string, options: CliOptions, io: TargetCliIo): Promise<number> {
  let loaded;
  try {
    loaded = await loadTargetFile(path);
  } catch (err) {
    io.err(describeLoadError(path, err));
    return isUsageError(err) || isFsError(err) ? EXIT_USAGE : EXIT_FAILURE;
  }
  const write = io.log ?? defaultLog;
  const { log, metrics, serverOptions } = observability(options.logLevel ?? loaded.config.logging.level, write);
  for (const warning of loaded.warnings) log.warn({ event: 'config-warning' }, warning);
  let runtime: TargetRuntime | undefined;
  let metricsServer: MetricsServer | undefined;
  let unregister = (): void => undefined;
  try {
    runtime = await TargetRuntime.start(loaded.config, {
      ...serverOptions,
      portals: {
        onProvider: (opened) => {
          log.info({ event: 'iser-device-open', ...opened }, `iSER on ${opened.provider} device ${opened.device}`);
        },
      },
    });
    metricsServer = await startMetrics(options.metrics ?? loaded.config.metrics, options, metrics);
    const served = runtime;
    const announce = (keys: readonly string[]): void => {
      const names = served.file.targets.map((t) => t.iqn).join(', ');
      for (const portal of served.portals) {
        if (!keys.includes(portal.key)) continue;
        io.out(`serving ${names} on ${addressText(portal.listener.address)} (${portal.spec.transport})`);
      }
    };
    announce(served.portals.map((p) => p.key));
    if (metricsServer !== undefined) io.out(`metrics on http://${addressText(metricsServer.address)}/metrics`);
    const metricsAt = metricsServer?.address;
    const reload = async (): Promise<void> => {
      const report = await reloadFile(path, served, log, options.logLevel);
      metrics.reloaded(report !== undefined);
      if (report === undefined) return;
      announce(report.portalsOpened);
      const next = served.file.metrics;
      if (options.metrics === undefined && !sameAddress(next, metricsAt)) {
        log.warn({ event: 'reload-metrics' }, 'metrics.listen changed: the metrics endpoint moves only on a restart');
      }
    };
    unregister = (io.onReload ?? onSighup)(reload);
    io.onListening?.(runtime.target, {
      reload,
      runtime,
      ...(metricsServer === undefined ? {} : { metrics: metricsServer.address }),
    });
    const signal = await io.untilStopped();
    log.info({ event: 'shutdown', signal }, `${signal}: logging sessions out`);
    await runtime.close();
    return 0;
  } catch (err) {
    io.err(`error: ${isIserError(err) ? `${err.code}: ${err.message}` : String(err)}`);
    await runtime?.close();
    return isUsageError(err) ? EXIT_USAGE : EXIT_FAILURE;
  } finally {
    unregister();
    await metricsServer?.close();
  }
}

function sameAddress(a: PortalAddress | undefined, b: PortalAddress | undefined): boolean {
  return a?.host === b?.host && (a?.port === b?.port || a?.port === 0);
}

/**
 * Re-reads the file and puts it in force; on any failure logs the error (with its line) and leaves the running
 * configuration as it is. Resolves with the report, or undefined when the reload failed.
 */
async function reloadFile(
  path: string,
  runtime: TargetRuntime,
  log: Logger,
  levelOverride: LogLevel | undefined,
): Promise<ReloadReport | undefined> {
  let report: ReloadReport;
  let level: LogLevel;
  try {
    const loaded = await loadTargetFile(path);
    for (const warning of loaded.warnings) log.warn({ event: 'config-warning' }, warning);
    report = await runtime.reload(loaded.config);
    level = loaded.config.logging.level;
  } catch (err) {
    const where = err instanceof ConfigError ? { file: err.file, line: err.line, column: err.column } : { file: path };
    log.error(
      { event: 'reload-failed', ...where, error: errorFields(err) },
      `reload failed, the running configuration stays: ${err instanceof Error ? err.message : String(err)}`,
    );
    return undefined;
  }
  log.info(
    {
      event: 'reload',
      added: report.added,
      removed: report.removed,
      replaced: report.replaced,
      unchanged: report.unchanged,
      portalsOpened: report.portalsOpened,
      portalsClosed: report.portalsClosed,
      endingSessions: report.endingSessions,
    },
    'configuration reloaded',
  );
  for (const target of report.replaced) {
    log.warn(
      { event: 'target-replaced', target },
      `target ${target} changed: its sessions are asked to log out and are dropped at the deadline`,
    );
  }
  for (const target of report.removed) {
    log.info({ event: 'target-removed', target }, `target ${target} removed: its sessions are asked to log out`);
  }
  // The new level applies after the reload's own lines, so they are written at the level they were asked under.
  if (levelOverride === undefined) log.level = level;
  return report;
}

function describeLoadError(path: string, err: unknown): string {
  if (err instanceof ConfigError) return `error: ${err.message}`;
  if (isFsError(err)) return `error: cannot read ${path}: ${err.message}`;
  return `error: ${isIserError(err) ? `${err.code}: ${err.message}` : String(err)}`;
}

function isFsError(err: unknown): err is Error {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string' && !isIserError(err);
}

function defaultLog(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Exit codes shared with the rest of the `iser` command: 1 usage or configuration, 2 the target could not serve. */
const EXIT_USAGE = 1;
const EXIT_FAILURE = 2;

/** A mistake in what the user asked for, as opposed to a failure while serving (e.g. the port is taken). */
function isUsageError(err: unknown): boolean {
  if (err instanceof TargetServerError) return err.code === 'ERR_SERVER_USAGE' || err.code === 'ERR_SERVER_BACKEND';
  return (
    err instanceof ConfigError ||
    (isIserError(err) && (err.code.startsWith('ERR_TARGET_CONFIG') || err.code.startsWith('ERR_BACKEND')))
  );
}
