/** MetricsServer: GET /metrics on loopback; other paths 404; non-loopback refused unless allowed. */
import { describe, expect, it } from 'vitest';
import { isLoopbackHost, MetricsServer } from '../../../server/config-runtime/metrics-server.js';

describe('MetricsServer', () => {
  it('serves the rendered text on GET /metrics only', async () => {
    const server = await MetricsServer.listen(
      { host: '127.0.0.1', port: 0 },
      () => Promise.resolve('x_total 3\n'),
      'text/plain; version=0.0.4',
    );
    try {
      const ok = await fetch(`http://127.0.0.1:${server.address.port}/metrics`);
      expect([ok.status, ok.headers.get('content-type'), await ok.text()]).toEqual([
        200,
        'text/plain; version=0.0.4',
        'x_total 3\n',
      ]);
      expect((await fetch(`http://127.0.0.1:${server.address.port}/`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${server.address.port}/metrics`, { method: 'POST' })).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('refuses a non-loopback address unless allowed', async () => {
    await expect(
      MetricsServer.listen({ host: '0.0.0.0', port: 0 }, () => Promise.resolve(''), 'text/plain'),
    ).rejects.toMatchObject({ code: 'ERR_SERVER_USAGE' });
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '10.0.0.1', '::', '128.0.0.1', 'example.com'].some(isLoopbackHost)).toBe(false);
  });
});
