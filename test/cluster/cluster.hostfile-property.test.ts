// Issue 15, item 6: the hostfile parser and formatter (fast-check).
//  - round trip: any valid entries (host names, IPv4, IPv6, slots and
//    max-slots anywhere in 1..2^31-1 with max-slots >= slots) format to text
//    that parses back to the same entries;
//  - any text: the parser returns entries or throws HostfileError naming a
//    line of the text, never another error; what it returns is valid (hosts,
//    bounded counts) and formats to text that parses back to it;
//  - PBS_NODEFILE form: entries written one line per slot merge back.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  formatHostfile,
  formatPbsNodefile,
  fromPbsNodefile,
  HostfileError,
  isHost,
  MAX_SLOTS,
  parseHostfile,
  type HostEntry,
} from '../../scripts/cluster/hostfile.js';

export const RUNS = { roundTrip: 1000, anyText: 3000, nearMiss: 2000, pbs: 300 };

const name = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,30}$/);
const host = fc.oneof(name, fc.domain(), fc.ipV4(), fc.ipV6());
const count = fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: MAX_SLOTS }));
const entry: fc.Arbitrary<HostEntry> = fc
  .record({ host, slots: fc.option(count, { nil: undefined }), maxSlots: fc.option(count, { nil: undefined }) })
  .map(({ host: h, slots, maxSlots }) => {
    const e: HostEntry = { host: h };
    if (slots !== undefined) e.slots = slots;
    if (maxSlots !== undefined) e.maxSlots = slots !== undefined ? Math.max(slots, maxSlots) : maxSlots;
    return e;
  });

test(`round trip (${RUNS.roundTrip} runs): format then parse gives the entries back`, () => {
  fc.assert(
    fc.property(fc.array(entry, { maxLength: 20 }), (entries) => {
      assert.equal(parseHostfile(formatHostfile(entries)), entries);
    }),
    { numRuns: RUNS.roundTrip },
  );
});

function checkParse(text: string): void {
  let entries: HostEntry[];
  try {
    entries = parseHostfile(text, 'hf');
  } catch (e) {
    if (!(e instanceof HostfileError)) throw new Error(`not a HostfileError: ${String(e)} for ${JSON.stringify(text)}`, { cause: e });
    const lines = text.split(/\r?\n/).length;
    assert.ok(e.line !== null && e.line >= 1 && e.line <= lines, `line ${e.line} of ${lines}`);
    assert.ok(e.message.startsWith(`hf:${e.line}: `));
    return;
  }
  for (const e of entries) {
    assert.ok(isHost(e.host), e.host);
    for (const n of [e.slots, e.maxSlots]) if (n !== undefined) assert.ok(Number.isSafeInteger(n) && n >= 1 && n <= MAX_SLOTS, String(n));
    if (e.slots !== undefined && e.maxSlots !== undefined) assert.ok(e.maxSlots >= e.slots);
  }
  assert.equal(parseHostfile(formatHostfile(entries)), entries);
}

test(`any text (${RUNS.anyText} runs): entries or a HostfileError naming one of its lines; what parses formats back to itself`, () => {
  const chars = fc.constantFrom(...'ab09_.-:%# =\t\n\r'.split(''), 'slots', 'max-slots', 'count', 'cpu', 'é', '\u0000');
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ unit: 'binary' }),
        fc.array(chars, { maxLength: 60 }).map((a) => a.join('')),
      ),
      checkParse,
    ),
    { numRuns: RUNS.anyText },
  );
});

test(`near misses (${RUNS.nearMiss} runs): hosts and attributes with hostile values (huge digit strings, repeats, zero, signs)`, () => {
  const value = fc.oneof(
    fc.nat().map(String),
    fc.constantFrom('0', '-1', '+2', '1.5', '1e3', '0x10', '', `1${'0'.repeat(400)}`, '2147483647', '2147483648'),
    fc.stringMatching(/^[0-9]{1,40}$/),
  );
  const key = fc.constantFrom('slots', 'max-slots', 'max_slots', 'count', 'cpu', 'cores', 'slots ');
  const line = fc
    .tuple(
      fc.oneof(host, fc.constantFrom('-x', '.a', 'a:b', '::1::2', '[::1]', '')),
      fc.array(fc.tuple(key, value), { maxLength: 3 }),
      fc.constantFrom('', ' # note', '\t'),
    )
    .map(([h, attrs, tail]) => [h, ...attrs.map(([k, v]) => `${k}=${v}`)].join(' ') + tail);
  fc.assert(
    fc.property(
      fc.array(line, { maxLength: 8 }).map((l) => l.join('\n')),
      checkParse,
    ),
    { numRuns: RUNS.nearMiss },
  );
});

test(`PBS_NODEFILE (${RUNS.pbs} runs): one line per slot merges back into the entries`, () => {
  const pbsEntries = fc.uniqueArray(fc.record({ host, slots: fc.integer({ min: 1, max: 6 }) }, { noNullPrototype: true }), {
    selector: (e) => e.host,
    maxLength: 10,
  });
  fc.assert(
    fc.property(pbsEntries, (entries) => {
      assert.equal(fromPbsNodefile(formatPbsNodefile(entries)), entries);
    }),
    { numRuns: RUNS.pbs },
  );
});

test.run();
