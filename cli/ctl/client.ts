/** The control client: one request line to the daemon's socket, one response line back, bounded in time and size. */
import { createConnection } from 'node:net';
import { DaemonError } from '../daemon/errors.js';
import { ResponseShape, type Request, type Response } from '../daemon/protocol.js';

/** Longest response accepted. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** Sends `request` to the daemon at `socketPath`; `timeoutMs` bounds the whole exchange (a login included). */
export function sendRequest(socketPath: string, request: Request, timeoutMs = 60_000): Promise<Response> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let buffered = Buffer.alloc(0);
    let settled = false;
    const finish = (err: Error | undefined, response?: Response): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err !== undefined) reject(err);
      else if (response !== undefined) resolve(response);
    };
    const timer = setTimeout(() => {
      finish(new DaemonError('ERR_DAEMON_BAD_REPLY', `the daemon did not answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.once('connect', () => {
      socket.write(`${JSON.stringify(request)}\n`);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const notRunning = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
      finish(
        new DaemonError(
          notRunning ? 'ERR_DAEMON_NOT_RUNNING' : 'ERR_DAEMON_BAD_REPLY',
          notRunning
            ? `the daemon is not running (no answer on ${socketPath}; start it with \`iser daemon\`)`
            : `control socket ${socketPath}: ${err.message}`,
        ),
      );
    });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length > MAX_RESPONSE_BYTES) finish(new DaemonError('ERR_DAEMON_BAD_REPLY', 'reply too long'));
    });
    socket.on('end', () => {
      const line = buffered.toString('utf8').split('\n')[0] ?? '';
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch {
        finish(new DaemonError('ERR_DAEMON_BAD_REPLY', 'the daemon closed without a readable reply'));
        return;
      }
      if (!ResponseShape.safeParse(json).success) {
        finish(new DaemonError('ERR_DAEMON_BAD_REPLY', 'the daemon sent a reply of the wrong shape'));
        return;
      }
      finish(undefined, json as Response);
    });
  });
}
