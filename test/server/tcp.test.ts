import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../backends/memory.js';
import { LogoutResponse } from '../../protocol/pdu/index.js';
import { inquiry, read10, testUnitReady, write10 } from '../../protocol/scsi/cdb/build.js';
import { ScsiStatus } from '../../protocol/scsi/status.js';
import { IscsiTarget } from '../../server/iscsi-target.js';
import { TcpConnector } from '../../transports/tcp/index.js';
import { ScriptedInitiator } from './scripted-initiator.js';

const TARGET = 'iqn.2024-01.org.example:tcp';

describe('IscsiTarget over TCP on 127.0.0.1', () => {
  it('login → INQUIRY → WRITE → READ verify → logout, with digests', async () => {
    const target = await IscsiTarget.listen({
      targets: [
        {
          name: TARGET,
          luns: [{ lun: 0, backend: new MemoryBackend(4096) }],
          negotiation: { headerDigest: ['CRC32C', 'None'], dataDigest: ['CRC32C', 'None'] },
        },
      ],
      portalGroups: [{ tag: 1, portals: [{ host: '127.0.0.1', port: 0 }] }],
    });
    try {
      const portal = target.portals[0]!.address;
      expect(portal.port).toBeGreaterThan(0);
      const initiator = new ScriptedInitiator(await new TcpConnector().connect(portal));
      const login = await initiator.login({
        initiatorName: 'iqn.2024-01.org.example:host',
        targetName: TARGET,
        isid: { type: 2, a: 0, b: 7, c: 7, d: 7 },
        transport: 'tcp',
        negotiation: { headerDigest: ['CRC32C'], dataDigest: ['CRC32C'] },
      });
      expect([login.params.headerDigest, login.params.dataDigest]).toEqual(['CRC32C', 'CRC32C']);
      expect((await initiator.command(inquiry({ allocationLength: 36 }), { readLength: 36 })).data).toHaveLength(36);
      await initiator.command(testUnitReady()); // takes the power-on unit attention
      // 256 KiB: several R2Ts and Data-In PDUs.
      const data = Buffer.alloc(256 * 1024);
      for (let i = 0; i < data.length; i += 4) data.writeUInt32BE(i, i);
      const write = await initiator.command(write10({ lba: 8, blocks: 512 }), { write: data });
      expect(write.response.status).toBe(ScsiStatus.Good);
      const read = await initiator.command(read10({ lba: 8, blocks: 512 }), { readLength: data.length });
      expect(read.response.status).toBe(ScsiStatus.Good);
      expect(read.data.equals(data)).toBe(true);
      expect(await initiator.logout()).toMatchObject({ response: LogoutResponse.ClosedSuccessfully });
      await initiator.whenClosed();
    } finally {
      await target.close();
    }
    expect(target.stats).toMatchObject({ sessions: 0, connections: 0, logins: 1 });
  });
});
