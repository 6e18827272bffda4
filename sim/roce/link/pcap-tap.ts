/**
 * A capture point on a link: every datagram handed to it becomes an Ethernet / IP / UDP frame in a pcapng file,
 * with synthesized headers as rxe would send them (IPv4 ID 0 with DF, UDP checksum 0), stamped with the
 * injected clock's time, so tshark and Wireshark dissect the RoCEv2 inside and scapy can check its ICRC.
 */
import type { TimestampProvider } from 'rxjs';
import { PcapngWriter } from '../../trace/pcapng.js';
import { udpFrame } from '../../trace/udp.js';
import type { RoceDatagram } from './link.js';
import { ipVersionOf } from './link.js';

/** Writes datagrams to a pcapng file in memory. */
export class PcapTap {
  /** The capture file being written. */
  readonly writer: PcapngWriter;
  readonly #clock: TimestampProvider;

  /** A tap writing to `writer` (a new one by default) with timestamps from `clock` (ms). */
  constructor(clock: TimestampProvider, writer: PcapngWriter = new PcapngWriter('iser soft-RoCE')) {
    this.writer = writer;
    this.#clock = clock;
    this.writer.addInterface({ name: 'softroce' });
  }

  /** Records one datagram at the clock's current time. */
  record(datagram: RoceDatagram): void {
    this.writer.addPacket(roceDatagramFrame(datagram), Math.max(0, this.#clock.now()));
  }

  /** Frames recorded so far. */
  get packetCount(): number {
    return this.writer.packetCount;
  }

  /** The pcapng file. */
  toBuffer(): Buffer {
    return this.writer.toBuffer();
  }
}

/** The Ethernet frame of one datagram as rxe would send it (IPv4 ID 0 with DF, UDP checksum 0). */
export function roceDatagramFrame(datagram: RoceDatagram): Buffer {
  const version = ipVersionOf(datagram.srcIp);
  const ip =
    version === 4
      ? { version, src: datagram.srcIp, dst: datagram.dstIp, id: 0, df: true }
      : { version, src: datagram.srcIp, dst: datagram.dstIp };
  return udpFrame({ ip, srcPort: datagram.srcPort, dstPort: datagram.dstPort, checksum: 'zero' }, datagram.payload);
}
