/**
 * An in-memory pair of DatamoverConnections (initiator end + target end) with the semantics of iSCSI over TCP but
 * no sockets: control PDUs travel as objects, and Data-In / R2T / Data-Out are simulated by copying between the
 * initiator's task buffers and the target's putData/getData. Session cores can be tested on it without TCP.
 *
 * What it honours of the contract (the same as transports/tcp):
 * - everything travels in order, one scheduler action per message (default `asapScheduler`; pass a virtual-time
 *   scheduler for deterministic runs). `pdus` holds PDUs until its first subscriber.
 * - data moves only after `enable()` on that end; the initiator's unsolicited lengths are checked against its
 *   params; SCSI Command F bit and immediate data are set from the buffers as the TCP transport does.
 * - getData serves the unsolicited bytes from the command and fetches the rest from the initiator's `writeData`
 *   (an "R2T"), so it needs the initiator's task alive; putData lands in the initiator's `readBuffer`.
 * - a Data-In or R2T outside the initiator's buffers fails the connection with ERR_TCP_PROTOCOL as TCP would; for a
 *   task the initiator has just finished (taskDone) a Data-In is dropped and getData fails with ERR_TCP_DATA_TIMEOUT
 *   at once (TCP: after its timeout). close() completes both ends; pending calls fail.
 * - bytes are copied across, as over a wire: neither end sees the other's buffers.
 */
import { asapScheduler, firstValueFrom, type SchedulerLike } from 'rxjs';
import type {
  DatamoverConnection,
  InitiatorTaskBuffers,
  PortalAddress,
  SequenceSource,
  TargetTaskRef,
} from '../../protocol/datamover.js';
import type { Pdu, ScsiCommandPdu } from '../../protocol/pdu/index.js';
import { commandFinalBit, commandDataViolation } from '../../protocol/session/data-sequencing.js';
import { copyChunksInto, sliceChunks, totalLength } from '../../protocol/session/data-sequencing-chunks.js';
import type { NegotiatedParams, TransportKind } from '../../protocol/text/index.js';
import { TcpConnection, type TcpConnectionOptions } from '../../transports/tcp/connection.js';
import { TcpConnector } from '../../transports/tcp/connector.js';
import { TcpTransportError } from '../../transports/tcp/errors.js';
import { TcpListener } from '../../transports/tcp/listener.js';
import { RetiredTags } from '../../transports/common/retired-tags.js';
import { InboundPdus } from '../../transports/common/inbound-pdus.js';

/** Options of {@link createDatamoverPair}. */
export interface DatamoverPairOptions {
  /** Runs every delivery; default `asapScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** The `kind` both ends report; default 'tcp'. */
  readonly kind?: TransportKind;
  readonly initiatorAddress?: PortalAddress;
  readonly targetAddress?: PortalAddress;
}

/** Both ends of a connection. */
export interface DatamoverPair {
  readonly initiator: DatamoverConnection;
  readonly target: DatamoverConnection;
}

/** An in-memory pair, plus a way to break it as a network would. */
export interface MemoryDatamoverPair extends DatamoverPair {
  /** Fails both ends with ERR_TCP_CONNECTION_LOST (a reset connection). */
  sever(): void;
}

/** The values a fresh login negotiates when neither side asks for anything (RFC 7143 defaults), with overrides. */
export function defaultNegotiatedParams(overrides: Partial<NegotiatedParams> = {}): NegotiatedParams {
  return {
    sessionType: 'Normal',
    initiatorName: 'iqn.2024-01.test:initiator',
    initiatorAlias: undefined,
    targetName: 'iqn.2024-01.test:target',
    targetAlias: undefined,
    targetAddress: undefined,
    targetPortalGroupTag: 1,
    headerDigest: 'None',
    dataDigest: 'None',
    maxConnections: 1,
    initialR2T: true,
    immediateData: true,
    maxRecvDataSegmentLength: { initiator: 8192, target: 8192 },
    maxBurstLength: 262144,
    firstBurstLength: 65536,
    defaultTime2Wait: 2,
    defaultTime2Retain: 20,
    maxOutstandingR2T: 1,
    dataPduInOrder: true,
    dataSequenceInOrder: true,
    errorRecoveryLevel: 0,
    taskReporting: 'RFC3720',
    iscsiProtocolLevel: 1,
    rdmaExtensions: false,
    initiatorRecvDataSegmentLength: 8192,
    targetRecvDataSegmentLength: 8192,
    maxOutstandingUnexpectedPdus: { initiator: 0, target: 0 },
    maxAhsLength: 256,
    taggedBufferForSolicitedDataOnly: false,
    iserHelloRequired: false,
    nodeArchitecture: { initiator: undefined, target: undefined },
    ...overrides,
  };
}

