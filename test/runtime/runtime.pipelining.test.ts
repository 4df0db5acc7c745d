// Issue 19: pipelining and batches on the in-process transport. Short
// commands (by their last run time) go to busy servers several at a time, in
// one BATCH message each way, each answered exactly once and in push order
// per server; a command never seen, or one that ran long, only goes to an
// idle server, and nothing is queued behind it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tag } from '../../runtime/protocol.js';
import { cluster } from './inprocess.js';

const tick = () => new Promise((r) => setImmediate(r));

test('a burst of short commands: batched both ways, every id answered once, in push order per server', async () => {
  const c = await cluster(3);
  await c.client.pushCommandRequest('globalThis.seq = 0; 0', { block: true, targetServer: [1, 2] });
  for (let i = 0; i < 5; i++) await c.client.pushCommandRequest('++seq', { block: true, targetServer: [1, 2] });
  const sentBefore = c.hub.endpoint(0).sentByTag.get(Tag.REQUEST) ?? 0;
  const answeredBefore = [1, 2].map((r) => c.hub.endpoint(r).sentByTag.get(Tag.RESPONSE) ?? 0);
  const ids: number[] = [];
  for (let i = 0; i < 300; i++) ids.push(...c.client.pushCommandRequest('++seq'));
  const res = await c.client.getCommandResponse(ids, { block: true, waitTimeoutMs: 10_000 });
  assert.equal(
    res.map((r) => r.id),
    ids,
  );
  assert.ok(res.every((r) => r.successful && r.status === 'response received'));
  for (const server of [1, 2]) {
    const seqs = res.filter((r) => r.server === server).map((r) => r.ret as number);
    assert.ok(seqs.length > 0, `server ${server} took some`);
    assert.equal(
      seqs,
      [...seqs].sort((a, b) => a - b),
      `server ${server} ran them in push order`,
    );
    assert.equal(new Set(seqs).size, seqs.length);
  }
  const requestMessages = (c.hub.endpoint(0).sentByTag.get(Tag.REQUEST) ?? 0) - sentBefore;
  const responseMessages = [1, 2].reduce((n, r, i) => n + (c.hub.endpoint(r).sentByTag.get(Tag.RESPONSE) ?? 0) - answeredBefore[i], 0);
  assert.ok(requestMessages < 300, `${requestMessages} request messages for 300 requests`);
  assert.ok(responseMessages < 300, `${responseMessages} response messages for 300 responses`);
  await c.client.stopServices();
});

test('a command never seen goes to an idle server only: short ones are held, not queued behind it', async () => {
  const c = await cluster(3);
  for (let i = 0; i < 3; i++) await c.client.pushCommandRequest('1+1', { block: true, targetServer: [1, 2] });
  const sent = () => c.hub.endpoint(0).sentByTag.get(Tag.REQUEST) ?? 0;
  const before = sent();
  const slow = [
    ...c.client.pushCommandRequest('new Promise((r) => setTimeout(() => r(server.rank), 60))'),
    ...c.client.pushCommandRequest('new Promise((r) => setTimeout(() => r(server.rank), 60))'),
  ];
  const quick: number[] = [];
  for (let i = 0; i < 5; i++) quick.push(...c.client.pushCommandRequest('1+1'));
  await tick();
  await tick();
  assert.is(sent() - before, 2, 'only the two slow ones went out: both servers run a command never seen');
  const st = c.client.getServerStatus();
  assert.equal([st[1].commandId, st[2].commandId].sort(), [...slow].sort());
  const res = await c.client.getCommandResponse([...slow, ...quick], { block: true, waitTimeoutMs: 10_000 });
  assert.ok(res.every((r) => r.successful));
  await c.client.stopServices();
});

test('a long command keeps its server to itself; short ones go to the other server', async () => {
  const c = await cluster(3);
  for (let i = 0; i < 3; i++) await c.client.pushCommandRequest('1+1', { block: true, targetServer: [1, 2] });
  const long = c.client.pushCommandRequest('new Promise((r) => setTimeout(r, 80))', { targetServer: 1 });
  const quick: number[] = [];
  for (let i = 0; i < 20; i++) quick.push(...c.client.pushCommandRequest('1+1'));
  const res = await c.client.getCommandResponse(quick, { block: true, waitTimeoutMs: 10_000 });
  assert.ok(
    res.every((r) => r.server === 2),
    `servers ${res.map((r) => r.server).join()}`,
  );
  assert.is((await c.client.getCommandResponse(long, { block: true }))[0].successful, true);
  await c.client.stopServices();
});

test.run();
