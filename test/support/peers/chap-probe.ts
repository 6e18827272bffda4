/**
 * A minimal CHAP login probe (RFC 7143 §12.1.3, RFC 1994) built on our PDU and text codecs: it offers a CHAP_A
 * list, answers the challenge with a hash of our choosing, and reports what the target chose and whether it
 * accepted. It exists to pin down peer quirks on the wire, e.g. that tgt 1.0.85 means SHA-1 by CHAP_A=7 where
 * RFC 7143 (via the IANA PPP registry) and libiscsi/open-iscsi/LIO mean SHA-256.
 *
 * Not an initiator: security stage only, one connection, no operational keys. Loopback only.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';
import { BHS_LENGTH } from '../../../protocol/pdu/constants.js';
import { decodePdu } from '../../../protocol/pdu/decode.js';
import { encodePdu } from '../../../protocol/pdu/encode.js';
import { IsidType } from '../../../protocol/pdu/isid.js';
import { LoginStage, type LoginRequestPdu, type LoginResponsePdu } from '../../../protocol/pdu/login.js';
import { decodeText, encodeText, type TextPair } from '../../../protocol/text/codec.js';
import { PeerError, PeerErrorCode } from './errors.js';
import { assertLoopback } from './free-port.js';

/** Hashes a CHAP response can be computed with (node:crypto names). */
export type ChapHash = 'md5' | 'sha1' | 'sha256' | 'sha3-256';

/** What RFC 7143 and the IANA PPP authentication-algorithm registry mean by each CHAP_A value. */
export const RFC_CHAP_ALGORITHMS: Readonly<Record<string, ChapHash>> = {
  5: 'md5',
  6: 'sha1',
  7: 'sha256',
  8: 'sha3-256',
};

/** Options of {@link probeChap}. */
export interface ChapProbeOptions {
  readonly host: string;
  readonly port: number;
  readonly targetName: string;
  readonly initiatorName?: string;
  /** The CHAP_A value list to offer, e.g. `7` or `8,7,6,5`. */
  readonly offer: string;
  readonly user: string;
  readonly secret: string;
  /** The hash to answer with; `rfc` = what RFC 7143 means by the CHAP_A the target chose. */
  readonly respondWith: ChapHash | 'rfc';
  /** Bound on the whole exchange; default 5 s. */
  readonly timeoutMs?: number;
}

/** What the probe saw. */
export interface ChapProbeResult {
  /** The CHAP_A value the target chose, when it got as far as a challenge. */
  readonly chosen: string | undefined;
  /** Length of the target's challenge in bytes. */
  readonly challengeBytes: number | undefined;
  /** Login status (class << 8 | detail) of the last response. */
  readonly status: number;
  /** True when the target accepted our CHAP_R and let us leave the security stage. */
  readonly accepted: boolean;
  /** Keys of the last response, for the record. */
  readonly lastKeys: readonly TextPair[];
}

/** Runs the CHAP exchange once against `host:port` and reports the target's choices. */
export async function probeChap(opts: ChapProbeOptions): Promise<ChapProbeResult> {
  assertLoopback(opts.host);
  const conn = await LoginConnection.open(opts.host, opts.port, opts.timeoutMs ?? 5000);
  try {
    const first = await conn.exchange(false, [
      { key: 'InitiatorName', value: opts.initiatorName ?? 'iqn.2024-01.org.iser-test:chap-probe' },
      { key: 'SessionType', value: 'Normal' },
      { key: 'TargetName', value: opts.targetName },
      { key: 'AuthMethod', value: 'CHAP' },
    ]);
    if (first.status !== 0) return { chosen: undefined, challengeBytes: undefined, ...first, accepted: false };
    if (valueOf(first.lastKeys, 'AuthMethod') !== 'CHAP') {
      throw new PeerError(PeerErrorCode.Parse, `target did not choose CHAP: ${JSON.stringify(first.lastKeys)}`);
    }
    const offered = await conn.exchange(false, [{ key: 'CHAP_A', value: opts.offer }]);
    const chosen = valueOf(offered.lastKeys, 'CHAP_A');
    const id = valueOf(offered.lastKeys, 'CHAP_I');
    const challenge = valueOf(offered.lastKeys, 'CHAP_C');
    if (offered.status !== 0 || chosen === undefined || id === undefined || challenge === undefined) {
      return { chosen, challengeBytes: undefined, ...offered, accepted: false };
    }
    const challengeBytes = decodeBinary(challenge);
    const hash = opts.respondWith === 'rfc' ? RFC_CHAP_ALGORITHMS[chosen] : opts.respondWith;
    if (hash === undefined) throw new PeerError(PeerErrorCode.Parse, `no RFC hash for CHAP_A=${chosen}`);
    const response = createHash(hash)
      .update(Buffer.from([Number(id) & 0xff]))
      .update(opts.secret, 'utf8')
      .update(challengeBytes)
      .digest('hex');
    const answered = await conn.exchange(true, [
      { key: 'CHAP_N', value: opts.user },
      { key: 'CHAP_R', value: `0x${response}` },
    ]);
    return { chosen, challengeBytes: challengeBytes.length, ...answered, accepted: answered.status === 0 };
  } finally {
    conn.close();
  }
}

