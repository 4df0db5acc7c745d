// Scheduling on the in-process transport (no MPI): targets, holding queue,
// errors at push, server timeout and recovery, stop settling everything.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MPICommandClient } from '../../runtime/client.js';
import { CommandSyntaxError, ServerTimeoutError, ServicesStoppedError, ThreadSupportError, UnknownServerError } from '../../runtime/errors.js';
import { cluster } from './inprocess.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('singleton: new MPICommandClient() returns the same instance', async () => {
  const { client } = await cluster();
  assert.is(new MPICommandClient(), client);
  assert.is(MPICommandClient.instance, client);
  await client.stopServices();
});

test('first available server, then the holding queue in order', async () => {
  const { client } = await cluster();
  const ids = client.pushCommandRequest('new Promise((r) => setTimeout(() => r(server.rank), 30))', { block: false });
  const more = client.pushCommandRequest('new Promise((r) => setTimeout(() => r(server.rank), 30))');
  const more2 = client.pushCommandRequest('new Promise((r) => setTimeout(() => r(server.rank), 30))');
  const queued = client.pushCommandRequest('server.rank');
  assert.equal([...ids, ...more, ...more2, ...queued], [1, 2, 3, 4]);
  const now = client.getCommandResponse([4], { verbose: false });
  assert.equal(now, []); // still holding queue
  const res = await client.getCommandResponse([1, 2, 3, 4], { block: true });
  assert.equal(
    res
      .map((r) => r.server)
      .slice(0, 3)
      .sort(),
    [1, 2, 3],
  );
  assert.equal(res.map((r) => r.ret).slice(0, 3), res.map((r) => r.server).slice(0, 3));
  assert.ok([1, 2, 3].includes(res[3].server!));
  assert.ok(res.every((r) => r.status === 'response received' && r.successful));
  await client.stopServices();
});

test('targeted requests to a busy server wait for it (holding queue) and keep their order', async () => {
  const { client } = await cluster();
  const ids = [
    ...client.pushCommandRequest('globalThis.order = []; new Promise((r) => setTimeout(r, 20))', { targetServer: 2 }),
    ...client.pushCommandRequest('order.push("a")', { targetServer: 2 }),
    ...client.pushCommandRequest('order.push("b"), order.join("")', { targetServer: 2 }),
  ];
  const res = await client.getCommandResponse(ids, { block: true });
  assert.is(res[2].ret, 'ab');
  assert.ok(res.every((r) => r.server === 2));
  await client.stopServices();
});

test('errors at push: unknown target, syntax error, bad parameters', async () => {
  const { client } = await cluster();
  assert.throws(
    () => client.pushCommandRequest('1+1', { targetServer: 7 }),
    (e: Error) => e instanceof UnknownServerError && /7/.test(e.message),
  );
  assert.throws(
    () => client.pushCommandRequest('1+1', { targetServer: 0 }),
    (e: Error) => e instanceof UnknownServerError,
  );
  assert.throws(
    () => client.pushCommandRequest('1+', {}),
    (e: Error) => e instanceof CommandSyntaxError,
  );
  assert.throws(
    () => client.pushCommandRequest('1)+(2', {}),
    (e: Error) => e instanceof CommandSyntaxError,
  );
  try {
    await client.pushCommandRequest('(', { block: true });
    assert.unreachable('should reject');
  } catch (e) {
    assert.instance(e, CommandSyntaxError);
  }
  assert.throws(
    () => client.pushCommandRequest('x', { parameters: [1] as unknown as Record<string, unknown> }),
    (e: Error) => e instanceof TypeError,
  );
  await client.stopServices();
});

test('mode: eval for expressions, exec for statements', async () => {
  const { client } = await cluster();
  const [a, b, c] = await client
    .pushCommandRequest('1+1', { block: true })
    .then(async (r) => [
      r[0],
      (await client.pushCommandRequest('const z = 5;', { block: true }))[0],
      (await client.pushCommandRequest('z * 2', { block: true, targetServer: 1 }))[0],
    ]);
  assert.is(a.mode, 'eval');
  assert.is(a.ret, 2);
  assert.is(b.mode, 'exec');
  assert.is(b.ret, undefined);
  assert.ok(c.successful === (b.server === 1));
  await client.stopServices();
});

