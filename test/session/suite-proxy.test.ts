/**
 * The cuttable TCP proxy and the wire decoder the session suite relies on: bytes pass unchanged both ways,
 * `cut()` resets both ends, captures keep what they should (bounded), and the decoder frames PDUs with and
 * without digests and notices a bad digest.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { encodePdu, IsidType, type Pdu } from '../../protocol/pdu/index.js';
import { TcpProxy } from '../support/session-suite/tcp-proxy.js';
import { decodeDirection, pdusOfKind } from '../support/session-suite/wire.js';

/** An echo server on loopback. */
async function echoServer(): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port, sockets };
}

/** Resolves with the first `length` bytes `socket` receives from now (bounded by the test timeout). */
function readBytes(socket: Socket, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      got += chunk.length;
      if (got < length) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(Buffer.concat(chunks));
    };
    const onClose = (): void => {
      reject(new Error(`closed after ${got} of ${length} bytes`));
    };
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('TcpProxy', () => {
  it('relays bytes both ways unchanged, captures them bounded, and cut() resets both ends', async () => {
    const echo = await echoServer();
    cleanups.push(
      () =>
        new Promise((resolve) =>
          echo.server.close(() => {
            resolve();
          }),
        ),
    );
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: echo.port });
    cleanups.push(() => proxy.close());
    const capture = proxy.capture(1000);
    const client = createConnection({ host: proxy.address.host, port: proxy.address.port });
    client.on('error', () => undefined);
    await once(client, 'connect');
    const payload = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) % 256));
    const reading = readBytes(client, payload.length);
    client.write(payload);
    const echoed = await reading;
    expect(echoed.equals(payload)).toBe(true);
    capture.stop();
    const [recording] = capture.recordings();
    expect(recording?.toTarget.equals(payload.subarray(0, 1000))).toBe(true);
    expect(recording?.toInitiator.equals(payload.subarray(0, 1000))).toBe(true);
    expect(recording?.truncated).toBe(true);
    expect(proxy.liveConnections).toBe(1);

    // events.once would reject on the reset's 'error': wait for 'close' alone.
    const closedOf = (socket: Socket): Promise<void> =>
      new Promise((resolve) =>
        socket.once('close', () => {
          resolve();
        }),
      );
    const closed = closedOf(client);
    const upstreamClosed = closedOf(echo.sockets[0] as Socket);
    expect(proxy.cut()).toBe(1);
    await Promise.all([closed, upstreamClosed]);
    expect(client.destroyed).toBe(true);
    expect(proxy.cuts).toBe(1);
    expect(proxy.liveConnections).toBe(0);
    // A connection made after the capture stopped is not recorded; one after a cut is relayed as before.
    const again = createConnection({ host: proxy.address.host, port: proxy.address.port });
    again.on('error', () => undefined);
    await once(again, 'connect');
    const pong = readBytes(again, 4);
    again.write('ping');
    expect((await pong).toString()).toBe('ping');
    again.destroy();
    expect(capture.recordings()).toHaveLength(1);
    expect(proxy.acceptedConnections).toBe(2);
  });

  it('refuses a non-loopback upstream', async () => {
    await expect(TcpProxy.start({ host: '10.0.0.1', port: 3260 })).rejects.toThrow(/loopback/);
  });
});

/** Inverts one byte. */
function flip(bytes: Buffer, at: number): void {
  bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
}

describe('wire decoding', () => {
  const isid = { type: IsidType.Random, a: 0, b: 1, c: 2, d: 3 };
  const loginRequest: Pdu = {
    kind: 'login-request',
    transit: true,
    continue: false,
    currentStage: 1,
    nextStage: 3,
    versionMax: 0,
    versionMin: 0,
    isid,
    tsih: 0,
    itt: 1,
    cid: 0,
    cmdSN: 1,
    expStatSN: 0,
    data: [],
  };
  const nopOut: Pdu = {
    kind: 'nop-out',
    immediate: false,
    lun: 0n,
    itt: 2,
    ttt: 0xffffffff,
    cmdSN: 1,
    expStatSN: 1,
    data: [Buffer.from('hello, digests')],
  };
  const digests = { headerDigest: true, dataDigest: true };
  const none = { headerDigest: false, dataDigest: false };
  const stream = (d: typeof digests): Buffer =>
    Buffer.concat([...encodePdu(loginRequest, none), ...encodePdu(nopOut, d), ...encodePdu(nopOut, d)]);

  it('frames login PDUs without digests and what follows with them', () => {
    const decoded = decodeDirection(stream(digests), digests);
    expect(decoded.error).toBeUndefined();
    expect(decoded.trailingBytes).toBe(0);
    expect(decoded.pdus.map((p) => p.kind)).toEqual(['login-request', 'nop-out', 'nop-out']);
    expect(pdusOfKind(decoded.pdus, 'nop-out')[0]?.itt).toBe(2);
  });

  it('fails when the stream has no digests but digests are expected, and notices a corrupted one', () => {
    expect(decodeDirection(stream(none), digests).error).toBeDefined();
    const corrupted = stream(digests);
    flip(corrupted, corrupted.length - 1); // the last data digest
    expect(decodeDirection(corrupted, digests).dataDigestErrors).toBe(1);
    const header = stream(digests);
    flip(header, 48 + 24); // a byte of the first NOP-Out's BHS (the login PDU is 48 bytes, no digest)
    expect(decodeDirection(header, digests).error).toBeDefined();
  });
});
