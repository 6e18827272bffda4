/**
 * RoCEv2 frames: an InfiniBand packet (BTH onward, ICRC included) inside UDP to port 4791.
 */
import type { EthernetAddresses } from './ethernet.js';
import type { IpOptions } from './ip.js';
import { udpFrame, type Payload } from './udp.js';

/** The UDP destination port of RoCEv2 (`ROCE_V2_UDP_DPORT`). */
export const ROCE_V2_UDP_PORT = 4791;

/** Addressing of a RoCEv2 frame. For IPv4, the ICRC covers `id` and `df`: rxe-compatible peers use id 0, DF 1. */
export interface RoceV2FrameOptions {
  /** MACs; default derived from the IP addresses. */
  readonly eth?: EthernetAddresses;
  /** IP header options; IPv4 `id` defaults to 0 and `df` to true. */
  readonly ip: IpOptions;
  /** UDP source port (entropy; rxe uses 0xC000 | hash). */
  readonly srcPort: number;
  /** UDP checksum; default `'zero'`, as rxe sends. */
  readonly checksum?: 'compute' | 'zero';
}

/** A complete RoCEv2 frame around `ibPacket` (BTH, extension headers, payload, pad, ICRC: the caller's bytes). */
export function roceV2Frame(opts: RoceV2FrameOptions, ibPacket: Payload): Buffer {
  return udpFrame(
    {
      ip: opts.ip,
      srcPort: opts.srcPort,
      dstPort: ROCE_V2_UDP_PORT,
      checksum: opts.checksum ?? 'zero',
      ...(opts.eth === undefined ? {} : { eth: opts.eth }),
    },
    ibPacket,
  );
}
