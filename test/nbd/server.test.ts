import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { VirtualTimeScheduler } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BlockDevice } from '../../nbd/block-device.js';
import { ClientFlag, Command, CommandFlag, Info, NbdErrno, Option, Reply } from '../../nbd/constants.js';
import { BlockDeviceError } from '../../nbd/errors.js';
import { MemoryBlockDevice } from '../../nbd/memory-device.js';
import { NbdServer, type NbdServerEvent, type NbdServerOptions } from '../../nbd/server.js';
import { decodeExportNameReply, decodeServerEntry } from '../../nbd/wire.js';
import { GatedDevice } from './gated-device.js';
import { connectUnix, ScriptedClient, SocketReader } from './scripted-client.js';

let dir: string;
let socketCount = 0;
const servers: NbdServer[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iser-nbd-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve(devices: Record<string, BlockDevice>, options: NbdServerOptions = {}, maxPayload?: number) {
  const events: NbdServerEvent[] = [];
  const server = new NbdServer({ ...options, onEvent: (event) => events.push(event) });
  servers.push(server);
  for (const [name, device] of Object.entries(devices)) {
    server.addExport({ name, device, ...(maxPayload !== undefined && { maxPayload }) });
  }
  const path = join(dir, `s${++socketCount}.sock`);
  await server.listen({ path });
  return { server, path, events };
}

/** Waits (bounded) until `condition` holds. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(condition()).toBe(true);
}

const read = (handle: bigint, offset: number, length: number) => ({
  type: Command.READ,
  flags: 0,
  handle,
  offset: BigInt(offset),
  length,
});
const write = (handle: bigint, offset: number, length: number, flags = 0) => ({
  type: Command.WRITE,
  flags,
  handle,
  offset: BigInt(offset),
  length,
});
const simple = (type: number, handle: bigint, offset = 0, length = 0, flags = 0) => ({
  type,
  flags,
  handle,
  offset: BigInt(offset),
  length,
});

describe('NbdServer handshake', () => {
  it('lists exports, reports unknown ones, refuses structured replies, and aborts cleanly', async () => {
    const { path } = await serve({ a: new MemoryBlockDevice(4096), b: new MemoryBlockDevice(8192) });
    const client = await ScriptedClient.connect(path);
    expect(client.serverFlags).toBe(3);

    client.sendOption(Option.LIST);
    const listed = [await client.readOptionReply(), await client.readOptionReply(), await client.readOptionReply()];
    expect(listed.map((r) => r.type)).toEqual([Reply.SERVER, Reply.SERVER, Reply.ACK]);
    expect(listed.slice(0, 2).map((r) => decodeServerEntry(r.data).name)).toEqual(['a', 'b']);

    const unknown = await client.info(Option.INFO, 'zzz', []);
    expect(unknown.final.type).toBe(Reply.ERR_UNKNOWN);

    client.sendOption(Option.STRUCTURED_REPLY);
    expect((await client.readOptionReply()).type).toBe(Reply.ERR_UNSUP);

    const info = await client.info(Option.INFO, 'b', [Info.BLOCK_SIZE]);
    expect(info.final.type).toBe(Reply.ACK);
    expect(info.infos).toContainEqual(expect.objectContaining({ type: 'export', size: 8192n }));

    client.sendOption(Option.ABORT);
    expect((await client.readOptionReply()).type).toBe(Reply.ACK);
    await client.reader.waitClosed();
  });

  it('serves through NBD_OPT_EXPORT_NAME, with the 124 zeroes when NO_ZEROES was not agreed', async () => {
    const { path } = await serve({ disk: new MemoryBlockDevice(4096) });
    const client = await ScriptedClient.connect(path, ClientFlag.FIXED_NEWSTYLE);
    client.sendOption(Option.EXPORT_NAME, Buffer.from('disk'));
    expect(decodeExportNameReply(await client.reader.read(134)).size).toBe(4096n);
    expect((await client.call(read(1n, 0, 512))).error).toBe(0);
  });

  it('closes when NBD_OPT_EXPORT_NAME names no export, or the client sets unknown flags', async () => {
    const { path, server } = await serve({ disk: new MemoryBlockDevice(4096) });
    const client = await ScriptedClient.connect(path);
    client.sendOption(Option.EXPORT_NAME, Buffer.from('nope'));
    await client.reader.waitClosed();
    expect(client.reader.atEnd).toBe(true);

    const rude = await ScriptedClient.connect(path, 0x40);
    await rude.reader.waitClosed();
    await server.close();
    expect(server.connectionCount).toBe(0);
  });

  it('selects the default export for an empty name', async () => {
    const { path } = await serve({ disk: new MemoryBlockDevice(8192) }, { defaultExport: 'disk' });
    const client = await ScriptedClient.connect(path);
    expect(await client.go('', [])).toContainEqual(expect.objectContaining({ type: 'export', size: 8192n }));
  });

  it('closes a connection whose handshake does not finish in time (virtual time)', async () => {
    const scheduler = new VirtualTimeScheduler();
    const { path, events } = await serve({ disk: new MemoryBlockDevice(4096) }, { scheduler });
    const reader = new SocketReader(await connectUnix(path));
    await reader.read(18);
    scheduler.flush();
    await reader.waitClosed();
    expect(events).toContainEqual(expect.objectContaining({ type: 'protocol-error', message: 'handshake timed out' }));
  });
});

describe('NbdServer transmission', () => {
  it('reads, writes (FUA), flushes, trims and zeroes', async () => {
    const device = new MemoryBlockDevice(1 << 20);
    const { path } = await serve({ disk: device });
    const client = await ScriptedClient.connect(path);
    await client.go('disk');

    const data = randomBytes(8192);
    expect((await client.call(write(1n, 4096, 8192, CommandFlag.FUA), data)).error).toBe(0);
    expect(device.fuaWrites).toBe(1);
    expect((await client.call(read(2n, 4096, 8192))).data).toEqual(data);
    expect((await client.call(simple(Command.FLUSH, 3n))).error).toBe(0);
    expect(device.flushes).toBe(1);
    expect((await client.call(simple(Command.WRITE_ZEROES, 4n, 4096, 4096, CommandFlag.NO_HOLE))).error).toBe(0);
    expect((await client.call(read(5n, 4096, 8192))).data).toEqual(
      Buffer.concat([Buffer.alloc(4096), data.subarray(4096)]),
    );
    expect((await client.call(simple(Command.TRIM, 6n, 8192, 4096, CommandFlag.FUA))).error).toBe(0);
    expect(device.flushes).toBe(2);
    expect((await client.call(read(7n, 0, 0))).error).toBe(0);
  });

  it('zeroes with plain writes when the device has no writeZeroes', async () => {
    const inner = new MemoryBlockDevice(4 << 20);
    const device: BlockDevice = {
      size: inner.size,
      blockSize: inner.blockSize,
      readOnly: false,
      read: (o, l) => inner.read(o, l),
      write: (o, c, opts) => inner.write(o, c, opts),
      flush: () => inner.flush(),
      trim: (o, l) => inner.trim(o, l),
    };
    const { path } = await serve({ disk: device });
    const client = await ScriptedClient.connect(path);
    await client.go('disk');
    await client.call(write(1n, 0, 65536), Buffer.alloc(65536, 0xcd));
    await client.call(write(2n, (3 << 20) - 512, 512), Buffer.alloc(512, 0xcd));
    expect((await client.call(simple(Command.WRITE_ZEROES, 3n, 512, 3 << 20))).error).toBe(0);
    const back = (await client.call(read(4n, 0, 65536))).data;
    expect(back[0]).toBe(0xcd);
    expect(back.subarray(512).every((b) => b === 0)).toBe(true);
    expect((await client.call(read(5n, (3 << 20) - 512, 1024))).data.every((b) => b === 0)).toBe(true);
  });

  it('answers bad requests with errors and stays in step', async () => {
    const device = new MemoryBlockDevice(65536);
    const { path } = await serve({ disk: device }, {}, 4096);
    const client = await ScriptedClient.connect(path);
    await client.go('disk');
    expect((await client.call(read(1n, 65536, 512))).error).toBe(NbdErrno.EINVAL);
    expect((await client.call(write(2n, 65536 - 512, 1024), Buffer.alloc(1024))).error).toBe(NbdErrno.ENOSPC);
    expect((await client.call(read(3n, 100, 512))).error).toBe(NbdErrno.EINVAL);
    expect((await client.call(read(4n, 0, 8192))).error).toBe(NbdErrno.EINVAL);
    // A write over the maximum payload: its payload is skipped, so the next request still parses.
    expect((await client.call(write(5n, 0, 8192), Buffer.alloc(8192, 1))).error).toBe(NbdErrno.EINVAL);
    expect((await client.call(simple(Command.BLOCK_STATUS, 6n, 0, 512))).error).toBe(NbdErrno.EINVAL);
    expect((await client.call(read(7n, 0, 512))).data).toEqual(Buffer.alloc(512));
    expect(device.allocatedBytes).toBe(0);
  });

  it('answers writes to a read-only export EPERM', async () => {
    const { path } = await serve({ ro: new MemoryBlockDevice(4096, { readOnly: true }) });
    const client = await ScriptedClient.connect(path);
    await client.go('ro');
    expect((await client.call(write(1n, 0, 512), Buffer.alloc(512))).error).toBe(NbdErrno.EPERM);
    expect((await client.call(simple(Command.TRIM, 2n, 0, 512))).error).toBe(NbdErrno.EPERM);
    expect((await client.call(read(3n, 0, 512))).error).toBe(0);
  });

  it('passes device failures on as their NBD error values, and never sends a short read', async () => {
    const inner = new MemoryBlockDevice(65536);
    const device: BlockDevice = {
      size: inner.size,
      blockSize: 512,
      readOnly: false,
      read: (offset, length) =>
        offset === 0 ? Promise.resolve([Buffer.alloc(length - 1)]) : inner.read(offset, length),
      write: () => Promise.reject(Object.assign(new Error('disk full'), { code: 'ENOSPC' })),
      flush: () => Promise.reject(new BlockDeviceError('gone', { nbdErrno: NbdErrno.ESHUTDOWN })),
      trim: () => Promise.reject(new Error('something odd')),
    };
    const { path, events } = await serve({ disk: device });
    const client = await ScriptedClient.connect(path);
    await client.go('disk');
    expect((await client.call(read(1n, 0, 512))).error).toBe(NbdErrno.EIO);
    expect((await client.call(write(2n, 0, 512), Buffer.alloc(512))).error).toBe(NbdErrno.ENOSPC);
    expect((await client.call(simple(Command.FLUSH, 3n))).error).toBe(NbdErrno.ESHUTDOWN);
    expect((await client.call(simple(Command.TRIM, 4n, 0, 512))).error).toBe(NbdErrno.EIO);
    expect((await client.call(read(5n, 512, 512))).error).toBe(0);
    expect(events.filter((e) => e.type === 'device-error')).toHaveLength(4);
  });

  it('runs requests concurrently and answers each as it completes, echoing handles', async () => {
    const device = new GatedDevice(65536);
    await device.inner.write(0, [Buffer.alloc(512, 1), Buffer.alloc(512, 2)], { fua: false });
    const { path } = await serve({ disk: device });
    const client = await ScriptedClient.connect(path);
    await client.go('disk');
    client.send(read(0xaaaan, 0, 512));
    client.send(read(0xbbbbn, 512, 512));
    await device.heldReads(2);
    device.held[1]!.release();
    const first = await client.reply();
    expect(first.handle).toBe(0xbbbbn);
    expect(first.data).toEqual(Buffer.alloc(512, 2));
    device.held[0]!.release();
    const second = await client.reply();
    expect(second.handle).toBe(0xaaaan);
    expect(second.data).toEqual(Buffer.alloc(512, 1));
  });

  it('stops reading new requests while maxInFlight are running', async () => {
    const device = new GatedDevice(65536);
    const { path } = await serve({ disk: device }, { limits: { maxInFlight: 2 } });
    const client = await ScriptedClient.connect(path);
    await client.go('disk');
    for (let i = 0; i < 5; i++) client.send(read(BigInt(i), 0, 512));
    await device.heldReads(2);
    // Let the server see every byte it was sent; it must still not start a third read.
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(device.held).toHaveLength(2);
    device.held[0]!.release();
    await client.reply();
    await device.heldReads(3);
    for (const held of device.held.slice(1)) held.release();
    await device.heldReads(5);
    for (const held of device.held.slice(3)) held.release();
    const handles = [await client.reply(), await client.reply(), await client.reply(), await client.reply()].map(
      (r) => r.handle,
    );
    expect(handles.sort()).toEqual([1n, 2n, 3n, 4n]);
  });

  it('on NBD_CMD_DISC answers what is in flight, then closes', async () => {
    const device = new GatedDevice(65536);
    const { path, events } = await serve({ disk: device });
    const client = await ScriptedClient.connect(path);
    await client.go('disk');
    client.send(read(1n, 0, 4096));
    client.send(simple(Command.DISC, 2n));
    await device.heldReads(1);
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    device.held[0]!.release();
    const reply = await client.reply();
    expect(reply.handle).toBe(1n);
    expect(reply.data).toHaveLength(4096);
    await client.reader.waitClosed();
    expect(client.reader.atEnd).toBe(true);
    await until(() => events.some((e) => e.type === 'close'));
    expect(events).toContainEqual(expect.objectContaining({ type: 'close', reason: 'client sent NBD_CMD_DISC' }));
  });

  it('removing an export finishes its running requests, answers new ones ESHUTDOWN, then disconnects', async () => {
    const device = new GatedDevice(65536);
    const { path, server } = await serve({ disk: device, other: new MemoryBlockDevice(4096) });
    const client = await ScriptedClient.connect(path);
    await client.go('disk');
    const bystander = await ScriptedClient.connect(path);
    await bystander.go('other');

    client.send(read(1n, 0, 512));
    await device.heldReads(1);
    const removed = server.removeExport('disk');
    client.send(read(2n, 0, 512));
    const refused = await client.reply();
    expect(refused).toEqual({ handle: 2n, error: NbdErrno.ESHUTDOWN, data: Buffer.alloc(0) });
    device.held[0]!.release();
    expect((await client.reply()).handle).toBe(1n);
    await client.reader.waitClosed();
    await removed;

    const late = await ScriptedClient.connect(path);
    expect((await late.info(Option.GO, 'disk', [])).final.type).toBe(Reply.ERR_UNKNOWN);
    expect((await bystander.call(read(9n, 0, 512))).error).toBe(0);
    await expect(server.removeExport('disk')).rejects.toMatchObject({ code: 'ERR_NBD_NO_EXPORT' });
  });

  it('close() disconnects idle clients and refuses further use', async () => {
    const { path, server } = await serve({ disk: new MemoryBlockDevice(4096) });
    const client = await ScriptedClient.connect(path);
    await client.go('disk');
    const waiting = await ScriptedClient.connect(path);
    await server.close();
    await client.reader.waitClosed();
    await waiting.reader.waitClosed();
    expect(() => server.addExport({ name: 'x', device: new MemoryBlockDevice(512) })).toThrow(
      expect.objectContaining({ code: 'ERR_NBD_CLOSED' }) as Error,
    );
  });

  it('also listens on TCP 127.0.0.1', async () => {
    const server = new NbdServer();
    servers.push(server);
    server.addExport({ name: 'disk', device: new MemoryBlockDevice(4096) });
    const bound = await server.listen({ port: 0 });
    expect(bound).toMatchObject({ kind: 'tcp', host: '127.0.0.1' });
  });

  it('reports listen failures as ERR_NBD_LISTEN', async () => {
    const { server, path } = await serve({});
    await expect(server.listen({ path })).rejects.toMatchObject({ code: 'ERR_NBD_LISTEN' });
    await expect(server.listen({ path: join(dir, 'no', 'such', 'dir.sock') })).rejects.toMatchObject({
      code: 'ERR_NBD_LISTEN',
    });
  });

  it('refuses bad exports and duplicate names', () => {
    const server = new NbdServer();
    servers.push(server);
    server.addExport({ name: 'disk', device: new MemoryBlockDevice(4096) });
    expect(() => server.addExport({ name: 'disk', device: new MemoryBlockDevice(4096) })).toThrow(
      expect.objectContaining({ code: 'ERR_NBD_EXPORT_EXISTS' }) as Error,
    );
    const inner = new MemoryBlockDevice(4096);
    const odd: BlockDevice = {
      size: 4096,
      blockSize: 3,
      readOnly: false,
      read: (o, l) => inner.read(o, l),
      write: (o, c, opts) => inner.write(o, c, opts),
      flush: () => inner.flush(),
      trim: (o, l) => inner.trim(o, l),
    };
    expect(() => server.addExport({ name: 'odd', device: odd })).toThrow(
      expect.objectContaining({ code: 'ERR_NBD_EXPORT' }) as Error,
    );
    expect(() => server.addExport({ name: 'a\0b', device: new MemoryBlockDevice(512) })).toThrow(
      expect.objectContaining({ code: 'ERR_NBD_EXPORT' }) as Error,
    );
    expect(() => server.addExport({ name: 'small', device: new MemoryBlockDevice(4096), maxPayload: 1024 })).toThrow(
      expect.objectContaining({ code: 'ERR_NBD_EXPORT' }) as Error,
    );
  });
});

describe('NbdServer on hostile bytes', () => {
  it('survives random bytes in either phase and frees the connection', async () => {
    const device = new MemoryBlockDevice(65536);
    const { path, server } = await serve({ disk: device }, { limits: { closeTimeoutMs: 200 } });
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.uint8Array({ minLength: 1, maxLength: 300 }), async (afterGo, bytes) => {
        const client = await ScriptedClient.connect(path);
        if (afterGo) await client.go('disk');
        client.socket.write(Buffer.from(bytes));
        client.socket.end();
        await client.reader.waitClosed();
      }),
      { numRuns: 25 },
    );
    // The server still works and holds nothing for the departed clients.
    const client = await ScriptedClient.connect(path);
    await client.go('disk');
    expect((await client.call(read(1n, 0, 512))).error).toBe(0);
    client.send(simple(Command.DISC, 2n));
    await client.reader.waitClosed();
    await until(() => server.connectionCount === 0);
  });
});
