/**
 * Soft-RoCE over real UDP (node:dgram), IPv4 or IPv6, on loopback or any local address: one socket per attached
 * endpoint, bound to its address and port 4791 (or an ephemeral port when 4791 is taken, e.g. by another
 * endpoint of this machine or by kernel rxe).
 *
 * RoCEv2's ICRC covers the IPv4 header including its Identification field, which the kernel chooses. It is 0
 * only for an unconnected socket with IP_MTU_DISCOVER = IP_PMTUDISC_DO (roce-rxe.md §3.9), a socket option
 * Node does not expose: pass `setsockoptInt` (the native addon's) to have it set, and UDP_NO_CHECK6_RX on IPv6
 * sockets so rxe's zero UDP checksums are accepted. Without it, traffic between our own endpoints still checks
 * out (both sides compute the ICRC over ID 0, and the receiver never sees the real ID), but rxe would drop ours.
 */
import { createSocket, type Socket } from 'node:dgram';
import { RoceError } from '../errors.js';
import type { RoceDatagram, RoceLink, RoceLinkEndpoint } from './link.js';
import { canonicalIp, ipVersionOf, ROCE_PORT } from './link.js';
import type { PcapTap } from './pcap-tap.js';

/** Linux socket option numbers the link may set (kernel ABI). */
export const SocketOption = {
  SOL_SOCKET: 1,
  SO_NO_CHECK: 11,
  IPPROTO_IP: 0,
  IPPROTO_UDP: 17,
  IP_MTU_DISCOVER: 10,
  IP_PMTUDISC_DO: 2,
  UDP_NO_CHECK6_RX: 102,
} as const;

/** `setsockopt(fd, level, name, &int, sizeof int)`, e.g. the native addon's. */
export type SetSockoptInt = (fd: number, level: number, name: number, value: number) => void;

/** Options of a UDP link. */
export interface UdpLinkOptions {
  /** Port to bind and to send to; default 4791. */
  readonly port?: number;
  /** When the port is taken, bind an ephemeral one instead (peers on this link learn it); default true. */
  readonly fallbackToEphemeral?: boolean;
  /** Ports of peers that are not on this link and not on 4791 (e.g. another process's endpoint on `::1`). */
  readonly peerPorts?: ReadonlyMap<string, number>;
  /**
   * Sets IP_MTU_DISCOVER = IP_PMTUDISC_DO and SO_NO_CHECK (IPv4: ID 0 and a zero UDP checksum, as rxe sends) or
   * UDP_NO_CHECK6_RX (IPv6) on each socket.
   */
  readonly setsockoptInt?: SetSockoptInt;
  /** Socket buffer sizes (the kernel caps them at net.core.rmem_max / wmem_max); default 4 MiB. */
  readonly bufferBytes?: number;
  /**
   * `bound` (default): every datagram leaves from the bound port. `entropy`: from the source port the sender asks for
   * (rxe's per-QP 0xC000 + hash port), through a send socket bound to it, opened on first use (at most
   * {@link MAX_SOURCE_SOCKETS} per endpoint; until it is bound, or if the port is taken, the bound port is used).
   * The receiver ignores source ports; this makes our packets look like rxe's on the wire.
   */
  readonly sourcePorts?: 'bound' | 'entropy';
  /** Captures every datagram sent by an endpoint of this link. */
  readonly tap?: PcapTap;
  /** Also captures every datagram received (useful when the peer is not on this link, e.g. kernel rxe). */
  readonly captureReceived?: boolean;
}

/** What a UDP link did, in total. */
export interface UdpLinkStats {
  sent: number;
  received: number;
  /** Sends the kernel refused (e.g. ENOBUFS): the datagram is lost, RC recovers. */
  sendErrors: number;
}

/** Send sockets one endpoint may open for source-port entropy. */
export const MAX_SOURCE_SOCKETS = 64;

/** The file descriptor of a dgram socket (a private Node field; reading it warns DEP0112 once). */
function socketFd(socket: Socket): number | undefined {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  return typeof handle?.fd === 'number' && handle.fd >= 0 ? handle.fd : undefined;
}

function bind(socket: Socket, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      reject(error);
    };
    socket.once('error', onError);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

/** RoCEv2 over node:dgram. */
export class UdpLink implements RoceLink {
  /** Totals since creation. */
  readonly stats: UdpLinkStats = { sent: 0, received: 0, sendErrors: 0 };
  readonly #options: UdpLinkOptions;
  /** Ports of the endpoints attached here, by address, so they reach each other off 4791. */
  readonly #localPorts = new Map<string, number>();
  /** Senders' addresses as received → canonical text. */
  readonly #canonicalCache = new Map<string, string>();

  /** A link; sockets are opened by {@link UdpLink.attach}. */
  constructor(options: UdpLinkOptions = {}) {
    this.#options = options;
  }