/** Creates a connected in-memory initiator/target pair. */
export function createDatamoverPair(options: DatamoverPairOptions = {}): MemoryDatamoverPair {
  const scheduler = options.scheduler ?? asapScheduler;
  const kind = options.kind ?? 'tcp';
  const initiatorAddress = options.initiatorAddress ?? { host: '127.0.0.1', port: 50000 };
  const targetAddress = options.targetAddress ?? { host: '127.0.0.1', port: 3260 };
  const initiator = new MemoryInitiator(kind, initiatorAddress, targetAddress, scheduler);
  const target = new MemoryTarget(kind, targetAddress, initiatorAddress, scheduler);
  initiator.peer = target;
  target.peer = initiator;
  return {
    initiator,
    target,
    sever() {
      const lost = (): TcpTransportError =>
        new TcpTransportError('ERR_TCP_CONNECTION_LOST', 'the in-memory connection was severed');
      initiator.fail(lost(), false);
      target.fail(lost(), false);
    },
  };
}

/** Both ends of a real TCP connection on 127.0.0.1. */
export interface TcpPair {
  readonly initiator: TcpConnection;
  readonly target: TcpConnection;
  /** Closes both ends. */
  close(): Promise<void>;
}

/** Connects a TcpConnector to a TcpListener on 127.0.0.1 port 0 and returns both ends (the listener is closed). */
export async function connectPair(options: Omit<TcpConnectionOptions, 'role'> = {}): Promise<TcpPair> {
  const listener = await TcpListener.listen({ host: '127.0.0.1', port: 0 }, options);
  try {
    const accepted = firstValueFrom(listener.connections);
    const initiator = await new TcpConnector({ ...options, connectTimeoutMs: 5_000 }).connect(listener.address);
    const target = await accepted;
    return {
      initiator,
      target,
      async close() {
        await Promise.all([initiator.close(), target.close()]);
      },
    };
  } finally {
    await listener.close();
  }
}

/** A write the target fetches from the initiator (the simulated R2T + Data-Out exchange). */
interface DataRequest {
  readonly resolve: (chunks: Buffer[]) => void;
  readonly reject: (error: Error) => void;
}

abstract class MemoryEnd implements DatamoverConnection {
  abstract readonly peerEnd: MemoryEnd | undefined;
  protected params: NegotiatedParams | undefined;
  protected sequence: SequenceSource | undefined;
  protected closed = false;
  protected readonly inbound = new InboundPdus();
  readonly pdus = this.inbound.observable;

  constructor(
    readonly kind: TransportKind,
    readonly local: PortalAddress,
    readonly remote: PortalAddress,
    protected readonly scheduler: SchedulerLike,
    protected readonly role: 'initiator' | 'target',
  ) {}

  sendControl(pdu: Pdu): void {
    this.checkOpen();
    const allowed = this.role === 'initiator' ? INITIATOR_CONTROL.has(pdu.kind) : TARGET_CONTROL.has(pdu.kind);
    if (!allowed) {
      throw new TcpTransportError('ERR_TCP_USAGE', `sendControl cannot send ${pdu.kind} from the ${this.role}`);
    }
    const copy = copyPdu(pdu);
    this.deliver(this.peerEnd, (peer) => {
      peer.receivePdu(copy);
    });
  }

