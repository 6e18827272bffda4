import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NegotiationConfig } from '../../../protocol/text/config.js';
import type { Digest, NegotiatedParams } from '../../../protocol/text/params.js';
import {
  arbInitiatorConfig,
  arbTargetConfig,
  arbTransport,
  simulatedParams,
  simulateLogin,
  type LoginSide,
} from '../../support/arbitraries/text.js';

/** RFC 7143 §6.2.1, written independently of the implementation. */
function firstAcceptable<T extends string>(offered: readonly T[], acceptable: readonly string[]): T | undefined {
  for (const value of offered) if (acceptable.includes(value)) return value;
  return undefined;
}

/**
 * What RFC 7143 §6 / §13 and RFC 7145 §6 say the outcome must be, computed from the two configs alone with the
 * RFC defaults, and the offer sets our negotiators use (the initiator offers the usual set; the target originates
 * only what differs from the default).
 */
function expected(ini: LoginSide, tgt: LoginSide): Partial<NegotiatedParams> {
  const i: NegotiationConfig = ini.config;
  const t: NegotiationConfig = tgt.config;
  const discovery = i.sessionType === 'Discovery';
  const rdma = !discovery && ini.transport === 'iser' && tgt.transport === 'iser';
  const firstBurst = (c: NegotiationConfig): number =>
    c.firstBurstLength ?? Math.min(65536, c.maxBurstLength ?? 262144);
  const digest = (pick: (c: NegotiationConfig) => readonly Digest[] | undefined): Digest => {
    if (rdma) return 'None';
    const iList: readonly Digest[] = pick(i) ?? ['None'];
    const tList: readonly Digest[] = pick(t) ?? ['None'];
    if (ini.transport === 'tcp') return firstAcceptable(iList, tList) ?? 'None';
    // An initiator on an iSER transport leaves digests unsaid; a target that wants them originates the key.
    return tList.join(',') === 'None' ? 'None' : (firstAcceptable(tList, iList) ?? 'None');
  };
  // In discovery sessions the initiator does not offer these; the target does when its value is not the default.
  const discoveryOrNormal = (
    value: number | undefined,
    other: number | undefined,
    dflt: number,
    f: (a: number, b: number) => number,
  ): number =>
    discovery ? ((value ?? dflt) === dflt ? dflt : f(value ?? dflt, other ?? dflt)) : f(other ?? dflt, value ?? dflt);

  const common = {
    sessionType: discovery ? 'Discovery' : 'Normal',
    initiatorName: i.initiatorName,
    initiatorAlias: i.initiatorAlias,
    targetName: discovery ? undefined : i.targetName,
    targetAlias: t.targetAlias,
    targetPortalGroupTag: t.targetPortalGroupTag,
    headerDigest: digest((c) => c.headerDigest),
    dataDigest: digest((c) => c.dataDigest),
    defaultTime2Wait: discoveryOrNormal(t.defaultTime2Wait, i.defaultTime2Wait, 2, Math.max),
    defaultTime2Retain: discoveryOrNormal(t.defaultTime2Retain, i.defaultTime2Retain, 20, Math.min),
    errorRecoveryLevel: discoveryOrNormal(t.errorRecoveryLevel, i.errorRecoveryLevel, 0, Math.min),
    rdmaExtensions: rdma,
    maxRecvDataSegmentLength: rdma
      ? {
          initiator: Math.min(i.initiatorRecvDataSegmentLength ?? 8192, t.initiatorRecvDataSegmentLength ?? 8192),
          target: Math.min(i.targetRecvDataSegmentLength ?? 8192, t.targetRecvDataSegmentLength ?? 8192),
        }
      : {
          initiator: i.maxRecvDataSegmentLength ?? 8192,
          target: t.maxRecvDataSegmentLength ?? 8192,
        },
    maxOutstandingUnexpectedPdus: rdma
      ? { initiator: i.maxOutstandingUnexpectedPdus ?? 0, target: t.maxOutstandingUnexpectedPdus ?? 0 }
      : { initiator: 0, target: 0 },
    maxAhsLength: rdma ? (i.maxAhsLength ?? 256) : 256,
    taggedBufferForSolicitedDataOnly: rdma ? (i.taggedBufferForSolicitedDataOnly ?? false) : false,
    iserHelloRequired: rdma ? (i.iserHelloRequired ?? false) : false,
  } as const;
  if (discovery) {
    return {
      ...common,
      maxConnections: 1,
      initialR2T: true,
      immediateData: true,
      maxBurstLength: 262144,
      firstBurstLength: 65536,
      maxOutstandingR2T: 1,
      dataPduInOrder: true,
      dataSequenceInOrder: true,
      taskReporting: 'RFC3720',
      iscsiProtocolLevel: 1,
    };
  }
  return {
    ...common,
    maxConnections: Math.min(i.maxConnections ?? 1, t.maxConnections ?? 1),
    initialR2T: (i.initialR2T ?? true) || (t.initialR2T ?? true),
    immediateData: (i.immediateData ?? true) && (t.immediateData ?? true),
    maxBurstLength: Math.min(i.maxBurstLength ?? 262144, t.maxBurstLength ?? 262144),
    firstBurstLength: Math.min(firstBurst(i), firstBurst(t)),
    maxOutstandingR2T: Math.min(i.maxOutstandingR2T ?? 1, t.maxOutstandingR2T ?? 1),
    dataPduInOrder: (i.dataPduInOrder ?? true) || (t.dataPduInOrder ?? true),
    dataSequenceInOrder: (i.dataSequenceInOrder ?? true) || (t.dataSequenceInOrder ?? true),
    taskReporting:
      i.taskReporting === undefined
        ? 'RFC3720'
        : (firstAcceptable(i.taskReporting, t.taskReporting ?? ['RFC3720']) ?? 'RFC3720'),
    iscsiProtocolLevel:
      i.iscsiProtocolLevel === undefined
        ? Math.min(t.iscsiProtocolLevel ?? 1, 1)
        : Math.min(i.iscsiProtocolLevel, t.iscsiProtocolLevel ?? 1),
  };
}

describe('negotiation between an initiator and a target', () => {
  it('reaches identical NegotiatedParams on both sides, equal to what the RFC result functions give', () => {
    fc.assert(
      fc.property(
        arbInitiatorConfig,
        arbTargetConfig,
        arbTransport,
        arbTransport,
        fc.integer({ min: 16, max: 8192 }),
        (iConfig, tConfig, iTransport, tTransport, pduSize) => {
          const ini = { transport: iTransport, config: iConfig };
          const tgt = { transport: tTransport, config: tConfig };
          const { initiator, target } = simulatedParams(simulateLogin(ini, tgt, pduSize));
          expect(target).toEqual(initiator);
          expect(initiator).toMatchObject(expected(ini, tgt));
          expect(initiator.firstBurstLength).toBeLessThanOrEqual(initiator.maxBurstLength);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never lets a digest survive RDMAExtensions=Yes, and uses Yes only when both sides run iSER', () => {
    fc.assert(
      fc.property(
        arbInitiatorConfig,
        arbTargetConfig,
        arbTransport,
        arbTransport,
        (iConfig, tConfig, iTransport, tTransport) => {
          const { initiator } = simulatedParams(
            simulateLogin({ transport: iTransport, config: iConfig }, { transport: tTransport, config: tConfig }),
          );
          const both = iTransport === 'iser' && tTransport === 'iser' && initiator.sessionType === 'Normal';
          expect(initiator.rdmaExtensions).toBe(both);
          if (initiator.rdmaExtensions) {
            expect([initiator.headerDigest, initiator.dataDigest]).toEqual(['None', 'None']);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
