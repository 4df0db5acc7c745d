// The wire protocol: values, errors, requests and responses survive a round trip.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ProtocolError } from '../../runtime/errors.js';
import {
  Kind, decodeControl, decodeHeartbeat, decodeLog, decodeRequest, decodeResponse, decodeValue, encodeControl, encodeError,
  encodeHeartbeat, encodeLog, encodeRequest, encodeResponse, encodeValue,
} from '../../runtime/protocol.js';

test('values: primitives, strings, objects with Maps, Dates, typed arrays, undefined', () => {
  for (const v of [undefined, null, 0, 2, -1.5, true, false, '', 'héllo', NaN, -0, Infinity, 10n]) {
    const back = decodeValue(encodeValue(v));
    assert.ok(Object.is(back, v), `round trip of ${String(v)}`);
  }
  const obj = { a: 1, m: new Map([['k', [1, 2]]]), d: new Date(5), t: new Float64Array([1.5]), u: undefined, nested: { s: 'x' } };
  assert.equal(decodeValue(encodeValue(obj)), obj);
  const fn = decodeValue(encodeValue({ f() { return 1; } }));
  assert.type(fn, 'string'); // functions travel as their rendering
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
  const req = { id: 77, command: 'a + b // ü', mode: 'eval' as const, callWithParameters: false, hasParameters: true, parameters: { a: 1, b: [2] }, timeoutMs: 1500 };
  assert.equal(decodeRequest(encodeRequest(req)), req);
  const bare = { id: 1, command: 'x()', mode: 'exec' as const, callWithParameters: true, hasParameters: false, parameters: undefined, timeoutMs: 0 };
  assert.equal(decodeRequest(encodeRequest(bare)), bare);
  const ok = { id: 9, successful: true, ret: { r: 1 }, error: undefined, startTime: 1.25, stopTime: 2.5 };
  assert.equal(decodeResponse(encodeResponse(ok)), ok);
  const bad = { id: 10, successful: false, ret: undefined, error: { name: 'TypeError', message: 'm', stack: 'TypeError: m\n at x' }, startTime: 3, stopTime: 4 };
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
  assert.throws(() => decodeHeartbeat(Buffer.alloc(0)), (e: Error) => e instanceof ProtocolError);
});

test.run();
