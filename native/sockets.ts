/**
 * Socket options Node's dgram does not expose, for the soft-RoCE UDP link: IPv4 datagrams with ID 0 (as rxe
 * sends them; the ICRC covers the IP header) need IP_MTU_DISCOVER = IP_PMTUDISC_DO, and receiving rxe's zero
 * UDP checksum over IPv6 needs UDP_NO_CHECK6_RX.
 */
import { loadAddon } from './addon.js';
import { NativeError } from './errors.js';
import { addonErrorInfo } from './addon.js';

/** Linux socket option constants (the kernel ABI; equal to what the addon reports). */
export const LinuxSocketOption = {
  SOL_SOCKET: 1,
  IPPROTO_IP: 0,
  IPPROTO_IPV6: 41,
  IPPROTO_UDP: 17,
  IP_MTU_DISCOVER: 10,
  IP_PMTUDISC_DO: 2,
  UDP_NO_CHECK6_RX: 102,
} as const;

/** setsockopt(fd, level, name, &value, sizeof(int)). Throws NativeError ERR_NATIVE_UNAVAILABLE / ERR_NATIVE_SYSCALL. */
export function setsockoptInt(fd: number, level: number, name: number, value: number): void {
  const load = loadAddon();
  if (!load.ok) throw new NativeError('ERR_NATIVE_UNAVAILABLE', `setsockoptInt: ${load.reason}`);
  try {
    load.addon.setsockoptInt(fd, level, name, value);
  } catch (err) {
    const info = addonErrorInfo(err);
    throw new NativeError('ERR_NATIVE_SYSCALL', info.message, {
      ...(info.errno !== undefined && { errno: info.errno }),
      syscall: info.syscall ?? 'setsockopt',
      cause: err,
    });
  }
}
