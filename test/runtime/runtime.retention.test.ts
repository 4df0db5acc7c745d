// Issue 16: the client's request table is bounded. A finished response stays
// retrievable until `retainResponses` more have been handed out after it (so
// polling the same ids keeps working), or, never asked for, until 10x as many
// that finished later wait unread; an id let go throws ResponseExpiredError,
// one never given RangeError (in-process transport).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ResponseExpiredError } from '../../runtime/errors.js';
import { DEFAULT_RETAIN_RESPONSES, RequestTable } from '../../runtime/requests.js';
import { cluster } from './inprocess.js';

test('handed-out responses: the last retainResponses stay retrievable, older ones expire; memory stays bounded', async () => {
  const { client } = await cluster(3, { retainResponses: 100 });
  const ids: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const [r] = await client.pushCommandRequest('i * 3', { block: true, parameters: { i } });
    ids.push(r.id);
    assert.ok(client.retainedRequests <= 101, `${client.retainedRequests} kept`);
  }
  // the last 100 still answer, again and again (a caller polling the same ids)
  for (let k = 0; k < 2; k++) {
    const again = client.getCommandResponse(ids.slice(-100), { verbose: false });
    assert.equal(
      again.map((r) => r.ret),
      ids.slice(-100).map((_, j) => (900 + j) * 3),
    );
  }
  assert.throws(
    () => client.getCommandResponse([ids[0]]),
    (e: Error) => e instanceof ResponseExpiredError && e.requestId === ids[0],
  );
  try {
    await client.getCommandResponse([ids[10]], { block: true });
    assert.unreachable('expired');
  } catch (e) {
    assert.instance(e, ResponseExpiredError);
  }
  assert.throws(
    () => client.getCommandResponse([ids[999] + 1]),
    (e: Error) => e instanceof RangeError && !(e instanceof ResponseExpiredError),
  );
  await client.stopServices();
});

test('unread responses are kept until asked for, up to 10x retainResponses; the oldest unread go first, logged', async () => {
  const { client, lines } = await cluster(3, { retainResponses: 10 });
  const ids: number[] = [];
  for (let i = 0; i < 150; i++) ids.push(...client.pushCommandRequest('i', { parameters: { i } }));
  // a blocking wait that has started keeps its requests whatever the table does
  const all = await client.getCommandResponse(ids, { block: true });
  assert.equal(
    all.map((r) => r.ret),
    ids.map((_, i) => i),
  );
  // fire and forget: nobody reads these
  const unread: number[] = [];
  for (let i = 0; i < 150; i++) unread.push(...client.pushCommandRequest('i', { parameters: { i } }));
  await client.pushCommandRequest('0', { block: true, targetServer: [1, 2] });
  for (let k = 0; k < 100 && client.getCommandResponse(unread.slice(-1), { verbose: false }).length === 0; k++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(client.retainedRequests <= 10 + 100 + 2, `${client.retainedRequests} kept`);
  // about the 100 that finished last are kept (the two blocking ones counted while they were unread), the first to finish are gone
  // (finish order, which pipelining may interleave)
  let kept = 0;
  for (const id of unread) {
    try {
      const [r] = client.getCommandResponse([id], { verbose: false });
      assert.is(r.id, id);
      kept++;
    } catch (e) {
      assert.instance(e, ResponseExpiredError);
    }
  }
  assert.ok(kept >= 98 && kept <= 100, `${kept} kept`);
  assert.ok(
    lines.some((l) => /finished responses dropped unread so far/.test(l)),
    'the drop is logged',
  );
  await client.stopServices();
});

test('pending requests are never dropped, however many', async () => {
  const { client } = await cluster(2, { retainResponses: 5 });
  const slow = client.pushCommandRequest('new Promise((r) => setTimeout(() => r("slow"), 50))', { targetServer: 1 });
  const queued: number[] = [];
  for (let i = 0; i < 200; i++) queued.push(...client.pushCommandRequest('i', { parameters: { i }, targetServer: 1 }));
  assert.ok(client.retainedRequests >= 201);
  const [s] = await client.getCommandResponse(slow, { block: true });
  assert.is(s.ret, 'slow');
  const last = await client.getCommandResponse(queued.slice(-1), { block: true });
  assert.is(last[0].ret, 199);
  await client.stopServices();
});

test('the table itself: never-read ones go oldest first, among others read, with the stale entries of the unread order skipped', () => {
  const dropped: number[] = [];
  const table = new RequestTable(DEFAULT_RETAIN_RESPONSES, (req) => dropped.push(req.rec.id));
  const cap = 10 * DEFAULT_RETAIN_RESPONSES;
  const n = 300_000;
  // every 7th is read as it finishes (an entry the unread order skips later); the others never are
  for (let i = 0; i < n; i++) {
    const r = table.add({
      command: 'x',
      mode: 'eval',
      parameters: undefined,
      target: undefined,
      timeoutMs: 0,
      callWithParameters: false,
      encodedParameters: undefined,
    });
    table.settle(r, undefined);
    if (r.rec.id % 7 === 0) table.handOut([r]);
  }
  const unread = n - Math.floor(n / 7);
  // the cap counts a response before its caller reads it: cap - 1 or cap never-read ones stay
  assert.ok(dropped.length >= unread - cap && dropped.length <= unread - cap + 1, `${dropped.length} let go`);
  assert.ok(
    dropped.every((id, i) => id % 7 !== 0 && (i === 0 || id > dropped[i - 1])),
    'only never-read ones, oldest first',
  );
  assert.is(dropped[0], 1);
});

test.run();
