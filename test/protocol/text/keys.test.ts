import { describe, expect, it } from 'vitest';
import { isExtensionKey, KEY_TABLE, lookupKey, maxValueBytesFor } from '../../../protocol/text/keys.js';

const get = (name: string) => {
  const def = lookupKey(name);
  if (def === undefined) throw new Error(`no key ${name}`);
  return def;
};

describe('the key table', () => {
  it('holds every key of RFC 7143 §13 and RFC 7145 §6', () => {
    const expected = [
      'HeaderDigest',
      'DataDigest',
      'MaxConnections',
      'SendTargets',
      'TargetName',
      'InitiatorName',
      'TargetAlias',
      'InitiatorAlias',
      'TargetAddress',
      'TargetPortalGroupTag',
      'InitialR2T',
      'ImmediateData',
      'MaxRecvDataSegmentLength',
      'MaxBurstLength',
      'FirstBurstLength',
      'DefaultTime2Wait',
      'DefaultTime2Retain',
      'MaxOutstandingR2T',
      'DataPDUInOrder',
      'DataSequenceInOrder',
      'ErrorRecoveryLevel',
      'SessionType',
      'TaskReporting',
      'iSCSIProtocolLevel',
      'IFMarker',
      'OFMarker',
      'IFMarkInt',
      'OFMarkInt',
      'X#NodeArchitecture',
      'RDMAExtensions',
      'TargetRecvDataSegmentLength',
      'InitiatorRecvDataSegmentLength',
      'MaxOutstandingUnexpectedPDUs',
      'MaxAHSLength',
      'TaggedBufferForSolicitedDataOnly',
      'iSERHelloRequired',
      'AuthMethod',
      'CHAP_A',
      'CHAP_I',
      'CHAP_C',
      'CHAP_N',
      'CHAP_R',
    ];
    for (const name of expected) expect(KEY_TABLE.has(name), name).toBe(true);
  });

  it.each([
    ['MaxConnections', '1', 'min', 'leading-only', 'session', 1, 65535],
    ['MaxRecvDataSegmentLength', '8192', 'declarative', 'all', 'connection', 512, 16777215],
    ['MaxBurstLength', '262144', 'min', 'leading-only', 'session', 512, 16777215],
    ['FirstBurstLength', '65536', 'min', 'leading-only', 'session', 512, 16777215],
    ['DefaultTime2Wait', '2', 'max', 'leading-only', 'session', 0, 3600],
    ['DefaultTime2Retain', '20', 'min', 'leading-only', 'session', 0, 3600],
    ['MaxOutstandingR2T', '1', 'min', 'leading-only', 'session', 1, 65535],
    ['ErrorRecoveryLevel', '0', 'min', 'leading-only', 'session', 0, 2],
    ['TargetRecvDataSegmentLength', '8192', 'min', 'initialize-only', 'connection', 512, 16777215],
    ['InitiatorRecvDataSegmentLength', '8192', 'min', 'initialize-only', 'connection', 512, 16777215],
  ])('%s: default %s, %s, %s, %s scope, range %d..%d', (name, defaultValue, result, use, scope, min, max) => {
    const def = get(name);
    expect(def).toMatchObject({ defaultValue, result, use, scope, type: 'numerical' });
    expect(def.range).toMatchObject({ min, max });
  });

  it.each([
    ['InitialR2T', 'Yes', 'or'],
    ['ImmediateData', 'Yes', 'and'],
    ['DataPDUInOrder', 'Yes', 'or'],
    ['DataSequenceInOrder', 'Yes', 'or'],
    ['RDMAExtensions', 'No', 'and'],
  ])('%s: boolean, default %s, result %s', (name, defaultValue, result) => {
    expect(get(name)).toMatchObject({ type: 'boolean', defaultValue, result, use: 'leading-only', scope: 'session' });
  });

  it('records who may send each identity key', () => {
    expect(get('InitiatorName').senders).toBe('initiator');
    expect(get('SessionType').senders).toBe('initiator');
    expect(get('TargetAlias').senders).toBe('target');
    expect(get('TargetPortalGroupTag').senders).toBe('target');
    expect(get('TargetAddress').senders).toBe('target');
    expect(get('SendTargets')).toMatchObject({ senders: 'initiator', use: 'full-feature-only' });
  });

  it('marks keys irrelevant in discovery sessions and under iSER as the RFCs say', () => {
    for (const name of [
      'MaxConnections',
      'InitialR2T',
      'ImmediateData',
      'MaxBurstLength',
      'FirstBurstLength',
      'MaxOutstandingR2T',
      'DataPDUInOrder',
      'DataSequenceInOrder',
      'RDMAExtensions',
    ]) {
      expect(get(name).irrelevantWhen, name).toContain('discovery');
    }
    for (const name of ['HeaderDigest', 'DataDigest', 'MaxRecvDataSegmentLength']) {
      expect(get(name).irrelevantWhen, name).toContain('rdma-extensions');
    }
    for (const name of [
      'TargetRecvDataSegmentLength',
      'InitiatorRecvDataSegmentLength',
      'MaxOutstandingUnexpectedPDUs',
    ]) {
      expect(get(name).irrelevantWhen, name).toContain('no-rdma-extensions');
    }
    expect(get('ErrorRecoveryLevel').irrelevantWhen).not.toContain('discovery');
  });

  it('answers obsolete marker keys with Reject (RFC 7143 §13.25)', () => {
    for (const name of ['IFMarker', 'OFMarker', 'IFMarkInt', 'OFMarkInt'])
      expect(get(name).obsoleteAnswer).toBe('Reject');
  });

  it('bounds values per key: 255 bytes by default, 1024 binary bytes for CHAP_C and CHAP_R', () => {
    expect(maxValueBytesFor('MaxBurstLength')).toBe(255);
    expect(maxValueBytesFor('X-unknown.key')).toBe(255);
    expect(maxValueBytesFor('CHAP_C')).toBe(2 + 2048);
    expect(get('CHAP_R').maxBinaryBytes).toBe(1024);
  });

  it('recognises extension keys', () => {
    expect(isExtensionKey('X-com.example.foo')).toBe(true);
    expect(isExtensionKey('X#NodeArchitecture')).toBe(true);
    expect(isExtensionKey('MaxBurstLength')).toBe(false);
  });
});
