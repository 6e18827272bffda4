/**
 * A pcapng file of a TCP recording: each proxied connection becomes a synthesized TCP conversation to port 3260
 * (so Wireshark and tshark dissect iSCSI), its bytes in the order and at the times they passed the proxy.
 */
import { PcapngWriter } from '../../sim/trace/pcapng.js';
import { TcpStreamSynth } from '../../sim/trace/tcp-stream.js';
import type { TcpRecording } from './tcp-recorder.js';

/** The iSCSI port Wireshark dissects by default. */
const ISCSI_PORT = 3260;

/** The recordings as one pcapng file (times relative to the first chunk). */
export function recordingsToPcapng(recordings: readonly TcpRecording[]): Buffer {
  const writer = new PcapngWriter('iser conformance');
  writer.addInterface({ name: 'conformance-proxy' });
  const start = Math.min(...recordings.flatMap((r) => r.chunks.map((c) => c.timeMs)), Number.POSITIVE_INFINITY);
  const origin = Number.isFinite(start) ? start : 0;
  for (const recording of recordings) {
    const synth = new TcpStreamSynth({
      a: { ip: '127.0.0.1', port: 40000 + (recording.number % 20000) },
      b: { ip: '127.0.0.1', port: ISCSI_PORT },
    });
    let last = 0;
    for (const chunk of recording.chunks) {
      last = Math.max(last, chunk.timeMs - origin);
      writer.addFrames(synth.send(chunk.direction === 'out' ? 'a->b' : 'b->a', chunk.bytes, last));
    }
    if (recording.chunks.length > 0) writer.addFrames(synth.close(last));
  }
  return writer.toBuffer();
}
