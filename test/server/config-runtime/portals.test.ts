/** PortalOpener: why an iSER portal cannot be opened is said plainly; portal keys tell portals apart. */
import { asyncScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { probe } from '../../../native/index.js';
import { PortalOpener, portalKey } from '../../../server/config-runtime/portals.js';

describe('PortalOpener', () => {
  it('keys portals by transport, provider, host and port', () => {
    expect(portalKey({ transport: 'tcp', host: 'LocalHost', port: 3260 })).toBe('tcp localhost:3260');
    expect(portalKey({ transport: 'iser', host: '127.0.0.1', port: 3260, provider: 'softroce-udp' })).toBe(
      'iser/softroce-udp 127.0.0.1:3260',
    );
  });

  it('names the reason when provider native finds no RDMA device', async (ctx) => {
    const found = probe();
    if (found.available) {
      console.log('skipped: this machine has an RDMA device, so provider native opens');
      ctx.skip();
    }
    const opener = new PortalOpener({ scheduler: asyncScheduler });
    try {
      await expect(opener.open({ transport: 'iser', host: '127.0.0.1', port: 0, provider: 'native' })).rejects.toThrow(
        `portal iser/native 127.0.0.1:0: provider native needs an RDMA device: ${found.available ? '' : found.reason}`,
      );
    } finally {
      await opener.close();
    }
  });

  it('says why a TCP portal cannot be opened', async () => {
    const opener = new PortalOpener({ scheduler: asyncScheduler });
    await expect(opener.open({ transport: 'tcp', host: '192.0.2.1', port: 3260 })).rejects.toMatchObject({
      code: 'ERR_SERVER_TRANSPORT',
      message: expect.stringContaining('portal tcp 192.0.2.1:3260: ') as string,
    });
    await opener.close();
  });
});