  sendCommand(_pdu: ScsiCommandPdu, _buffers: InitiatorTaskBuffers): void {
    throw this.wrongRole('sendCommand');
  }

  putData(_task: TargetTaskRef, _offset: number, _data: readonly Buffer[]): Promise<void> {
    return Promise.reject(this.wrongRole('putData'));
  }

  getData(_task: TargetTaskRef, _offset: number, _length: number): Promise<readonly Buffer[]> {
    return Promise.reject(this.wrongRole('getData'));
  }

  abstract taskDone(itt: number): void;

  enable(params: NegotiatedParams, sequence: SequenceSource): void {
    this.checkOpen();
    if (this.params !== undefined) throw new TcpTransportError('ERR_TCP_USAGE', 'enable() was already called');
    this.params = params;
    this.sequence = sequence;
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.failPending(new TcpTransportError('ERR_TCP_CLOSED', 'the connection was closed'));
      this.inbound.complete();
      this.deliver(this.peerEnd, (peer) => {
        peer.peerClosed();
      });
    }
    return Promise.resolve();
  }

  /** Fails this end (and, when `tellPeer`, closes the other end as a dropped TCP connection would). */
  fail(error: TcpTransportError, tellPeer = true): void {
    if (this.closed) return;
    this.closed = true;
    this.failPending(error);
    this.inbound.error(error);
    if (tellPeer) {
      this.deliver(this.peerEnd, (peer) => {
        peer.peerClosed();
      });
    }
  }

  protected abstract failPending(error: Error): void;

  protected receivePdu(pdu: Pdu): void {
    if (this.closed) return;
    if (!this.inbound.push(pdu)) {
      this.fail(new TcpTransportError('ERR_TCP_PROTOCOL', 'too many PDUs arrived before anyone subscribed'));
    }
  }

  private peerClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.failPending(new TcpTransportError('ERR_TCP_CLOSED', 'the peer closed the connection'));
    this.inbound.complete();
  }

  /** Runs `action` on the peer, in order, as a later scheduler action; dropped once the peer is closed. */
  protected deliver<P extends MemoryEnd>(peer: P | undefined, action: (peer: P) => void): void {
    if (peer === undefined) return;
    this.scheduler.schedule(() => {
      if (!peer.closed) action(peer);
    });
  }

  protected checkOpen(): void {
    if (this.closed) throw new TcpTransportError('ERR_TCP_CLOSED', 'the connection is closed');
  }

  protected enabledParams(): NegotiatedParams {
    this.checkOpen();
    if (this.params === undefined) {
      throw new TcpTransportError('ERR_TCP_NOT_ENABLED', 'data transfer before enable() (still in login)');
    }
    return this.params;
  }

  private wrongRole(method: string): TcpTransportError {
    return new TcpTransportError('ERR_TCP_ROLE', `${method} is not available on the ${this.role} end`);
  }
}

interface InitiatorTask {
  readonly buffers: InitiatorTaskBuffers;
  readonly writeLength: number;
}

class MemoryInitiator extends MemoryEnd {
  peer: MemoryTarget | undefined;
  private readonly tasks = new Map<number, InitiatorTask>();
  private readonly retired = new RetiredTags();

  constructor(kind: TransportKind, local: PortalAddress, remote: PortalAddress, scheduler: SchedulerLike) {
    super(kind, local, remote, scheduler, 'initiator');
  }

  get peerEnd(): MemoryTarget | undefined {
    return this.peer;
  }

