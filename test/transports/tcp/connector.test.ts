import { createServer, type Server, type Socket } from 'node:net';
import { firstValueFrom, VirtualTimeScheduler } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { TcpConnection } from '../../../transports/tcp/connection.js';
import { TcpConnector } from '../../../transports/tcp/connector.js';
import { TcpListener } from '../../../transports/tcp/listener.js';
import { expectCode } from './datamover-contract.js';
import { nopOut, PduInbox } from './support.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listenRaw(): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const server = createServer();
  const sockets: Socket[] = [];
  server.on('connection', (s) => sockets.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  );
  return { server, port, sockets };
}

describe('TcpListener', () => {
  it('port 0 binds a real port, and accepted connections are targets', async () => {
    const listener = await TcpListener.listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => listener.close());
    expect(listener.kind).toBe('tcp');
    expect(listener.address.host).toBe('127.0.0.1');
    expect(listener.address.port).toBeGreaterThan(0);
    const accepted = firstValueFrom(listener.connections);
    const initiator = await new TcpConnector().connect(listener.address);
    cleanups.push(() => initiator.close());
    const target = await accepted;
    cleanups.push(() => target.close());
    expect(target).toBeInstanceOf(TcpConnection);
    expect(target.role).toBe('target');
    expect(initiator.role).toBe('initiator');
    const inbox = new PduInbox(target.pdus);
    initiator.sendControl(nopOut(3));
    expect((await inbox.nextOf('nop-out')).itt).toBe(3);
  });

  it('a portal already in use: ERR_TCP_LISTEN_FAILED', async () => {
    const { port } = await listenRaw();
    await expectCode(TcpListener.listen({ host: '127.0.0.1', port }), 'ERR_TCP_LISTEN_FAILED');
  });

  it('after close() it accepts nothing and its connections stream completes', async () => {
    const listener = await TcpListener.listen({ host: '127.0.0.1', port: 0 });
    let completed = false;
    listener.connections.subscribe({ complete: () => (completed = true) });
    await listener.close();
    expect(completed).toBe(true);
    await expectCode(
      new TcpConnector({ connectTimeoutMs: 5_000 }).connect(listener.address),
      'ERR_TCP_CONNECT_REFUSED',
    );
  });
});

describe('TcpConnector', () => {
  it('a closed port: ERR_TCP_CONNECT_REFUSED', async () => {
    const { server, port } = await listenRaw();
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
    await expectCode(
      new TcpConnector({ connectTimeoutMs: 5_000 }).connect({ host: '127.0.0.1', port }),
      'ERR_TCP_CONNECT_REFUSED',
    );
  });

  it('no connection within the timeout: ERR_TCP_CONNECT_TIMEOUT (timer from the injected scheduler)', async () => {
    const { port } = await listenRaw();
    const scheduler = new VirtualTimeScheduler();
    const connecting = new TcpConnector({ scheduler, connectTimeoutMs: 1_000 }).connect({ host: '127.0.0.1', port });
    // Virtual time passes the deadline before the event loop could complete the handshake.
    scheduler.flush();
    await expectCode(connecting, 'ERR_TCP_CONNECT_TIMEOUT');
  });

  it('a portal node:net refuses outright (port 70000): ERR_TCP_CONNECT_FAILED', async () => {
    await expectCode(new TcpConnector().connect({ host: '127.0.0.1', port: 70000 }), 'ERR_TCP_CONNECT_FAILED');
  });

  it('connects to a listener and reports both addresses', async () => {
    const { port, sockets } = await listenRaw();
    const initiator = await new TcpConnector().connect({ host: '127.0.0.1', port });
    cleanups.push(() => initiator.close());
    expect(initiator.remote).toEqual({ host: '127.0.0.1', port });
    expect(initiator.local.port).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(sockets).toHaveLength(1);
  });
});
