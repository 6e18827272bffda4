/**
 * A header digest error on the wire reaches `iser_target_errors_total{kind="digest_error"}` and the connection's
 * log line: a loopback relay between initiator and target flips one BHS byte of the first PDU after login.
 */
import { createServer, Socket, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../backends/memory.js';
import { createTargetLogger, TargetEventLog } from '../../../server/config-runtime/logging.js';
import { TargetMetrics } from '../../../server/config-runtime/metrics.js';
import { IscsiTarget } from '../../../server/iscsi-target.js';
import { TcpConnector } from '../../../transports/tcp/index.js';
import { ScriptedInitiator } from '../scripted-initiator.js';

const TARGET = 'iqn.2024-01.org.example:digest';

/** A relay to `port` that, once `armed`, flips byte 20 (inside the BHS) of the next chunk the initiator sends. */
async function corruptingRelay(port: number): Promise<{ server: Server; port: number; arm: () => void }> {
  let armed = false;
  const server = createServer((client) => {
    const upstream = new Socket();
    upstream.connect(port, '127.0.0.1');
    client.on('data', (chunk: Buffer) => {
      if (armed && chunk.length > 20) {
        armed = false;
        chunk[20] = (chunk[20] ?? 0) ^ 0xff;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    server,
    port: typeof address === 'object' && address !== null ? address.port : 0,
    arm: () => {
      armed = true;
    },
  };
}

describe('digest errors in metrics and logs', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('counts a header digest error and logs it with its code', async () => {
    const metrics = new TargetMetrics();
    const lines: string[] = [];
    const log = new TargetEventLog(createTargetLogger('info', (line) => lines.push(line)));
    const target = await IscsiTarget.listen(
      {
        targets: [
          {
            name: TARGET,
            luns: [{ lun: 0, backend: new MemoryBackend(64) }],
            negotiation: { headerDigest: ['CRC32C'], dataDigest: ['None'] },
          },
        ],
        portalGroups: [{ tag: 1, portals: [{ host: '127.0.0.1', port: 0 }] }],
      },
      {
        logoutDeadlineSeconds: 1,
        onEvent: (e) => {
          metrics.event(e);
          log.event(e);
        },
        observer: {
          connectionClosed: (e) => {
            metrics.connectionClosed(e);
            log.connectionClosed(e);
          },
        },
      },
    );
    cleanups.push(() => target.close());
    const relay = await corruptingRelay(target.portals[0]!.address.port);
    cleanups.push(
      () =>
        new Promise((resolve) =>
          relay.server.close(() => {
            resolve();
          }),
        ),
    );

    const initiator = new ScriptedInitiator(await new TcpConnector().connect({ host: '127.0.0.1', port: relay.port }));
    await initiator.login({
      initiatorName: 'iqn.2024-01.org.example:host',
      targetName: TARGET,
      isid: { type: 2, a: 0, b: 1, c: 2, d: 3 },
      transport: 'tcp',
      negotiation: { headerDigest: ['CRC32C'], dataDigest: ['None'] },
    });
    relay.arm();
    void initiator.command(Buffer.alloc(6)).catch(() => undefined);
    await initiator.whenClosed();
    // The target notices on its side; give its close a bounded moment to be reported.
    for (let i = 0; i < 100 && !(await metrics.text()).includes('kind="digest_error"} 1'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await metrics.text()).toContain('iser_target_errors_total{kind="digest_error"} 1');
    const closed = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e.event === 'connection-close');
    expect(closed).toMatchObject({
      conn: 1,
      level: 40,
      error: { code: 'ERR_TCP_FRAMING', cause: 'ERR_PDU_HEADER_DIGEST' },
    });
  });
});
