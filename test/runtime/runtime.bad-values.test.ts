// Issue 15, item 1: whatever a command throws, returns or resolves to, its
// request ends with exactly one response and the server stays usable. On the
// in-process transport: the examples of the issue, each followed by `1+1` on
// the same server; then a property over generated hostile commands.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MessageTooLargeError } from '../../runtime/errors.js';
import { Tag } from '../../runtime/protocol.js';
import { cluster, type Cluster } from './inprocess.js';

/** Run one command on server 1 and fail (instead of hanging) when it is not answered in time. */
async function run(c: Cluster, command: string, parameters?: Record<string, unknown>) {
  const ids = c.client.pushCommandRequest(command, { targetServer: 1, parameters });
  const [r] = await c.client.getCommandResponse(ids, { block: true, waitTimeoutMs: 5000 });
  return r;
}

async function stillUsable(c: Cluster, after: string): Promise<void> {
  const r = await run(c, '1+1');
  assert.is(r.ret, 2, `server 1 no longer answers after ${after}`);
}

const EXAMPLES: Array<[string, string, RegExp]> = [
  // the issue's example: a rejection whose message has no string form
  [
    'rejects with { message: Object.create(null) }',
    'Promise.reject({ message: Object.create(null) })',
    /message \(object with a null prototype\) has no string form/,
  ],
  ['throws { message: Object.create(null) }', '(() => { throw { message: Object.create(null) }; })()', /has no string form/],
  [
    'throws an object whose message getter throws',
    '(() => { throw { get message() { throw new Error("boom") } }; })()',
    /reading the error's message threw Error: boom/,
  ],
  [
    'throws an error whose name and stack getters throw',
    '(() => { const e = new Error("x"); Object.defineProperty(e, "name", { get() { throw 1 } }); Object.defineProperty(e, "stack", { get() { throw 2 } }); throw e; })()',
    /Uncaught 1|Error: x/,
  ], // node's vm reads the stack of what a script throws: the getter's throw replaces it
  [
    'throws a Proxy whose every trap throws',
    '(() => { throw new Proxy({}, { has() { throw 1 }, get() { throw 2 }, getPrototypeOf() { throw 3 }, ownKeys() { throw 4 }, getOwnPropertyDescriptor() { throw 5 } }); })()',
    /^Uncaught \{\}$/,
  ], // inspect shows the target, never runs a trap
  ['rejects with a Symbol', 'Promise.reject(Symbol("s"))', /Symbol\(s\)/],
  // values: the issue's "returns a value whose encoding/inspection throws"
  [
    'returns a value that neither structured clone nor inspect can encode',
    '({ f() {}, [Symbol.for("nodejs.util.inspect.custom")]() { throw new Error("no inspect") } })',
    /ValueEncodingError: .*could not be sent.*structured clone failed.*util\.inspect.*no inspect/,
  ],
  [
    'resolves to such a value',
    'Promise.resolve({ f() {}, [Symbol.for("nodejs.util.inspect.custom")]() { throw new Error("no inspect") } })',
    /ValueEncodingError/,
  ],
  [
    'returns a value whose then getter throws',
    '({ get then() { throw new Error("then getter") } })',
    /'then' property that throws when read: Error: then getter/,
  ],
  ['returns a thenable whose then throws', '({ then() { throw new Error("then call") } })', /then call/],
  ['returns a Proxy whose get trap throws', 'new Proxy({}, { get() { throw new Error("trap") } })', /trap/],
];

for (const [name, command, traceback] of EXAMPLES) {
  test(`${name}: one failed response saying why, and the server stays usable`, async () => {
    const c = await cluster(2);
    const r = await run(c, command);
    assert.is(r.status, 'response received');
    assert.is(r.successful, false);
    assert.match(r.traceback!, traceback);
    await stillUsable(c, name);
    assert.is(c.hub.endpoint(1).sentByTag.get(Tag.RESPONSE), 2, 'exactly one response per request');
    await c.client.stopServices();
  });
}

test('parameters that cannot be set as globals, or put back: a failed response, not a dead server', async () => {
  const c = await cluster(2);
  // a read-only, non-configurable global of the context: injecting a parameter of that name throws
  assert.ok((await run(c, 'Object.defineProperty(globalThis, "fixed", { value: 1, writable: false, configurable: false }); 0')).successful);
  const r = await run(c, 'fixed', { fixed: 2 });
  assert.is(r.successful, false);
  assert.match(r.traceback!, /the parameter "fixed" cannot be set as a global/);
  await stillUsable(c, 'a refused parameter');
  // the command makes its own parameter non-deletable: removing it afterwards throws; the response stands, a WARN says so
  const kept = await run(c, 'Object.defineProperty(globalThis, "p", { value: p, configurable: false }), p', { p: 7 });
  assert.is(kept.successful, true);
  assert.is(kept.ret, 7);
  assert.ok(
    c.lines.some((l) => /the parameter global "p" could not be removed/.test(l)),
    c.lines.join(''),
  );
  await stillUsable(c, 'a parameter that could not be removed');
  await c.client.stopServices();
});