function valueOf(pairs: readonly TextPair[], key: string): string | undefined {
  return pairs.find((p) => p.key === key)?.value;
}

/** Decodes an RFC 7143 §6.1 binary value: `0x` hex or `0b` base64. */
function decodeBinary(value: string): Buffer {
  if (/^0x/i.test(value)) return Buffer.from(value.slice(2), 'hex');
  if (/^0b/i.test(value)) return Buffer.from(value.slice(2), 'base64');
  throw new PeerError(PeerErrorCode.Parse, `CHAP_C ${value.slice(0, 20)} is neither 0x nor 0b`);
}

/** One TCP connection in the security stage: sends Login Requests, reads Login Responses, all bounded. */
class LoginConnection {
  private buffered = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private closedWith: Error | undefined;
  private expStatSN = 0;
  private readonly isid = { type: IsidType.Random, a: 0, b: randomBytes(2).readUInt16BE(), c: 0, d: 1 };

  private constructor(
    private readonly socket: Socket,
    private readonly deadline: number,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.waiter?.();
    });
    const end = (e?: Error): void => {
      this.closedWith ??= e ?? new PeerError(PeerErrorCode.Exit, 'target closed the connection');
      this.waiter?.();
    };
    socket.on('error', end);
    socket.on('close', () => {
      end();
    });
  }

  static open(host: string, port: number, timeoutMs: number): Promise<LoginConnection> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new PeerError(PeerErrorCode.Timeout, `connect to ${host}:${port} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new LoginConnection(socket, performance.now() + timeoutMs));
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(new PeerError(PeerErrorCode.Exit, `connect to ${host}:${port}: ${e.message}`, { cause: e }));
      });
    });
  }

  /** Sends one Login Request in the security stage and returns the response's status and keys. */
  async exchange(
    transit: boolean,
    pairs: readonly TextPair[],
  ): Promise<{ readonly status: number; readonly lastKeys: readonly TextPair[] }> {
    const request: LoginRequestPdu = {
      kind: 'login-request',
      transit,
      continue: false,
      currentStage: LoginStage.SecurityNegotiation,
      nextStage: transit ? LoginStage.LoginOperationalNegotiation : LoginStage.SecurityNegotiation,
      versionMax: 0,
      versionMin: 0,
      isid: this.isid,
      tsih: 0,
      itt: 1,
      cid: 0,
      cmdSN: 1,
      expStatSN: this.expStatSN,
      data: [encodeText(pairs)],
    };
    this.socket.write(Buffer.concat(encodePdu(request)));
    const response = await this.readLoginResponse();
    this.expStatSN = (response.statSN + 1) >>> 0;
    const status = (response.statusClass << 8) | response.statusDetail;
    return { status, lastKeys: decodeText(response.data) };
  }

  private async readLoginResponse(): Promise<LoginResponsePdu> {
    // Digests are off during login, so a PDU is BHS + data padded to 4 bytes.
    const header = await this.take(BHS_LENGTH);
    const dataLength = header.readUIntBE(5, 3);
    const padded = await this.take((dataLength + 3) & ~3);
    const pdu = decodePdu(header, [padded.subarray(0, dataLength)]);
    if (pdu.kind !== 'login-response')
      throw new PeerError(PeerErrorCode.Parse, `expected a Login Response, got ${pdu.kind}`);
    return pdu;
  }

  private async take(n: number): Promise<Buffer> {
    // Each wake-up is a 'data', 'close' or timer event; the deadline bounds the wait as a whole.
    while (this.buffered.length < n) {
      if (this.closedWith !== undefined) throw this.closedWith;
      const left = this.deadline - performance.now();
      if (left <= 0) throw new PeerError(PeerErrorCode.Timeout, 'no Login Response in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }

  close(): void {
    this.socket.destroy();
  }
}
