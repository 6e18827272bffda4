/** An iSER pair on the fabric with a tap on both providers, inboxes on both ends and a login helper. */
import type { SimFabric, SimFabricOptions } from '../../../sim/fabric/index.js';
import {
  decodeIserMessage,
  decodePdu,
  splitIserControlPdu,
  type IserControlHeader,
  type Pdu,
} from '../../../protocol/pdu/index.js';
import type { NegotiatedParams } from '../../../protocol/text/index.js';
import { defaultNegotiatedParams } from '../../support/datamover-pair.js';
import { fixedSequence, loginRequest, loginResponse, PduInbox } from '../datamover-support.js';
import { connectIser, fabricWorld, iserParams, type IserEnv, type IserPairOptions } from './env.js';
import { VerbsTap, type TappedSend } from './tap.js';

/** Everything an iSER test on the fabric needs. */
export interface IserHarness {
  readonly env: IserEnv;
  readonly fabric: SimFabric;
  readonly tap: VerbsTap;
  /** PDUs the initiator received (from the target). */
  readonly fromTarget: PduInbox;
  /** PDUs the target received (from the initiator). */
  readonly fromInitiator: PduInbox;
  run<T>(work: Promise<T>): Promise<T>;
  /** Logs in with one Login Request/Response and enables both ends with `params`. */
  logIn(params?: NegotiatedParams): Promise<NegotiatedParams>;
  close(): Promise<void>;
}

/** Builds the harness. */
export async function iserHarness(
  options: { readonly fabric?: Partial<Omit<SimFabricOptions, 'scheduler'>> } & Omit<IserPairOptions, 'tap'> = {},
): Promise<IserHarness> {
  const world = fabricWorld(options.fabric);
  const tap = new VerbsTap();
  const env = await connectIser(world, { ...options, tap });
  const fromTarget = new PduInbox(env.initiator.pdus);
  const fromInitiator = new PduInbox(env.target.pdus);
  const run = <T>(work: Promise<T>): Promise<T> => env.run(work);
  return {
    env,
    fabric: world.fabric,
    tap,
    fromTarget,
    fromInitiator,
    run,
    async logIn(params = iserParams(defaultNegotiatedParams())) {
      env.initiator.sendControl(loginRequest(0x4000, 'InitiatorName=iqn.2024-01.test:i\0', true));
      const request = await run(fromInitiator.nextOf('login-request'));
      env.target.sendControl(loginResponse(request.itt, 'TargetPortalGroupTag=1\0', true));
      env.target.enable(params, fixedSequence);
      await run(fromTarget.nextOf('login-response'));
      env.initiator.enable(params, fixedSequence);
      return params;
    },
    async close() {
      fromTarget.dispose();
      fromInitiator.dispose();
      await env.close();
    },
  };
}

/** A tapped Send, decoded. */
export interface DecodedSend {
  readonly flags: number;
  readonly iser: IserControlHeader;
  readonly pdu: Pdu;
  /** Bytes the Send carried. */
  readonly length: number;
  /** The 28 iSER header bytes as sent. */
  readonly header: Buffer;
  readonly tapped: TappedSend;
}

/** Decodes a tapped Send (iSER header + BHS + AHS + data, nothing else). */
export function decodeSend(tapped: TappedSend): DecodedSend {
  const bytes = tapped.bytes;
  const iser = decodeIserMessage(bytes);
  if (iser.kind !== 'control') throw new Error(`not a control PDU: ${iser.kind}`);
  const split = splitIserControlPdu(bytes);
  return {
    flags: bytes[0] ?? 0,
    iser,
    pdu: decodePdu(split.header, split.data),
    length: bytes.length,
    header: bytes.subarray(0, 28),
    tapped,
  };
}

/** iSER params with overrides applied first (per-side limits become the RDSL keys). */
export function iserParamsWith(overrides: Partial<NegotiatedParams>): NegotiatedParams {
  return iserParams(defaultNegotiatedParams(overrides));
}
