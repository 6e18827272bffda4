import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeText, encodeText } from '../../../protocol/text/codec.js';
import { TextError } from '../../../protocol/text/errors.js';
import {
  formatSendTargetsResponse,
  parseSendTargetsResponse,
  parseTargetAddress,
  type DiscoveredTarget,
} from '../../../protocol/text/sendtargets.js';
import { arbIscsiName } from '../../support/arbitraries/text.js';

const arbAddress = fc.record({
  host: fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain()),
  port: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
  portalGroupTag: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
});
const arbTargets: fc.Arbitrary<DiscoveredTarget[]> = fc.array(
  fc.record({ name: arbIscsiName, addresses: fc.array(arbAddress, { maxLength: 3 }) }),
  { maxLength: 5 },
);

describe('SendTargets answers (RFC 7143 §13.3)', () => {
  it('parses TargetAddress=domainname[:port][,portal-group-tag], IPv6 in brackets', () => {
    expect(parseTargetAddress('10.0.0.1:3260,1')).toEqual({ host: '10.0.0.1', port: 3260, portalGroupTag: 1 });
    expect(parseTargetAddress('[fe80::1]:3261,2')).toEqual({ host: 'fe80::1', port: 3261, portalGroupTag: 2 });
    expect(parseTargetAddress('[fe80::1]')).toEqual({ host: 'fe80::1', port: undefined, portalGroupTag: undefined });
    expect(parseTargetAddress('storage.example.com')).toEqual({
      host: 'storage.example.com',
      port: undefined,
      portalGroupTag: undefined,
    });
  });

  it.each(['', ':3260', '10.0.0.1:port', '10.0.0.1:70000', '10.0.0.1,70000', '[fe80::1', 'fe80::1:3260', '[::1]x'])(
    'refuses the malformed address %j',
    (value) => {
      expect(() => parseTargetAddress(value)).toThrow(TextError);
    },
  );

  it('groups addresses under the TargetName before them and round-trips through the codec', () => {
    fc.assert(
      fc.property(arbTargets, (targets) => {
        const wire = encodeText(formatSendTargetsResponse(targets));
        expect(parseSendTargetsResponse(decodeText(wire, { allowDuplicateKeys: true }))).toEqual(targets);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses an address given before any TargetName', () => {
    expect(() => parseSendTargetsResponse([{ key: 'TargetAddress', value: '10.0.0.1' }])).toThrow(TextError);
  });
});
