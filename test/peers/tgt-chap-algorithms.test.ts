/**
 * tgt's CHAP algorithms on the wire, pinned with a raw login probe built on our codecs: tgt 1.0.85 knows CHAP_A 5
 * (MD5) and 7, and by 7 it means SHA-1, where RFC 7143 (IANA PPP registry), libiscsi, open-iscsi and LIO mean
 * SHA-256. An initiator that offers `7` first and answers with SHA-256 cannot log in to tgt.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeChap, type ChapHash } from '../support/peers/chap-probe.js';
import { startTgt, TGT_CHAP_ALGORITHMS, type TgtInstance } from '../support/peers/tgt.js';
import { missing } from '../support/tools.js';

const STATUS_SUCCESS = 0x0000;
const STATUS_INITIATOR_ERROR = 0x0200;
const STATUS_AUTHENTICATION_FAILURE = 0x0201;

describe.skipIf(missing('tgtd', 'apt-get install tgt'))('CHAP_A as tgt speaks it', () => {
  const chap = { user: 'probe-user', secret: 'probe-secret-1' };
  let tgt: TgtInstance;
  beforeAll(async () => {
    tgt = await startTgt({ luns: [{ lun: 1, sizeBytes: 1 << 20 }], chap });
  });
  afterAll(async () => {
    await tgt.stop();
  });
  const probe = (offer: string, respondWith: ChapHash | 'rfc', secret = chap.secret) =>
    probeChap({
      host: tgt.portal.host,
      port: tgt.portal.port,
      targetName: tgt.iqn,
      user: chap.user,
      secret,
      offer,
      respondWith,
    });

  it('5 is MD5', async () => {
    expect(await probe('5', 'md5')).toMatchObject({ chosen: '5', status: STATUS_SUCCESS, accepted: true });
  });

  it('7 is SHA-1: a SHA-1 answer is accepted, the RFC SHA-256 answer is refused', async () => {
    expect(await probe('7', 'sha1')).toMatchObject({ chosen: '7', accepted: true });
    expect(await probe('7', 'sha256')).toMatchObject({ chosen: '7', status: STATUS_INITIATOR_ERROR, accepted: false });
    expect(TGT_CHAP_ALGORITHMS[7]).toBe('SHA-1');
  });

  it('6 (RFC SHA-1) and 8 (SHA3-256) are unknown: the login fails at the offer, no CHAP_A=Reject', async () => {
    for (const offer of ['6', '8']) {
      expect(await probe(offer, 'rfc')).toMatchObject({
        chosen: undefined,
        status: STATUS_INITIATOR_ERROR,
        accepted: false,
      });
    }
  });

  it('tgt takes the first of 5 or 7 in our order: offering 8,7,6,5 picks 7, and an RFC initiator then fails', async () => {
    expect(await probe('8,7,6,5', 'rfc')).toMatchObject({ chosen: '7', accepted: false });
    expect(await probe('6,5,7', 'rfc')).toMatchObject({ chosen: '5', accepted: true });
  });

  it('a wrong secret of the right length is an authentication failure (0x0201)', async () => {
    expect(await probe('5', 'md5', 'not-the-secret')).toMatchObject({
      chosen: '5',
      status: STATUS_AUTHENTICATION_FAILURE,
      accepted: false,
    });
  });
});
