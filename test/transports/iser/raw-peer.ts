/**
 * A raw iSER peer for hostile-peer tests: plain Verbs (no IserConnection), so a test can put any bytes in a Send,
 * any flags and STags in an iSER header, and watch every completion. It plays either the initiator (connecting to
 * our IserListener) or the target (accepting our IserConnector).
 */
import { firstValueFrom } from 'rxjs';
import {
  decodeIserMessage,
  encodeHeader,
  encodeIserMessage,
  splitIserControlPdu,
  decodePdu,
  type IserControlHeader,
  type Pdu,
} from '../../../protocol/pdu/index.js';
import { totalLength } from '../../../protocol/session/data-sequencing-chunks.js';
import { encodeIserCmHeader } from '../../../transports/iser/cm-header.js';
import {
  Access,
  type ConnectionEvent,
  type MemoryRegion,
  type QpCapabilities,
  type RdmaConnection,
  type SendWorkRequest,
  type VerbsProvider,
  type WorkCompletion,
} from '../../../transports/verbs.js';

const QP: QpCapabilities = { maxSendWr: 256, maxRecvWr: 256, maxSendSge: 4, maxRecvSge: 1 };

/** What arrived in one receive. */
export interface RawReceived {
  readonly wc: WorkCompletion;
  readonly bytes: Buffer;
}

/** One end of an RDMA connection driven by hand. */
export class RawIserPeer {
  readonly completions: WorkCompletion[] = [];
  readonly events: ConnectionEvent[] = [];
  readonly received: RawReceived[] = [];
  /** True once the completion stream completed (every flush drained). */
  drained = false;
  private nextWrId = 1;
  private readonly receives = new Map<number, Buffer>();
  private readonly waiters: (() => void)[] = [];

  constructor(readonly rdma: RdmaConnection) {
    rdma.completions.subscribe({
      next: (wc) => {
        this.completions.push(wc);
        const buffer = this.receives.get(wc.wrId);
        if (buffer !== undefined) {
          this.receives.delete(wc.wrId);
          if (wc.status === 'SUCCESS') this.received.push({ wc, bytes: buffer.subarray(0, wc.byteLen) });
        }
        this.wake();
      },
      complete: () => {
        this.drained = true;
        this.wake();
      },
    });
    rdma.events.subscribe((event) => {
      this.events.push(event);
      this.wake();
    });
  }

  /** Connects to an iSER portal as an initiator, with the given iser_cm_hdr flags (default 0x80). */
  static async connect(provider: VerbsProvider, address: { host: string; port: number }, flags = 0x80) {
    const privateData = encodeIserCmHeader({
      zbvaNotSupported: (flags & 0x80) !== 0,
      sendWithInvalidateNotSupported: (flags & 0x40) !== 0,
    });
    return new RawIserPeer(await provider.connect(address, { qp: QP, privateData, retryCount: 3, rnrRetryCount: 3 }));
  }

  /** Listens on `address` and resolves with the first connection, accepted with the given REP flags. */
  static async listen(
    provider: VerbsProvider,
    address: { host: string; port: number },
    flags = 0x80,
  ): Promise<{ readonly accepted: Promise<RawIserPeer>; readonly privateData: Promise<Buffer> }> {
    const listener = await provider.listen(address);
    const request = firstValueFrom(listener.connectRequests);
    const accepted = request.then(async (req) => {
      const rdma = await req.accept({
        qp: QP,
        privateData: encodeIserCmHeader({
          zbvaNotSupported: (flags & 0x80) !== 0,
          sendWithInvalidateNotSupported: (flags & 0x40) !== 0,
        }),
        rnrRetryCount: 3,
      });
      const peer = new RawIserPeer(rdma);
      peer.postReceives(16, 76 + 8192);
      await listener.close();
      return peer;
    });
    return { accepted, privateData: request.then((r) => r.privateData) };
  }

  /** Registers `buffer` in this connection's protection domain. */
  register(buffer: Buffer, access: number): MemoryRegion {
    return this.rdma.pd.register(buffer, access);
  }

  /** Posts `count` receives of `size` bytes. */
  postReceives(count: number, size: number): void {
    const wrs = Array.from({ length: count }, () => {
      const buffer = Buffer.alloc(size);
      const mr = this.register(buffer, Access.LOCAL_WRITE);
      const wrId = this.nextWrId++;
      this.receives.set(wrId, buffer);
      return { wrId, sgl: [{ mr, offset: 0, length: size }] };
    });
    this.rdma.postRecv(wrs);
  }

  /** Sends raw bytes (one SGE). Returns the wrId. */
  sendBytes(bytes: Buffer, options: { readonly invalidateRkey?: number } = {}): number {
    const copy = Buffer.alloc(Math.max(1, bytes.length));
    bytes.copy(copy);
    const mr = this.register(copy, 0);
    const wrId = this.nextWrId++;
    const sgl = [{ mr, offset: 0, length: bytes.length }];
    const wr: SendWorkRequest =
      options.invalidateRkey === undefined
        ? { opcode: 'SEND', wrId, sgl }
        : { opcode: 'SEND_WITH_INV', wrId, sgl, invalidateRkey: options.invalidateRkey };
    this.rdma.postSend([wr]);
    return wrId;
  }

  /** Sends `pdu` behind an iSER header (default: a plain control header). */
  send(
    pdu: Pdu,
    iser: IserControlHeader | Buffer = { kind: 'control' },
    options?: { invalidateRkey?: number },
  ): number {
    const data = 'data' in pdu ? pdu.data : [];
    const header = Buffer.isBuffer(iser) ? iser : encodeIserMessage(iser);
    return this.sendBytes(Buffer.concat([header, encodeHeader(pdu), ...data]), options);
  }

  /** Waits (under the test's clock driver) for the `n`th received Send, decoded. */
  async receivedPdu(
    n: number,
  ): Promise<{ readonly iser: IserControlHeader; readonly pdu: Pdu; readonly bytes: Buffer }> {
    await this.until(() => this.received.length > n);
    const got = this.received[n] as RawReceived;
    const split = splitIserControlPdu(got.bytes);
    const iser = decodeIserMessage(got.bytes);
    if (iser.kind !== 'control') throw new Error(`got ${iser.kind}`);
    return { iser, pdu: decodePdu(split.header, split.data), bytes: got.bytes };
  }

  /** Resolves once `ready()` holds (checked whenever something happens on the connection). */
  async until(ready: () => boolean): Promise<void> {
    while (!ready()) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** The data length a PDU's Send carries. */
  static dataLength(pdu: Pdu): number {
    return totalLength('data' in pdu ? pdu.data : []);
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}