  async attach(ip: string, receive: (datagram: RoceDatagram) => void): Promise<RoceLinkEndpoint> {
    const address = canonicalIp(ip);
    const version = ipVersionOf(address);
    const wanted = this.#options.port ?? ROCE_PORT;
    const open = async (port: number): Promise<Socket> => {
      const bytes = this.#options.bufferBytes ?? 4 * 1024 * 1024;
      const socket = createSocket({
        type: version === 4 ? 'udp4' : 'udp6',
        ipv6Only: version === 6,
        recvBufferSize: bytes,
        sendBufferSize: bytes,
      });
      try {
        await bind(socket, address, port);
        return socket;
      } catch (error) {
        socket.close();
        throw error;
      }
    };
    let socket: Socket;
    try {
      socket = await open(wanted);
    } catch (error) {
      const inUse = (error as { code?: unknown }).code === 'EADDRINUSE';
      if (!inUse || this.#options.fallbackToEphemeral === false) {
        throw new RoceError('ERR_SOFTROCE_LINK', `cannot bind UDP ${address}:${wanted}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      socket = await open(0);
    }
    this.#configure(socket, version);
    const port = socket.address().port;
    this.#localPorts.set(address, port);
    const tap = this.#options.tap;
    const captureReceived = this.#options.captureReceived === true;
    const onMessage = (payload: Buffer, rinfo: { address: string; port: number }): void => {
      this.stats.received++;
      const datagram: RoceDatagram = {
        srcIp: this.#canonical(rinfo.address),
        srcPort: rinfo.port,
        dstIp: address,
        dstPort: port,
        payload,
      };
      if (captureReceived) tap?.record(datagram);
      receive(datagram);
    };
    socket.on('message', onMessage);
    // A datagram socket reports ICMP errors of earlier sends here; RC recovers from the loss.
    socket.on('error', () => {
      this.stats.sendErrors++;
    });
    let closed = false;
    // Source-port entropy: send sockets by port (undefined while binding, or when the port could not be had).
    const senders = new Map<number, Socket | undefined>();
    const entropy = this.#options.sourcePorts === 'entropy';
    const sender = (preferred: number): Socket | undefined => {
      if (!entropy || preferred === port) return undefined;
      if (senders.has(preferred)) return senders.get(preferred);
      if (senders.size >= MAX_SOURCE_SOCKETS) return undefined;
      senders.set(preferred, undefined);
      open(preferred).then(
        (opened) => {
          if (closed) {
            opened.close();
            return;
          }
          try {
            this.#configure(opened, version);
          } catch {
            opened.close();
            return;
          }
          // A peer answering to the source port still reaches us.
          opened.on('message', onMessage);
          opened.on('error', () => {
            this.stats.sendErrors++;
          });
          senders.set(preferred, opened);
        },
        () => undefined, // taken: the bound port it is
      );
      return undefined;
    };
    return {
      ip: address,
      port,
      sourcePort: (preferred) => (sender(preferred) === undefined ? port : preferred),
      destinationPort: (peer) => this.#options.peerPorts?.get(peer) ?? this.#localPorts.get(peer) ?? wanted,
      send: (datagram) => {
        if (closed) return;
        this.stats.sent++;
        tap?.record(datagram);
        const from = datagram.srcPort === port ? socket : (senders.get(datagram.srcPort) ?? socket);
        from.send(datagram.payload, datagram.dstPort, datagram.dstIp, (error) => {
          if (error !== null) this.stats.sendErrors++;
        });
      },
      close: () => {
        if (closed) return Promise.resolve();
        closed = true;
        if (this.#localPorts.get(address) === port) this.#localPorts.delete(address);
        const sockets = [socket, ...[...senders.values()].filter((s): s is Socket => s !== undefined)];
        senders.clear();
        return Promise.all(
          sockets.map(
            (s) =>
              new Promise<void>((resolve) => {
                s.close(() => {
                  resolve();
                });
              }),
          ),
        ).then(() => undefined);
      },
    };
  }

  /** The canonical form of a sender's address (cached: parsing it for every datagram costs). */
  #canonical(address: string): string {
    let canonical = this.#canonicalCache.get(address);
    if (canonical === undefined) {
      canonical = canonicalIp(address);
      if (this.#canonicalCache.size >= 1024) this.#canonicalCache.clear();
      this.#canonicalCache.set(address, canonical);
    }
    return canonical;
  }

  #configure(socket: Socket, version: 4 | 6): void {
    const set = this.#options.setsockoptInt;
    if (set === undefined) return;
    const fd = socketFd(socket);
    if (fd === undefined) throw new RoceError('ERR_SOFTROCE_LINK', 'no file descriptor on the UDP socket');
    if (version === 4) {
      set(fd, SocketOption.IPPROTO_IP, SocketOption.IP_MTU_DISCOVER, SocketOption.IP_PMTUDISC_DO);
      // rxe sends a zero UDP checksum (the ICRC protects the packet); the UDP header looks the same from us.
      set(fd, SocketOption.SOL_SOCKET, SocketOption.SO_NO_CHECK, 1);
    } else {
      set(fd, SocketOption.IPPROTO_UDP, SocketOption.UDP_NO_CHECK6_RX, 1);
    }
  }
}