test('server timeout: frozen server -> timeout status with host and pid, push refused; thaw -> recovery', async () => {
  const { client, hub } = await cluster();
  hub.freeze(3);
  const ids = client.pushCommandRequest('1+1', { targetServer: 3 });
  const queued = client.pushCommandRequest('2+2', { targetServer: 3 });
  const res = await client.getCommandResponse([...ids, ...queued], { block: true, waitTimeoutMs: 5000 });
  assert.ok(res.every((r) => r.status === 'timeout' && !r.successful));
  assert.match(res[0].traceback!, /host3/);
  assert.match(res[0].traceback!, /pid 1003/);
  assert.is(client.getServerStatus()[3].timeout, true);
  assert.throws(
    () => client.pushCommandRequest('1', { targetServer: 3 }),
    (e: Error) => e instanceof ServerTimeoutError,
  );
  assert.throws(
    () => client.pushCommandRequest('1', { targetServer: [1, 3] }),
    (e: Error) => e instanceof ServerTimeoutError,
  );
  // untargeted work still flows to the others
  const other = await client.submit('server.rank');
  assert.ok(other.server === 1 || other.server === 2);
  hub.thaw(3);
  for (let i = 0; i < 100 && client.getServerStatus()[3].timeout; i++) await sleep(20);
  assert.is(client.getServerStatus()[3].timeout, false);
  const back = await client.submit('server.rank', { targetServer: 3 });
  assert.is(back.ret, 3);
  assert.ok(back.successful);
  await client.stopServices();
});

test('a client whose own event loop was blocked does not blame the servers', async () => {
  const { client, lines } = await cluster();
  await sleep(100);
  const until = Date.now() + 1000; // longer than serverTimeoutMs (400)
  while (Date.now() < until) {
    /* the client is busy, not the servers */
  }
  await sleep(150);
  const st = client.getServerStatus();
  assert.equal(
    [1, 2, 3].map((r) => st[r].timeout),
    [false, false, false],
  );
  assert.not.ok(
    lines.some((l) => /server in timeout/.test(l)),
    'no server was put in timeout',
  );
  assert.is((await client.submit('1+1')).ret, 2);
  await client.stopServices();
});

test('stopServices settles pending requests with a clear reason; any later use is an error', async () => {
  const { client } = await cluster();
  const slow = client.pushCommandRequest('new Promise(() => {})', { block: true, targetServer: 1 });
  const queued = client.pushCommandRequest('1', { targetServer: 1 });
  const blocked = client.getCommandResponse(queued, { block: true });
  const settled = Promise.all(
    [slow, blocked].map((p) =>
      p.then(
        () => undefined,
        (err: unknown) => err,
      ),
    ),
  );
  await sleep(10);
  const unack = await client.stopServices('test stop');
  assert.equal(unack, []);
  for (const e of await settled) {
    assert.instance(e, ServicesStoppedError);
    assert.match((e as Error).message, /test stop/);
  }
  assert.throws(
    () => client.pushCommandRequest('1'),
    (e: Error) => e instanceof ServicesStoppedError,
  );
  assert.throws(
    () => client.getServerStatus(),
    (e: Error) => e instanceof ServicesStoppedError,
  );
  assert.throws(
    () => client.getCommandResponse([1]),
    (e: Error) => e instanceof ServicesStoppedError,
  );
  try {
    await client.startServices();
    assert.unreachable('should throw');
  } catch (e) {
    assert.instance(e, ServicesStoppedError);
  }
  assert.is(new MPICommandClient(), client);
});

test('refuses to start without MPI_THREAD_MULTIPLE', async () => {
  const { client, lines } = await cluster(3, { threadLevel: 0, start: false });
  try {
    await client.startServices();
    assert.unreachable('should reject');
  } catch (e) {
    assert.instance(e, ThreadSupportError);
    assert.match((e as Error).message, /MPI_THREAD_MULTIPLE/);
  }
  assert.ok(lines.some((l) => /WARN .*not thread safe/.test(l)));
  await client.stopServices();
});

test('10,000 queued requests: every id answered exactly once', async () => {
  const { client } = await cluster();
  const ids: number[] = [];
  for (let i = 0; i < 10_000; i++) ids.push(...client.pushCommandRequest('n', { parameters: { n: i } }));
  const res = await client.getCommandResponse(ids, { block: true });
  assert.is(new Set(res.map((r) => r.id)).size, 10_000);
  assert.ok(res.every((r, i) => r.id === ids[i] && r.ret === i && r.successful));
  await client.stopServices();
});

test.run();
