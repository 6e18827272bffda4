import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Command, Option } from '../../nbd/constants.js';
import { type ClientEvent, NbdInputParser } from '../../nbd/input.js';
import { encodeClientFlags, encodeInfoRequest, encodeOption, encodeRequestHeader } from '../../nbd/wire.js';

const LIMITS = { maxOptionLength: 64, maxSkip: 4096 };

/** Feeds `chunks` one at a time, switching to transmission after `switchAfter` events, and collects events. */
function parse(chunks: readonly Buffer[], switchAfter: number, maxPayload = 1024): ClientEvent[] {
  const parser = new NbdInputParser(LIMITS);
  const events: ClientEvent[] = [];
  for (const chunk of chunks) {
    parser.push(chunk);
    for (let event = parser.next(); event !== undefined; event = parser.next()) {
      events.push(event);
      if (events.length === switchAfter) parser.startTransmission(maxPayload);
    }
  }
  return events;
}

function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const point of points) {
    out.push(bytes.subarray(from, point));
    from = point;
  }
  out.push(bytes.subarray(from));
  return out;
}

const session = Buffer.concat([
  encodeClientFlags(3),
  encodeOption(Option.LIST),
  encodeOption(Option.GO, encodeInfoRequest({ name: 'disk', requests: [3] })),
  encodeRequestHeader({ flags: 1, type: Command.WRITE, handle: 7n, offset: 512n, length: 600 }),
  Buffer.alloc(600, 0xab),
  encodeRequestHeader({ flags: 0, type: Command.READ, handle: 8n, offset: 0n, length: 512 }),
  encodeRequestHeader({ flags: 0, type: Command.DISC, handle: 9n, offset: 0n, length: 0 }),
]);

function summary(events: readonly ClientEvent[]): unknown[] {
  return events.map((event) =>
    event.kind === 'request' ? { ...event, payload: Buffer.concat(event.payload as Buffer[]).toString('hex') } : event,
  );
}

describe('NbdInputParser', () => {
  it('yields the same events whatever the split points', () => {
    const whole = summary(parse([session], 3));
    expect(whole.map((e) => (e as ClientEvent).kind)).toEqual([
      'client-flags',
      'option',
      'option',
      'request',
      'request',
      'request',
    ]);
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 12 }), (cuts) => {
        expect(summary(parse(splitAt(session, cuts), 3))).toEqual(whole);
      }),
      { numRuns: 200 },
    );
  });

  it('yields the same events when fed one byte at a time', () => {
    const bytes = [...session].map((b) => Buffer.from([b]));
    expect(summary(parse(bytes, 3))).toEqual(summary(parse([session], 3)));
  });

  it('hands a write payload over as slices of the chunks received, without copying', () => {
    const header = encodeRequestHeader({ flags: 0, type: Command.WRITE, handle: 1n, offset: 0n, length: 8 });
    const a = Buffer.from([1, 2, 3]);
    const b = Buffer.from([4, 5, 6, 7, 8]);
    const parser = new NbdInputParser(LIMITS);
    parser.startTransmission(1024);
    parser.push(header);
    parser.push(a);
    expect(parser.next()).toBeUndefined();
    parser.push(b);
    const event = parser.next();
    expect(event?.kind).toBe('request');
    if (event?.kind !== 'request') return;
    expect(event.payload[0]?.buffer).toBe(a.buffer);
    expect(event.payload[1]?.buffer).toBe(b.buffer);
  });

  it('skips option data longer than the bound without holding it, then carries on', () => {
    const parser = new NbdInputParser(LIMITS);
    parser.push(encodeClientFlags(1));
    expect(parser.next()?.kind).toBe('client-flags');
    parser.push(encodeOption(Option.GO, Buffer.alloc(1000, 0x41)).subarray(0, 500));
    expect(parser.next()).toBeUndefined();
    expect(parser.buffered).toBe(0);
    parser.push(Buffer.alloc(516, 0x41));
    expect(parser.next()).toEqual({ kind: 'option-too-big', option: Option.GO, length: 1000 });
    parser.push(encodeOption(Option.LIST));
    expect(parser.next()).toEqual({ kind: 'option', option: Option.LIST, data: Buffer.alloc(0) });
  });

  it('ends the stream when an option claims more than it would ever skip', () => {
    const parser = new NbdInputParser(LIMITS);
    parser.push(encodeClientFlags(1));
    parser.next();
    const header = encodeOption(Option.GO).subarray(0, 16);
    header.writeUInt32BE(0xffff_ffff, 12);
    parser.push(header);
    const event = parser.next();
    expect(event?.kind).toBe('fatal');
    parser.push(Buffer.alloc(100));
    expect(parser.next()).toBeUndefined();
    expect(parser.buffered).toBe(0);
  });

  it('skips a write payload over the maximum and reports it, then parses the next request', () => {
    const parser = new NbdInputParser(LIMITS);
    parser.startTransmission(512);
    const big = { flags: 0, type: Command.WRITE, handle: 5n, offset: 0n, length: 2048 };
    parser.push(encodeRequestHeader(big));
    parser.push(Buffer.alloc(2048));
    expect(parser.next()).toEqual({ kind: 'write-too-big', header: big });
    parser.push(encodeRequestHeader({ flags: 0, type: Command.FLUSH, handle: 6n, offset: 0n, length: 0 }));
    expect(parser.next()?.kind).toBe('request');
  });

  it('ends the stream on a bad request magic, and on a write too large to skip', () => {
    const parser = new NbdInputParser(LIMITS);
    parser.startTransmission(512);
    parser.push(Buffer.alloc(28, 0xee));
    expect(parser.next()?.kind).toBe('fatal');

    const other = new NbdInputParser(LIMITS);
    other.startTransmission(512);
    other.push(encodeRequestHeader({ flags: 0, type: Command.WRITE, handle: 1n, offset: 0n, length: 1 << 20 }));
    expect(other.next()?.kind).toBe('fatal');
  });

  it('never throws and never holds more than one bounded item on random bytes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }),
        fc.boolean(),
        (chunks, transmission) => {
          const parser = new NbdInputParser(LIMITS);
          if (transmission) parser.startTransmission(256);
          for (const chunk of chunks) {
            parser.push(Buffer.from(chunk));
            for (let i = 0; i < 100 && parser.next() !== undefined; i++);
            // What is held is at most a header plus one option or payload within bounds.
            expect(parser.buffered).toBeLessThanOrEqual(28 + 256 + 64 + 64);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
