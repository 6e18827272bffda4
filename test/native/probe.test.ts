/**
 * probe() and the addon's host-side surface. These run everywhere: on a machine without RDMA they check that
 * the reason is the precise one; where the addon is built they check its guards and setsockoptInt.
 */
import { createSocket, type Socket } from 'node:dgram';
import { closeSync, existsSync, openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isIserError } from '../../protocol/errors.js';
import { loadAddon, loadFailureReason } from '../../native/addon.js';
import { LinuxSocketOption, NativeVerbs, probe, setsockoptInt } from '../../native/index.js';

const load = loadAddon();
const addonMissing = load.ok ? undefined : load.reason;
if (addonMissing !== undefined) console.warn(`SKIP (addon tests): ${addonMissing}`);

describe('probe', () => {
  const result = probe();
  console.warn(
    `native probe: ${result.available ? `available: ${result.devices.map((d) => d.name).join(', ')}` : result.reason}`,
  );

  it('says why RDMA is unavailable, or lists devices', () => {
    if (!load.ok) {
      expect(result).toEqual({ available: false, reason: load.reason });
      expect(load.reason).toMatch(
        /^(addon not built: run npm run build:native|libibverbs\.so\.1 missing|librdmacm\.so\.1 missing|addon failed to load)/,
      );
    } else if (!existsSync('/sys/class/infiniband_verbs')) {
      // A kernel without uverbs: libibverbs reports ENOSYS (roce-rxe.md, "Detecting 'no RDMA here'").
      expect(result).toEqual({
        available: false,
        reason: 'kernel has no RDMA support (no uverbs): ibv_get_device_list: ENOSYS',
      });
    } else if (result.available) {
      expect(result.devices.length).toBeGreaterThan(0);
      for (const d of result.devices) expect(d.name).toMatch(/\S/);
    } else {
      expect(result.reason).toMatch(/^(RDMA core present, no devices \(hint: modprobe rdma_rxe|rdma_ucm not loaded)/);
    }
  });

  it('NativeVerbs.open fails with the probe reason exactly when probe does', () => {
    if (result.available) {
      const provider = NativeVerbs.open();
      expect(provider.name).toMatch(/^native:/);
      expect(provider.caps.maxSge).toBeGreaterThan(0);
      provider.close();
    } else {
      let thrown: unknown;
      try {
        NativeVerbs.open();
      } catch (err) {
        thrown = err;
      }
      expect(isIserError(thrown, 'ERR_VERBS_UNAVAILABLE')).toBe(true);
      expect((thrown as Error).message).toBe(result.reason);
    }
  });
});

describe('addon load failures', () => {
  it('names the package to install when a shared library is missing', () => {
    const dlopen = (lib: string) => new Error(`${lib}: cannot open shared object file: No such file or directory`);
    expect(loadFailureReason('/x.node', dlopen('libibverbs.so.1'))).toBe(
      'libibverbs.so.1 missing: apt-get install libibverbs1 ibverbs-providers',
    );
    expect(loadFailureReason('/x.node', dlopen('librdmacm.so.1'))).toBe(
      'librdmacm.so.1 missing: apt-get install librdmacm1',
    );
    expect(loadFailureReason('/x.node', new Error('invalid ELF header'))).toBe(
      'addon failed to load from /x.node: invalid ELF header',
    );
  });
});

describe.skipIf(addonMissing !== undefined)('addon surface', () => {
  const addon = load.ok ? load.addon : undefined;

  it('names errnos as glibc does', () => {
    expect(addon!.errnoName(11)).toBe('EAGAIN');
    expect(addon!.errnoName(38)).toBe('ENOSYS');
  });

  it('reports the same socket constants as LinuxSocketOption', () => {
    expect(addon!.socketConstants).toEqual(LinuxSocketOption);
  });

  it('refuses objects of the wrong class instead of unwrapping them', () => {
    expect(() => new addon!.Pd({} as never)).toThrow(TypeError);
    expect(() => new addon!.Cq({} as never, 16, () => undefined)).toThrow(TypeError);
    const CmIdCtor = (addon as unknown as { CmId: new (x: unknown) => unknown }).CmId;
    expect(() => new CmIdCtor(1)).toThrow(/created by EventChannel.createId/);
  });

  it('sets IP_MTU_DISCOVER=IP_PMTUDISC_DO on a UDP socket', async () => {
    const socket: Socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    try {
      // Node has no public accessor for a socket's fd; the handle's is the only way in.
      const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
      expect(fd).toBeGreaterThanOrEqual(0);
      expect(() => {
        setsockoptInt(
          fd,
          LinuxSocketOption.IPPROTO_IP,
          LinuxSocketOption.IP_MTU_DISCOVER,
          LinuxSocketOption.IP_PMTUDISC_DO,
        );
      }).not.toThrow();
    } finally {
      socket.close();
    }
  });

  it('fails with ERR_NATIVE_SYSCALL and the errno name on a non-socket fd', () => {
    const fd = openSync('/dev/null', 'r');
    try {
      let thrown: unknown;
      try {
        setsockoptInt(fd, LinuxSocketOption.IPPROTO_IP, LinuxSocketOption.IP_MTU_DISCOVER, 2);
      } catch (err) {
        thrown = err;
      }
      expect(isIserError(thrown, 'ERR_NATIVE_SYSCALL')).toBe(true);
      expect((thrown as { errno?: string }).errno).toBe('ENOTSOCK');
    } finally {
      closeSync(fd);
    }
  });

  it.skipIf(probe().available)('cannot open an event channel without rdma_cm (ENODEV here)', () => {
    expect(() => new addon!.EventChannel(() => undefined)).toThrow(expect.objectContaining({ code: 'ENODEV' }));
  });
});
