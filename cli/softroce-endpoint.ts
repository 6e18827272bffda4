/**
 * `--iser-softroce ADDRESS [--iser-softroce-port PORT]`: iser:// through a soft-RoCE device (sim/roce) on real UDP,
 * for machines without an RDMA device. Loopback only: soft-RoCE is a simulator, and its traffic stays on this host.
 */
import { canonicalIp, ROCE_PORT } from '../sim/roce/link/link.js';
import { usage } from './errors.js';

/** Where the soft-RoCE device sits and how it reaches the target's device. */
export interface SoftRoceEndpoint {
  /** Our device's address (127.x.y.z). */
  readonly address: string;
  /** The UDP port of each peer device off 4791 (the target's, from --iser-softroce-port). */
  readonly peerPorts: ReadonlyMap<string, number>;
}

const LOOPBACK = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/u;

/** The endpoint the flags ask for (undefined without --iser-softroce); usage errors for a bad address or port. */
export function softRoceTarget(
  address: string | undefined,
  peerPort: number | undefined,
  portalHost: string,
): SoftRoceEndpoint | undefined {
  if (address === undefined) {
    if (peerPort !== undefined) usage('--iser-softroce-port needs --iser-softroce');
    return undefined;
  }
  if (!LOOPBACK.test(address)) usage(`--iser-softroce ${address}: only a 127.x.y.z loopback address`);
  const peerPorts = new Map<string, number>();
  if (peerPort !== undefined && peerPort !== ROCE_PORT) {
    let peer: string;
    try {
      peer = canonicalIp(portalHost);
    } catch {
      usage(`--iser-softroce-port: the portal ${portalHost} must be an IP address`);
    }
    peerPorts.set(peer, peerPort);
  }
  return { address: canonicalIp(address), peerPorts };
}
