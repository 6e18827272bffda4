/**
 * Loopback port helpers: find a free TCP port (bind port 0, read it, release it) and wait until something
 * accepts connections on one. Only loopback addresses carry test traffic.
 */
import { createConnection, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { PeerError, PeerErrorCode } from './errors.js';

/** The loopback address every peer listens on. */
export const LOOPBACK = '127.0.0.1';

/** A TCP port on `host` that was free a moment ago (the kernel picked it). A peer may still race us for it. */
export function freePort(host: string = LOOPBACK): Promise<number> {
  assertLoopback(host);
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        if (port === 0) reject(new PeerError(PeerErrorCode.Start, 'could not learn the port the kernel picked'));
        else resolve(port);
      });
    });
  });
}

/** True when a TCP connection to host:port succeeds within `timeoutMs`. */
export function canConnect(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => {
      done(false);
    });
    socket.once('connect', () => {
      done(true);
    });
    socket.once('error', () => {
      done(false);
    });
  });
}

/** Polls `ready` every `intervalMs` until it returns true, `abort` returns a reason, or `timeoutMs` passes. */
export async function waitUntil(
  what: string,
  ready: () => Promise<boolean>,
  opts: { readonly timeoutMs: number; readonly intervalMs?: number; readonly abort?: () => string | undefined },
): Promise<void> {
  const interval = opts.intervalMs ?? 50;
  const deadline = performance.now() + opts.timeoutMs;
  // The count bound is a second fence in case the clock misbehaves.
  const maxPolls = Math.ceil(opts.timeoutMs / interval) + 1;
  for (let poll = 0; poll < maxPolls && performance.now() <= deadline; poll++) {
    const aborted = opts.abort?.();
    if (aborted !== undefined) throw new PeerError(PeerErrorCode.Start, `${what}: ${aborted}`);
    if (await ready()) return;
    await sleep(interval);
  }
  throw new PeerError(PeerErrorCode.Timeout, `${what}: not ready after ${opts.timeoutMs} ms`);
}

/** Throws unless `host` is an IPv4 loopback address (127.0.0.0/8): test traffic stays on this machine. */
export function assertLoopback(host: string): void {
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) {
    throw new PeerError(PeerErrorCode.BadOption, `refusing non-loopback address ${host}: test traffic stays on 127/8`);
  }
}
