import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileBackend } from '../../backends/file.js';
import { MemoryBackend } from '../../backends/memory.js';
import { BackendBlockDevice } from '../../nbd/backend-device.js';
import { Command, CommandFlag } from '../../nbd/constants.js';
import { NbdServer } from '../../nbd/server.js';
import { ScriptedClient } from './scripted-client.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iser-nbd-backend-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('BackendBlockDevice', () => {
  it('maps bytes to blocks for reads, writes, trims and write-zeroes', async () => {
    const backend = new MemoryBackend(64, { blockSize: 4096 });
    const device = new BackendBlockDevice(backend);
    expect(device.size).toBe(64 * 4096);
    expect(device.blockSize).toBe(4096);
    await device.write(8192, [Buffer.alloc(3000, 7), Buffer.alloc(1096 + 4096, 7)], { fua: true });
    expect(Buffer.concat(await backend.read(2, 2)).every((b) => b === 7)).toBe(true);
    await device.trim(8192, 4096);
    expect(
      Buffer.concat(await device.read(8192, 8192))
        .subarray(0, 4096)
        .every((b) => b === 0),
    ).toBe(true);
    await device.writeZeroes(12288, 4096, { fua: false, noHole: true });
    expect(Buffer.concat(await device.read(12288, 4096)).every((b) => b === 0)).toBe(true);
  });

  it('serves a file backend over NBD', async () => {
    const backend = await FileBackend.open(join(dir, 'lun.img'), { size: 1 << 20 });
    const server = new NbdServer();
    server.addExport({ name: 'lun0', device: new BackendBlockDevice(backend) });
    const path = join(dir, 'nbd.sock');
    await server.listen({ path });
    try {
      const client = await ScriptedClient.connect(path);
      await client.go('lun0');
      const data = Buffer.alloc(8192, 0x5a);
      const header = { type: Command.WRITE, flags: CommandFlag.FUA, handle: 1n, offset: 4096n, length: 8192 };
      expect((await client.call(header, data)).error).toBe(0);
      const back = await client.call({ type: Command.READ, flags: 0, handle: 2n, offset: 4096n, length: 8192 });
      expect(back.data).toEqual(data);
      const zero = { type: Command.WRITE_ZEROES, flags: 0, handle: 3n, offset: 4096n, length: 4096 };
      expect((await client.call(zero)).error).toBe(0);
      const after = await client.call({ type: Command.READ, flags: 0, handle: 4n, offset: 4096n, length: 8192 });
      expect(after.data).toEqual(Buffer.concat([Buffer.alloc(4096), Buffer.alloc(4096, 0x5a)]));
    } finally {
      await server.close();
      await backend.close();
    }
  });
});
