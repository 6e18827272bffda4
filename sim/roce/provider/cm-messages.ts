/**
 * The REQ and REP a soft-RoCE device sends, filled in the way Linux rdma_cm and ib_cm fill them over RoCE:
 * permissive LIDs, IPv4-mapped GIDs, hop limit 64, the rdma_cm IP header in front of the REQ's private data,
 * our local CA GUID (an EUI-64 from the MAC our address maps to).
 */
import { PERMISSIVE_LID } from '../cm-path.js';
import type { CmRep } from '../cm-rep.js';
import { CmTransportServiceType, type CmReq } from '../cm-req.js';
import { encodeRdmaCmReqPrivateData, rdmaCmServiceId } from '../cma-header.js';
import { DEFAULT_PKEY } from '../bth.js';
import { gidFromIp } from '../ip-address.js';
import { ibMtuEnum, type PathMtu } from '../rc/attributes.js';
import { cmAckTimeout, type CmTimings } from '../cm/cm-timing.js';
import { ipVersionOf } from '../link/link.js';
import { macFor } from '../../trace/ethernet.js';

/** rxe's `local_ca_ack_delay`, sent as the REP's target ACK delay. */
export const RXE_LOCAL_CA_ACK_DELAY = 15;

/** The CA GUID of a device at `ip`: the EUI-64 of the MAC it is given (02:00 + the address's last 4 bytes). */
export function caGuidFor(ip: string): bigint {
  const mac = macFor(ip);
  const eui = Buffer.from([
    (mac[0] ?? 0) ^ 0x02,
    mac[1] ?? 0,
    mac[2] ?? 0,
    0xff,
    0xfe,
    mac[3] ?? 0,
    mac[4] ?? 0,
    mac[5] ?? 0,
  ]);
  return eui.readBigUInt64BE(0);
}

/** What the active side puts in its REQ. */
export interface ReqParameters {
  readonly localCommId: number;
  readonly localIp: string;
  readonly remoteIp: string;
  /** The rdma_cm port we connect from (in the cma header). */
  readonly localPort: number;
  /** The port we connect to (the service ID). */
  readonly remotePort: number;
  readonly qpn: number;
  readonly startingPsn: number;
  readonly responderResources: number;
  readonly initiatorDepth: number;
  readonly retryCount: number;
  readonly rnrRetryCount: number;
  readonly mtu: PathMtu;
  readonly timings: CmTimings;
  /** The consumer's private data (at most 56 bytes). */
  readonly privateData: Buffer;
}

/** The REQ rdma_cm would send. */
export function buildReq(p: ReqParameters): CmReq {
  const version = ipVersionOf(p.localIp);
  return {
    kind: 'REQ',
    localCommId: p.localCommId,
    vendorId: 0,
    serviceId: rdmaCmServiceId(p.remotePort),
    localCaGuid: caGuidFor(p.localIp),
    localQkey: 0,
    localQpn: p.qpn,
    responderResources: p.responderResources,
    localEecn: 0,
    initiatorDepth: p.initiatorDepth,
    remoteEecn: 0,
    remoteCmResponseTimeout: p.timings.responseTimeout,
    transportServiceType: CmTransportServiceType.RC,
    endToEndFlowControl: true,
    startingPsn: p.startingPsn,
    localCmResponseTimeout: p.timings.responseTimeout,
    retryCount: p.retryCount,
    pkey: DEFAULT_PKEY,
    pathMtu: ibMtuEnum(p.mtu),
    rdcExists: false,
    rnrRetryCount: p.rnrRetryCount,
    maxCmRetries: p.timings.maxRetries,
    srq: false,
    extendedTransportType: 0,
    primaryPath: {
      localLid: PERMISSIVE_LID,
      remoteLid: PERMISSIVE_LID,
      localGid: gidFromIp(p.localIp, version),
      remoteGid: gidFromIp(p.remoteIp, version),
      flowLabel: 0,
      packetRate: 3,
      trafficClass: 0,
      hopLimit: 64,
      sl: 0,
      subnetLocal: false,
      // What rdma_cm asks for, not our own QP's timeout: the passive side's QP uses it (kernel rxe under load
      // retried RDMA READs every 67 ms with 14).
      localAckTimeout: cmAckTimeout(RXE_LOCAL_CA_ACK_DELAY, p.timings.packetLifetime),
    },
    sapSupported: false,
    privateData: encodeRdmaCmReqPrivateData(
      { ipVersion: version, srcPort: p.localPort, srcAddr: p.localIp, dstAddr: p.remoteIp },
      p.privateData,
    ),
  };
}

/** What the passive side puts in its REP. */
export interface RepParameters {
  readonly localCommId: number;
  readonly remoteCommId: number;
  readonly localIp: string;
  readonly qpn: number;
  readonly startingPsn: number;
  readonly responderResources: number;
  readonly initiatorDepth: number;
  readonly rnrRetryCount: number;
  readonly privateData: Buffer;
}

/** The REP rdma_cm would send. */
export function buildRep(p: RepParameters): CmRep {
  return {
    kind: 'REP',
    localCommId: p.localCommId,
    remoteCommId: p.remoteCommId,
    localQkey: 0,
    localQpn: p.qpn,
    vendorId: 0,
    localEecn: 0,
    startingPsn: p.startingPsn,
    responderResources: p.responderResources,
    initiatorDepth: p.initiatorDepth,
    targetAckDelay: RXE_LOCAL_CA_ACK_DELAY,
    failoverAccepted: 0,
    endToEndFlowControl: true,
    rnrRetryCount: p.rnrRetryCount,
    srq: false,
    localCaGuid: caGuidFor(p.localIp),
    privateData: p.privateData,
  };
}
