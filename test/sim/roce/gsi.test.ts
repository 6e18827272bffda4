import { describe, expect, it } from 'vitest';
import { encodeCmMad } from '../../../sim/roce/cm-mad.js';
import { decodeRoceUdpPayload, encodeRoceUdpPayload } from '../../../sim/roce/frame.js';
import { gsiPacket, madFromGsiPacket } from '../../../sim/roce/gsi.js';
import { encodeRocePacket } from '../../../sim/roce/packet.js';

const mad = encodeCmMad({
  tid: 1n,
  message: { kind: 'RTU', localCommId: 1, remoteCommId: 2, privateData: Buffer.alloc(0) },
});

describe('QP1 (GSI) packets', () => {
  it('wrap a MAD as UD SEND_ONLY to QP1 with the GSI Q_Key (roce-rxe.md §3.10)', () => {
    const bytes = encodeRocePacket(gsiPacket(mad, { psn: 5 }));
    expect(bytes.subarray(0, 20).toString('hex')).toBe('6400ffff' + '00000001' + '00000005' + '80010000' + '00000001');
    expect(bytes.length).toBe(12 + 8 + 256);
    const addressing = { ip: { version: 4 as const, src: '10.0.0.1', dst: '10.0.0.2' }, srcPort: 0xc000 };
    const received = decodeRoceUdpPayload(encodeRoceUdpPayload(gsiPacket(mad, { psn: 5 }), addressing), addressing);
    expect(madFromGsiPacket(received)).toEqual(mad);
  });

  it('refuse what is not a QP1 MAD', () => {
    const pkt = gsiPacket(mad, { psn: 0 });
    expect(() => gsiPacket(mad.subarray(0, 255), { psn: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_CM_BAD_MAD' }),
    );
    expect(() => madFromGsiPacket({ ...pkt, bth: { ...pkt.bth, destQp: 2 } })).toThrow(
      expect.objectContaining({ code: 'ERR_CM_BAD_MAD' }),
    );
    expect(() => madFromGsiPacket({ ...pkt, deth: { qkey: 0x1234, srcQp: 1 } })).toThrow(
      expect.objectContaining({ code: 'ERR_CM_BAD_MAD' }),
    );
    expect(() => madFromGsiPacket({ ...pkt, payload: Buffer.alloc(255) })).toThrow(
      expect.objectContaining({ code: 'ERR_CM_BAD_MAD' }),
    );
    expect(() => madFromGsiPacket({ ...pkt, bth: { ...pkt.bth, opcode: 0x04 } })).toThrow(
      expect.objectContaining({ code: 'ERR_CM_BAD_MAD' }),
    );
  });
});
