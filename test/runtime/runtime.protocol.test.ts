// The wire protocol: values, errors, requests and responses survive a round trip.
import { serialize } from 'node:v8';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ProtocolError } from '../../runtime/errors.js';
import {
  Kind,
  decodeControl,
  decodeHeartbeat,
  decodeLog,
  decodeRequest,
  decodeResponse,
  decodeValue,
  encodeControl,
  encodeError,
  encodeHeartbeat,
  encodeLog,
  encodeRequest,
  encodeResponse,
  encodeValue,
} from '../../runtime/protocol.js';
import { inspect } from 'node:util';

const inspectValue = (v: unknown) => inspect(v, { depth: 4, breakLength: Infinity });

test('values: primitives, strings, objects with Maps, Dates, typed arrays, undefined', () => {
  for (const v of [undefined, null, 0, 2, -1.5, true, false, '', 'héllo', NaN, -0, Infinity, 10n]) {
    const back = decodeValue(encodeValue(v));
    assert.ok(Object.is(back, v), `round trip of ${String(v)}`);
  }
  const obj = { a: 1, m: new Map([['k', [1, 2]]]), d: new Date(5), t: new Float64Array([1.5]), u: undefined, nested: { s: 'x' } };
  assert.equal(decodeValue(encodeValue(obj)), obj);
  const fn = decodeValue(
    encodeValue({
      f() {
        return 1;
      },
    }),
  );
  assert.type(fn, 'string'); // functions travel as their rendering
});

// The COMPACT codec (plain objects and arrays) and the one-byte and number
// codecs must give exactly what structured clone gives, for any value: the
// encoder falls back to V8 for anything it does not take (shared or circular
// references, holes, lone surrogates, "__proto__" keys, class instances, deep nesting).
test('values (2000 runs of fc.anything, and the edge cases): decode to what structuredClone makes of them', () => {
  const sharedChild = { x: 1 };
  const circular: Record<string, unknown> = { a: [1] };
  circular.self = circular;
  const deep = Array.from({ length: 40 }).reduce<unknown>((inner) => ({ inner }), 'bottom');

  const edge: unknown[] = [
    -0,
    NaN,
    2 ** 31,
    -(2 ** 31),
    1e300,
    '\ud800',
    { ['__proto__']: 1 },
    JSON.parse('{"__proto__": {"a": 1}}'),
    // eslint-disable-next-line no-sparse-arrays -- an array with a hole is one of the edge values under test
    [1, , 3],
    Object.assign([1, 2], { extra: true }),
    { s: sharedChild, t: sharedChild },
    circular,
    deep,
    Object.create(null),
    { d: new Date(3), m: new Map([[1, 2]]) },
    [undefined, null, true, false, 'é', { k: ['v', 1.5, -7] }],
  ];
  const roundTrips = (v: unknown): boolean => {
    const back = decodeValue(encodeValue(v));
    const want = structuredClone(v);
    // Node's isDeepStrictEqual calls two Invalid Dates different (NaN !== NaN): V8's own serialization of the two
    // (the format structuredClone uses) is the tie-breaker, byte for byte
    if (!isDeepStrictEqual(back, want) && !serialize(back).equals(serialize(want)))
      throw new Error(`round trip of ${inspectValue(v)} gave ${inspectValue(back)}`);
    return true;
  };
  for (const v of edge) roundTrips(v);
  // a shared reference stays shared, a circle stays a circle (V8 keeps them)
  const s = decodeValue(encodeValue({ s: sharedChild, t: sharedChild })) as { s: object; t: object };
  assert.ok(s.s === s.t, 'shared reference kept');
  const c = decodeValue(encodeValue(circular)) as { self: unknown };
  assert.ok(c.self === c, 'circle kept');
  fc.assert(
    fc.property(
      fc.anything({
        withBigInt: true,
        withDate: true,
        withMap: true,
        withSet: true,
        withTypedArray: true,
        withSparseArray: true,
        withNullPrototype: true,
        withObjectString: true,
        withBoxedValues: true,
        withUnicodeString: true,
      }),
      roundTrips,
    ),
    { numRuns: 2000 },
  );
});

test('errors travel as name, message, stack; non-Error values are named', () => {
  const e = encodeError(new RangeError('too far'));
  assert.is(e.name, 'RangeError');
  assert.is(e.message, 'too far');
  assert.match(e.stack, /RangeError: too far\n\s+at /);
  const n = encodeError(42);
  assert.is(n.name, 'NonErrorThrown');
  assert.match(n.stack, /42/);
  const o = encodeError({ code: 'X' });
  assert.match(o.message, /code/);
});

test('request and response round trip', () => {
  const req = {
    id: 77,
    command: 'a + b // ü',
    mode: 'eval' as const,
    callWithParameters: false,
    hasParameters: true,
    parameters: { a: 1, b: [2] },
    timeoutMs: 1500,
  };
  assert.equal(decodeRequest(encodeRequest(req)), req);
  const bare = { id: 1, command: 'x()', mode: 'exec' as const, callWithParameters: true, hasParameters: false, parameters: undefined, timeoutMs: 0 };
  assert.equal(decodeRequest(encodeRequest(bare)), bare);
  const ok = { id: 9, successful: true, ret: { r: 1 }, error: undefined, startTime: 1.25, stopTime: 2.5 };
  assert.equal(decodeResponse(encodeResponse(ok)), ok);
  const bad = {
    id: 10,
    successful: false,
    ret: undefined,
    error: { name: 'TypeError', message: 'm', stack: 'TypeError: m\n at x' },
    startTime: 3,
    stopTime: 4,
  };
  assert.equal(decodeResponse(encodeResponse(bad)), bad);
});

test('control, log and heartbeat messages', () => {
  const start = { kind: Kind.START, cwd: 'w', log: { mode: 'file' as const, level: 'INFO' as const }, tasks: ['file:x'], env: { A: '1' } };
  assert.equal(decodeControl(encodeControl(start)), start);
  assert.equal(decodeLog(encodeLog('WARN', 'hello\nworld')), { level: 'WARN', text: 'hello\nworld' });
  assert.equal(decodeHeartbeat(encodeHeartbeat(true, 123456)), { busy: true, requestId: 123456, tick: 0, queued: [], queuedCount: 0 });
  assert.equal(decodeHeartbeat(encodeHeartbeat(true, 5, [6, 7], 2 ** 32 - 1)), { busy: true, requestId: 5, tick: 2 ** 32 - 1, queued: [6, 7], queuedCount: 2 });
  const many = Array.from({ length: 100 }, (_, i) => i + 10);
  const cut = decodeHeartbeat(encodeHeartbeat(true, 9, many));
  assert.is(cut.queuedCount, 100);
  assert.equal(cut.queued, many.slice(0, 64));
  assert.throws(
    () => decodeHeartbeat(Buffer.alloc(0)),
    (e: Error) => e instanceof ProtocolError,
  );
});

test.run();