  override sendCommand(pdu: ScsiCommandPdu, buffers: InitiatorTaskBuffers): void {
    const params = this.enabledParams();
    if (this.tasks.has(pdu.itt)) throw new TcpTransportError('ERR_TCP_USAGE', `ITT ${pdu.itt} is already in use`);
    const writeData = buffers.writeData ?? [];
    const writeLength = totalLength(writeData);
    const violation = commandDataViolation(params, pdu.expectedDataTransferLength, writeLength, buffers);
    if (violation !== undefined) throw new TcpTransportError('ERR_TCP_USAGE', violation);
    this.tasks.set(pdu.itt, { buffers, writeLength });
    this.retired.delete(pdu.itt);
    const { immediateLength, unsolicitedDataOutLength } = buffers;
    const command: ScsiCommandPdu = {
      ...pdu,
      final: commandFinalBit(buffers),
      data: copyChunks(sliceChunks(writeData, 0, immediateLength)),
    };
    const unsolicited = copyChunks(sliceChunks(writeData, immediateLength, unsolicitedDataOutLength));
    this.deliver(this.peer, (peer) => {
      peer.receiveCommand(command, unsolicited);
    });
  }

  taskDone(itt: number): void {
    if (this.tasks.delete(itt)) this.retired.add(itt);
  }

  protected failPending(): void {
    this.tasks.clear();
  }

  /** The target's putData: a Data-In sequence landing in `readBuffer`. */
  receiveDataIn(itt: number, offset: number, data: readonly Buffer[], done: () => void): void {
    const task = this.tasks.get(itt);
    const length = totalLength(data);
    const buffer = task?.buffers.readBuffer;
    if (task === undefined) {
      // As over TCP: data for a task finished a moment ago is dropped, for a task never seen it is an attack.
      if (this.retired.has(itt)) done();
      else this.fail(protocolError(`Data-In for unknown ITT ${itt}`));
      return;
    }
    if (buffer === undefined || offset + length > buffer.length) {
      this.fail(protocolError(`Data-In of ${length} bytes at ${offset} is outside the read buffer`));
      return;
    }
    copyChunksInto(data, buffer, offset);
    done();
  }

  /** The target's getData beyond the unsolicited part: an R2T answered from `writeData`. */
  receiveR2t(itt: number, offset: number, length: number, request: DataRequest): void {
    const task = this.tasks.get(itt);
    if (task === undefined) {
      // TCP drops the R2T and getData times out; here it fails at once.
      if (this.retired.has(itt)) {
        request.reject(new TcpTransportError('ERR_TCP_DATA_TIMEOUT', `the initiator has finished task ${itt}`));
      } else {
        this.fail(protocolError(`R2T for unknown ITT ${itt}`));
      }
      return;
    }
    if (offset + length > task.writeLength) {
      this.fail(protocolError(`R2T for ${length} bytes at ${offset} exceeds EDTL ${task.writeLength}`));
      return;
    }
    const data = copyChunks(sliceChunks(task.buffers.writeData ?? [], offset, length));
    this.deliver(this.peer, (peer) => {
      peer.receiveDataOut(request, data);
    });
  }
}

interface TargetTask {
  readonly edtl: number;
  /** Immediate data followed by unsolicited Data-Out, from offset 0. */
  readonly unsolicited: readonly Buffer[];
  readonly unsolicitedLength: number;
  readonly requests: Set<DataRequest>;
}

class MemoryTarget extends MemoryEnd {
  peer: MemoryInitiator | undefined;
  private readonly tasks = new Map<number, TargetTask>();

  constructor(kind: TransportKind, local: PortalAddress, remote: PortalAddress, scheduler: SchedulerLike) {
    super(kind, local, remote, scheduler, 'target');
  }

  get peerEnd(): MemoryInitiator | undefined {
    return this.peer;
  }

  receiveCommand(command: ScsiCommandPdu, unsolicitedDataOut: readonly Buffer[]): void {
    // As over TCP: a command reusing a live ITT goes to the core (which rejects it); the live task keeps its state.
    if (this.tasks.has(command.itt)) {
      this.receivePdu(command);
      return;
    }
    const unsolicited = [...command.data, ...unsolicitedDataOut];
    this.tasks.set(command.itt, {
      edtl: command.expectedDataTransferLength,
      unsolicited,
      unsolicitedLength: totalLength(unsolicited),
      requests: new Set(),
    });
    this.receivePdu(command);
  }

  receiveDataOut(request: DataRequest, data: Buffer[]): void {
    request.resolve(data);
  }