test('a value larger than one message: a failed response naming the limit; a request larger than one message is refused at push', async () => {
  const c = await cluster(2, { maxMessageBytes: 4096 });
  const r = await run(c, '"x".repeat(10000)');
  assert.is(r.successful, false);
  assert.match(r.traceback!, /MessageTooLargeError: .* encodes to \d+ bytes and a message carries at most 4096/);
  await stillUsable(c, 'a response too large to send');
  const before = c.client.getServerStatus()[1];
  assert.throws(
    () => c.client.pushCommandRequest('p.length', { targetServer: 1, parameters: { p: 'y'.repeat(10000) } }),
    (e: Error) => e instanceof MessageTooLargeError && /at most 4096/.test(e.message),
  );
  assert.is(c.client.getServerStatus()[1].busy, before.busy, 'the refused request did not occupy the server');
  await stillUsable(c, 'a request refused at push');
  await c.client.stopServices();
});

test("the transport refusing the request: status 'send failed', the server stays free for the next one", async () => {
  const c = await cluster(2);
  c.hub.freeze(0); // a frozen rank cannot send: the client's send throws
  const ids = c.client.pushCommandRequest('1+1', { targetServer: 1 });
  c.hub.thaw(0);
  const [r] = await c.client.getCommandResponse(ids, { block: true, waitTimeoutMs: 5000 });
  assert.is(r.status, 'send failed');
  assert.match(r.traceback!, /could not be sent to MPIServer-1@host1 \(pid 1001\)/);
  await stillUsable(c, 'a failed send');
  await c.client.stopServices();
});

// ---- the property: hostile commands never leave a request unanswered ------------

const hostileValues = [
  'Object.create(null)',
  '{ message: Object.create(null) }',
  '{ get message() { throw new Error("m") } }',
  '{ name: Object.create(null), message: Symbol("m") }',
  'new Proxy({}, { get() { throw 1 }, has() { throw 2 }, getPrototypeOf() { throw 3 } })',
  '{ f() {}, [Symbol.for("nodejs.util.inspect.custom")]() { throw new Error("i") } }',
  '{ get then() { throw new Error("t") } }',
  '{ then(r) { r(Object.create(null)) } }',
  '{ then(_, j) { j({ message: Object.create(null) }) } }',
  '(() => { const o = {}; o.o = o; return o; })()',
  'Symbol("s")',
  '10n ** 40n',
  'function f() {}',
  'new WeakMap()',
  'undefined',
  'null',
  'NaN',
  '"\\ud800"',
  'new Error("plain")',
  '(() => { const e = new Error("e"); e.name = Object.create(null); return e; })()',
  'new Uint8Array(3)',
  '[1, , 3]',
];
const shape = fc.record({
  how: fc.constantFrom('return', 'throw', 'reject', 'resolve', 'async-throw'),
  value: fc.constantFrom(...hostileValues),
});
const asCommand = ({ how, value }: { how: string; value: string }): string =>
  ({
    return: `(${value})`,
    throw: `(() => { throw (${value}); })()`,
    reject: `Promise.reject(${value})`,
    resolve: `Promise.resolve().then(() => (${value}))`,
    'async-throw': `(async () => { await null; throw (${value}); })()`,
  })[how]!;

export const HOSTILE_RUNS = 150;

test(`property (${HOSTILE_RUNS} runs): any hostile command gets exactly one response and the server answers 1+1 afterwards`, async () => {
  const c = await cluster(2);
  let requests = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(shape, { minLength: 1, maxLength: 3 }), async (shapes) => {
      for (const s of shapes) {
        const r = await run(c, asCommand(s));
        requests++;
        assert.is(r.status, 'response received');
        if (!r.successful) assert.type(r.traceback, 'string');
      }
      const ok = await run(c, '1+1');
      requests++;
      assert.is(ok.ret, 2);
    }),
    { numRuns: HOSTILE_RUNS },
  );
  assert.is(c.hub.endpoint(1).sentByTag.get(Tag.RESPONSE), requests, 'one response per request, no more');
  await c.client.stopServices();
});

test.run();
