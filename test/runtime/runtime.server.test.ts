// Server execution semantics on the in-process transport: persistent state,
// parameters injected and removed, name() called with parameters, Promises
// awaited, runaway code interrupted, failures reported with their stacks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cluster } from './inprocess.js';

test('state persists, parameters are removed, name() gets the parameters', async () => {
  const { client } = await cluster(2);
  const run = async (command: string, parameters?: Record<string, unknown>, timeoutMs?: number) =>
    (await client.pushCommandRequest(command, { block: true, targetServer: 1, parameters, timeoutMs }))[0];
  assert.ok((await run('var counter = 1; globalThis.tool = { open(vis) { return "opened " + vis; } };')).successful);
  assert.is((await run('++counter')).ret, 2);
  assert.is((await run('tool.open(vis)', { vis: 'x.ms' })).ret, 'opened x.ms');
  assert.is((await run('typeof vis')).ret, 'undefined');
  assert.is((await run('counter', { counter: 40 })).ret, 40);
  assert.is((await run('counter')).ret, 2); // a shadowed global comes back
  await run('globalThis.flagdata = (p) => p.vis + ":" + p.mode');
  const call = await run('flagdata()', { vis: 'v.ms', mode: 'summary' });
  assert.is(call.ret, 'v.ms:summary');
  assert.is(call.mode, 'eval');
  assert.equal((await run('Promise.resolve({ a: [1, 2] })')).ret, { a: [1, 2] });
  const loop = await run('while (true) {}', undefined, 100);
  assert.is(loop.successful, false);
  assert.match(loop.traceback!, /timed out/);
  assert.is((await run('counter')).ret, 2); // still usable
  const hang = await run('new Promise(() => {})', undefined, 50);
  assert.is(hang.successful, false);
  assert.match(hang.traceback!, /TimeoutError/);
  await client.stopServices();
});

test('failures: thrown errors, non-Error values, rejections, a false return is still successful', async () => {
  const { client } = await cluster(2);
  const run = async (command: string) => (await client.pushCommandRequest(command, { block: true }))[0];
  const cases: Array<[string, RegExp]> = [
    ['undefinedName + 1', /ReferenceError: undefinedName is not defined/],
    ['null.x', /TypeError/],
    ['new Array(-1)', /RangeError/],
    ['(() => { throw "plain string"; })()', /plain string/],
    ['Promise.reject(new Error("nope"))', /Error: nope/],
    ['importModule("no-such-module-xyz")', /no-such-module-xyz/],
  ];
  for (const [cmd, re] of cases) {
    const r = await run(cmd);
    assert.is(r.successful, false, cmd);
    assert.is(r.status, 'response received');
    assert.match(r.traceback!, re, cmd);
  }
  const f = await run('false');
  assert.is(f.successful, true);
  assert.is(f.ret, false);
  assert.is(f.traceback, null);
  await client.stopServices();
});

test.run();