  override putData(task: TargetTaskRef, offset: number, data: readonly Buffer[]): Promise<void> {
    try {
      this.enabledParams();
      this.knownTask(task.itt);
      checkRange(offset, totalLength(data));
    } catch (err) {
      return rejection(err);
    }
    const copied = copyChunks(data);
    return new Promise<void>((resolve, reject) => {
      const request: DataRequest = {
        resolve: () => {
          resolve();
        },
        reject,
      };
      this.tasks.get(task.itt)?.requests.add(request);
      this.deliver(this.peer, (peer) => {
        peer.receiveDataIn(task.itt, offset, copied, () => {
          this.tasks.get(task.itt)?.requests.delete(request);
          resolve();
        });
      });
    });
  }

  override getData(task: TargetTaskRef, offset: number, length: number): Promise<readonly Buffer[]> {
    let state: TargetTask;
    try {
      this.enabledParams();
      state = this.knownTask(task.itt);
      checkRange(offset, length);
      if (offset + length > state.edtl) {
        throw new TcpTransportError('ERR_TCP_USAGE', `getData(${offset}, ${length}) exceeds EDTL ${state.edtl}`);
      }
    } catch (err) {
      return rejection(err);
    }
    const fromUnsolicited = Math.max(0, Math.min(offset + length, state.unsolicitedLength) - offset);
    const head = copyChunks(sliceChunks(state.unsolicited, offset, fromUnsolicited));
    if (fromUnsolicited === length) return Promise.resolve(head);
    return new Promise<readonly Buffer[]>((resolve, reject) => {
      const request: DataRequest = {
        resolve: (chunks) => {
          state.requests.delete(request);
          resolve([...head, ...chunks]);
        },
        reject,
      };
      state.requests.add(request);
      this.deliver(this.peer, (peer) => {
        peer.receiveR2t(task.itt, offset + fromUnsolicited, length - fromUnsolicited, request);
      });
    });
  }

  taskDone(itt: number): void {
    const task = this.tasks.get(itt);
    if (task === undefined) return;
    this.tasks.delete(itt);
    const error = new TcpTransportError('ERR_TCP_TASK_DONE', `task ${itt} finished while its data was awaited`);
    for (const request of task.requests) request.reject(error);
  }

  protected failPending(error: Error): void {
    for (const task of this.tasks.values()) for (const request of task.requests) request.reject(error);
    this.tasks.clear();
  }

  private knownTask(itt: number): TargetTask {
    const task = this.tasks.get(itt);
    if (task === undefined) throw new TcpTransportError('ERR_TCP_USAGE', `no task with ITT ${itt}`);
    return task;
  }
}

const INITIATOR_CONTROL: ReadonlySet<Pdu['kind']> = new Set([
  'nop-out',
  'task-management-request',
  'login-request',
  'text-request',
  'logout-request',
  'snack-request',
]);

const TARGET_CONTROL: ReadonlySet<Pdu['kind']> = new Set([
  'nop-in',
  'scsi-response',
  'task-management-response',
  'login-response',
  'text-response',
  'logout-response',
  'async-message',
  'reject',
]);

function rejection(err: unknown): Promise<never> {
  return Promise.reject(err instanceof Error ? err : new Error(String(err)));
}

function protocolError(message: string): TcpTransportError {
  return new TcpTransportError('ERR_TCP_PROTOCOL', message);
}

function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new TcpTransportError('ERR_TCP_USAGE', `bad range (${offset}, ${length})`);
  }
}

function copyChunks(chunks: readonly Buffer[]): Buffer[] {
  const total = totalLength(chunks);
  if (total === 0) return [];
  const out = Buffer.allocUnsafe(total);
  copyChunksInto(chunks, out, 0);
  return [out];
}

/** A PDU as the peer would decode it: its data segment copied. */
function copyPdu(pdu: Pdu): Pdu {
  return 'data' in pdu ? { ...pdu, data: copyChunks(pdu.data) } : { ...pdu };
}
