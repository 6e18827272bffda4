/**
 * Negotiation properties: random legal offers at login end with both sides using what the wire agreed; illegal
 * values are refused the way RFC 7143 §6.2 says; over iSER the iSER keys are honoured (RFC 7145 §6).
 */
import { isIserError } from '../../protocol/errors.js';
import { LoginError } from '../../protocol/login/errors.js';
import { LoginStage, type LoginRequestPdu, type LoginResponsePdu } from '../../protocol/pdu/login.js';
import { encodeText, decodeText, type TextPair } from '../../protocol/text/codec.js';
import type { NegotiationConfig } from '../../protocol/text/config.js';
import { KEY_TABLE } from '../../protocol/text/keys.js';
import { arbIllegalOffer, arbOffers, type IllegalOffer } from '../arbitraries.js';
import type { RunContext } from '../context.js';
import { ConformanceError, ConformanceViolation, expectThat } from '../errors.js';
import { defineProperty, type ConformanceProperty } from '../property.js';
import { compareWithSession, wireNegotiation } from '../support/negotiation-wire.js';

/** Logs in with `offers`, compares the session's values with the wire's, then moves data under them. */
async function agree(run: RunContext, offers: NegotiationConfig): Promise<void> {
  let session;
  try {
    session = await run.login({ negotiation: offers });
  } catch (err) {
    if (err instanceof LoginError) {
      throw new ConformanceViolation('RFC 7143 §6.2', `a login with legal offers failed: ${err.message}`);
    }
    throw err;
  }
  const wire = wireNegotiation(run.exchange.corePdus);
  const misfit = wire.findings[0];
  if (misfit !== undefined) throw new ConformanceViolation(misfit.rfc, misfit.message);
  const unanswered = wire.unanswered.find((u) => u.by === 'initiator');
  expectThat(
    unanswered === undefined,
    'RFC 7143 §6.2',
    () => `the target never answered the offer ${unanswered?.key ?? ''}=${unanswered?.value ?? ''}`,
  );
  const iser = run.target.transport === 'iser';
  const disagreement = compareWithSession(wire, session.params, iser);
  if (disagreement !== undefined) throw new ConformanceViolation(disagreement.rfc, disagreement.message);
  // Data moved under the agreed values: a side that used other values would break bursts or segments here.
  const lun = await run.lun(session);
  const blockSize = run.facts.blockSize;
  const blocks = Math.max(1, Math.min(512, Math.ceil((2 * session.params.maxBurstLength) / blockSize)));
  const region = run.suite.region(blocks);
  const data = Buffer.alloc(region.blocks * blockSize, 0xa5);
  const p = session.params;
  const agreed = `${iser ? 'RDSL' : 'MaxRecvDataSegmentLength'} ${p.maxRecvDataSegmentLength.initiator}/${p.maxRecvDataSegmentLength.target}, MaxBurstLength ${p.maxBurstLength}, FirstBurstLength ${p.firstBurstLength}, ImmediateData ${p.immediateData ? 'Yes' : 'No'}, InitialR2T ${p.initialR2T ? 'Yes' : 'No'}`;
  // A target that agreed to values it cannot live with fails here (LIO's isert agreed to a 12 MB
  // TargetRecvDataSegmentLength, then could not receive 64 KiB of immediate data): name the values, not just the
  // lost connection.
  const moved = async <T>(work: Promise<T>, what: string): Promise<T> => {
    try {
      return await run.bounded(work, what);
    } catch (err) {
      if (isIserError(err, 'ERR_CONFORMANCE_BUDGET') || err instanceof ConformanceViolation) throw err;
      throw new ConformanceViolation(
        iser ? 'RFC 7145 §6.4-6.5, RFC 7143 §13.14' : 'RFC 7143 §6.2, §13.12',
        `a ${data.length}-byte ${what} under the agreed values (${agreed}) failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  };
  await moved(lun.promises.write(region.firstLba, data), 'WRITE');
  const back = await moved(lun.promises.read(region.firstLba, region.blocks), 'READ');
  const differs = back.findIndex((byte, i) => byte !== data[i]);
  expectThat(
    differs === -1 && back.length === data.length,
    'RFC 7143 §6.2, §13.12',
    () =>
      `a ${data.length}-byte WRITE read back under the negotiated values (MaxRecvDataSegmentLength ${session.params.maxRecvDataSegmentLength.initiator}/${session.params.maxRecvDataSegmentLength.target}, MaxBurstLength ${session.params.maxBurstLength}) differs at byte ${differs}: ${back.subarray(Math.max(0, differs - 4), differs + 8).toString('hex')}`,
  );
  await run.bounded(session.logout(), 'logout');
}

/** Both sides use what the wire agreed. */
export const agreedValues: ConformanceProperty = defineProperty<NegotiationConfig>({
  group: 'negotiation',
  name: 'agreed-values',
  rfc: 'RFC 7143 §6.2, §13',
  title: 'after random legal offers, the session uses exactly the values the login text on the wire agreed on',
  runs: 30,
  arbitrary: (suite) => suite.offers ?? arbOffers,
  size: (offers) => Object.keys(offers).length,
  check: agree,
});

/** Over iSER, RDMAExtensions=Yes, no digests, and the RDSL keys as negotiated. */
export const iserKeys: ConformanceProperty = defineProperty<NegotiationConfig>({
  group: 'negotiation',
  name: 'iser-keys',
  rfc: 'RFC 7145 §6.1, §6.3-6.5',
  title: 'over iSER the login agrees RDMAExtensions=Yes, uses no digests and honours the RecvDataSegmentLength keys',
  runs: 20,
  skip: (suite) => (suite.target.transport === 'iser' ? undefined : 'the iSER keys apply to iSER connections only'),
  arbitrary: (suite) =>
    (suite.offers ?? arbOffers).map((o) => ({
      ...o,
      // Digests offered on purpose: RDMAExtensions=Yes must win over them.
      headerDigest: ['CRC32C', 'None'] as const,
      dataDigest: ['CRC32C'] as const,
    })),
  size: (offers) => Object.keys(offers).length,
  async check(run, offers) {
    await agree(run, offers);
    const wire = wireNegotiation(run.exchange.corePdus);
    const rdma = wire.results.get('RDMAExtensions');
    expectThat(
      rdma?.value === 'Yes',
      'RFC 7145 §6.3',
      () => `the login over iSER ended with RDMAExtensions=${rdma?.value ?? '(not negotiated: default No)'}`,
    );
  },
});

/** Sends Login Requests by hand and returns the Login Responses. */
async function rawLogin(
  run: RunContext,
  operational: readonly TextPair[],
): Promise<{ first: LoginResponsePdu; second: LoginResponsePdu | undefined; ended: Error | undefined }> {
  const raw = await run.rawConnect();
  const isid = run.isid();
  const request = (stage: 0 | 1, pairs: readonly TextPair[], expStatSN: number): LoginRequestPdu => ({
    kind: 'login-request',
    transit: true,
    continue: false,
    currentStage: stage,
    nextStage: stage === 0 ? LoginStage.LoginOperationalNegotiation : LoginStage.FullFeaturePhase,
    versionMax: 0,
    versionMin: 0,
    isid,
    tsih: 0,
    itt: 0,
    cid: 0,
    cmdSN: 0,
    expStatSN,
    data: [encodeText(pairs)],
  });
  raw.send(
    request(
      0,
      [
        { key: 'InitiatorName', value: run.target.initiatorName },
        { key: 'TargetName', value: run.target.targetName },
        { key: 'SessionType', value: 'Normal' },
        { key: 'AuthMethod', value: 'None' },
      ],
      0,
    ),
  );
  const first = await raw.next('login-response', run.opTimeoutMs);
  if (first === undefined) {
    throw new ConformanceError(
      'ERR_CONFORMANCE_TARGET',
      `no answer to the first Login Request${raw.ended ? `: ${raw.ended.message}` : ''}`,
    );
  }
  if (first.statusClass !== 0 || !first.transit || first.nextStage !== LoginStage.LoginOperationalNegotiation) {
    throw new ConformanceError(
      'ERR_CONFORMANCE_TARGET',
      `the target did not move to the operational stage with AuthMethod=None (status 0x${((first.statusClass << 8) | first.statusDetail).toString(16)})`,
    );
  }
  const extra = run.target.transport === 'iser' ? [{ key: 'RDMAExtensions', value: 'Yes' }] : [];
  raw.send(request(1, [...operational, ...extra], (first.statSN + 1) >>> 0));
  const second = await raw.next('login-response', run.opTimeoutMs, () => true, raw.received.indexOf(first) + 1);
  return { first, second, ended: raw.ended };
}

/** Illegal values are refused: Reject, or a login failure of class Initiator Error; unknown keys NotUnderstood. */
export const illegalValues: ConformanceProperty = defineProperty<IllegalOffer>({
  group: 'negotiation',
  name: 'illegal-values-refused',
  rfc: 'RFC 7143 §6.2, §6.2.1, §6.2.2',
  title:
    'an illegal value is answered Reject (or the login fails with an initiator error); an unknown key NotUnderstood',
  runs: 30,
  needsLun: false,
  skip: (suite) =>
    suite.target.auth?.method === 'CHAP'
      ? 'hand-built logins use AuthMethod=None and this target requires CHAP'
      : undefined,
  arbitrary: () => arbIllegalOffer,
  async check(run, offer) {
    const { second, ended } = await rawLogin(run, [{ key: offer.key, value: offer.value }]);
    const shown = `${offer.key}=${offer.value} (${offer.kind})`;
    expectThat(
      second !== undefined,
      'RFC 7143 §6.2',
      () =>
        `no Login Response to ${shown}${ended === undefined ? ' (the connection stayed open, silent)' : `: ${ended.message}`}`,
    );
    const status = (second.statusClass << 8) | second.statusDetail;
    const answers =
      second.data.length === 0 ? [] : decodeText(Buffer.concat(second.data), { allowDuplicateKeys: true });
    const answer = answers.find((p) => p.key === offer.key)?.value;
    if (offer.kind === 'unknown-key') {
      expectThat(
        second.statusClass === 0,
        'RFC 7143 §6.2',
        () =>
          `the login failed (status 0x${status.toString(16).padStart(4, '0')}) over an unknown key ${shown}, which must be answered NotUnderstood`,
      );
      expectThat(
        answer === 'NotUnderstood',
        'RFC 7143 §6.2',
        () =>
          `the unknown key ${shown} was answered ${answer === undefined ? 'not at all' : `${offer.key}=${answer}`}, not NotUnderstood`,
      );
      return;
    }
    if (second.statusClass === 2) return;
    // Over iSER, RDMAExtensions=Yes (sent with the offer) makes the digest keys irrelevant (RFC 7145 §6.1).
    const irrelevant =
      run.target.transport === 'iser' && KEY_TABLE.get(offer.key)?.irrelevantWhen.includes('rdma-extensions') === true;
    if (irrelevant && answer === 'Irrelevant') return;
    expectThat(
      second.statusClass === 0,
      'RFC 7143 §6.2, §11.13.5',
      () =>
        `the illegal ${shown} failed the login with status 0x${status.toString(16).padStart(4, '0')}, not an Initiator Error (class 2)`,
    );
    expectThat(
      answer === 'Reject',
      offer.kind === 'unknown-list-value' ? 'RFC 7143 §6.2.1' : 'RFC 7143 §6.2.2',
      () =>
        `the illegal ${shown} was ${answer === undefined ? 'not answered at all' : `answered ${offer.key}=${answer}`}; it must be answered Reject (or the login fail with an Initiator Error)`,
    );
  },
});
