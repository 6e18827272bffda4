/**
 * `--pcap` for soft-RoCE: every RoCEv2 datagram the link carries is written to a pcapng file as it is sent, as the
 * Ethernet / IPv4 / UDP frame rxe would put on the wire (sim/roce's pcap tap builds it), stamped with the link's
 * clock (virtual milliseconds on the in-memory link, wall-clock on UDP). Streamed: a long capture costs no memory.
 */
import type { TimestampProvider } from 'rxjs';
import { PcapTap, roceDatagramFrame } from '../../sim/roce/link/pcap-tap.js';
import type { RoceDatagram } from '../../sim/roce/link/link.js';
import { ROCE_PORT } from '../../sim/roce/link/link.js';
import type { PcapngFile } from './pcapng-file.js';

/** A link tap that appends to an open {@link PcapngFile}. */
export class PcapngFileTap extends PcapTap {
  readonly #file: PcapngFile;
  readonly #time: TimestampProvider;

  /** Writes to `file`, with timestamps from `clock` (ms). */
  constructor(clock: TimestampProvider, file: PcapngFile) {
    super(clock);
    this.#file = file;
    this.#time = clock;
  }

  override record(datagram: RoceDatagram): void {
    // Off 4791 (a UDP link that fell back to an ephemeral port), tshark needs to be told where RRoCE is.
    if (datagram.dstPort !== ROCE_PORT) this.#file.noteRocePort(datagram.dstPort);
    this.#file.write([{ data: roceDatagramFrame(datagram), timeMs: Math.max(0, this.#time.now()) }]);
  }
}
