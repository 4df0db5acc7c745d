// Issue 15, item 1, the second line of defence: the heartbeat carries what the
// server holds (running id, queued ids), and the client ends a sent request
// its server no longer holds as 'lost' after lostGraceMs, naming server, host
// and pid. The faults are made in transit on the in-process hub: a response
// lost, a response or a request garbled; a long command is never taken for lost.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeHeartbeat, encodeRequest, HEARTBEAT_PING, Tag, type Heartbeat } from '../../runtime/protocol.js';
import { MPICommandServer } from '../../runtime/server.js';
import { InProcessHub } from '../../runtime/transport.js';
import { cluster } from './inprocess.js';

const GRACE = 150;
const opts = { lostGraceMs: GRACE, serverTimeoutMs: 2000, heartbeatIntervalMs: 20 };

async function sendAndWait(c: Awaited<ReturnType<typeof cluster>>, command: string) {
  const ids = c.client.pushCommandRequest(command, { targetServer: 1 });
  const [r] = await c.client.getCommandResponse(ids, { block: true, waitTimeoutMs: 5000 });
  return r;
}

function assertLost(r: { status: string; successful: boolean; traceback: string | null }): void {
  assert.is(r.status, 'lost');
  assert.is(r.successful, false);
  assert.match(
    r.traceback!,
    /^RequestLostError: request \d+ was lost: MPIServer-1 at host host1 \(pid 1001\) no longer holds it: its heartbeat has said idle, 0 queued, for \d+ ms \(lostGraceMs=150\)/,
  );
}

test('a response lost in transit: the request ends as lost, and the server takes the next request', async () => {
  const c = await cluster(2, opts);
  c.hub.inject({ from: 1, to: 0, tag: Tag.RESPONSE, action: { kind: 'drop' } });
  assertLost(await sendAndWait(c, '1+1'));
  assert.ok(
    c.lines.some((l) => /request 1 .* lost: MPIServer-1 at host host1 \(pid 1001\)/.test(l)),
    'the loss is logged',
  );
  assert.is((await sendAndWait(c, '2+2')).ret, 4);
  await c.client.stopServices();
});

test('a response garbled in transit (header unreadable): lost, not a wait forever', async () => {
  const c = await cluster(2, opts);
  c.hub.inject({ from: 1, to: 0, tag: Tag.RESPONSE, action: { kind: 'replace', data: Buffer.from([6, 1, 0]) } });
  assertLost(await sendAndWait(c, '1+1'));
  assert.ok(c.lines.some((l) => /ignored a RESPONSE from rank 1 that does not decode/.test(l)));
  assert.is((await sendAndWait(c, '3+3')).ret, 6);
  await c.client.stopServices();
});

test('a request garbled in transit so that the server cannot read its id: lost', async () => {
  const c = await cluster(2, opts);
  c.hub.inject({ from: 0, to: 1, tag: Tag.REQUEST, action: { kind: 'replace', data: Buffer.from([5, 0, 0]) } });
  assertLost(await sendAndWait(c, '1+1'));
  assert.ok(
    c.lines.some((l) => /ignored a message with tag 12 from rank 0 that does not decode/.test(l)),
    c.lines.join(''),
  );
  assert.is((await sendAndWait(c, '4+4')).ret, 8);
  await c.client.stopServices();
});

test('a request whose header is readable but whose parameters are not: answered with a failed response, not lost', async () => {
  const c = await cluster(2, opts);
  const frame = encodeRequest(
    { id: 1, command: 'p', mode: 'eval', callWithParameters: false, hasParameters: true, parameters: undefined, timeoutMs: 0 },
    Buffer.from([99]),
  );
  c.hub.inject({ from: 0, to: 1, tag: Tag.REQUEST, action: { kind: 'replace', data: frame } });
  const r = await sendAndWait(c, 'p');
  assert.is(r.status, 'response received');
  assert.is(r.successful, false);
  assert.match(r.traceback!, /ProtocolError: REQUEST 1: its parameters do not decode: unknown value codec 99/);
  await c.client.stopServices();
});

test('a command running far longer than lostGraceMs is held, not lost; the heartbeat names it', async () => {
  const c = await cluster(2, opts);
  const ids = c.client.pushCommandRequest('new Promise((r) => setTimeout(() => r("done"), 20 * 150))', { targetServer: 1 });
  let seen = false;
  for (let i = 0; i < 200 && !seen; i++) {
    await new Promise((r) => setTimeout(r, 10));
    seen = c.client.getServerStatus()[1].heartbeatRequestId === ids[0];
  }
  assert.ok(seen, 'the heartbeat reported the running request id');
  const [r] = await c.client.getCommandResponse(ids, { block: true, waitTimeoutMs: 10_000 });
  assert.is(r.status, 'response received');
  assert.is(r.ret, 'done');
  await c.client.stopServices();
});

test('the server heartbeat: running id and the queued ids, oldest first, kept current', async () => {
  const hub = new InProcessHub(2);
  const server = MPICommandServer.create(hub.endpoint(1), { allowMany: true, host: 'h', pid: 1 });
  void server.serve();
  const replies: Heartbeat[] = [];
  hub.endpoint(0).start((m) => {
    if (m.tag === Tag.HEARTBEAT_REPLY) replies.push(decodeHeartbeat(m.data));
  });
  const ping = async (): Promise<Heartbeat> => {
    const n = replies.length;
    hub.endpoint(0).send(1, Tag.HEARTBEAT_REQUEST, HEARTBEAT_PING);
    for (let i = 0; i < 500 && replies.length === n; i++) await new Promise((r) => setImmediate(r));
    return replies[replies.length - 1];
  };
  const held = (h: Heartbeat) => ({ busy: h.busy, requestId: h.requestId, queued: h.queued, queuedCount: h.queuedCount });
  const first = await ping();
  assert.equal(held(first), { busy: false, requestId: 0, queued: [], queuedCount: 0 });
  const req = (id: number, command: string) =>
    encodeRequest({ id, command, mode: 'eval', callWithParameters: false, hasParameters: false, parameters: undefined, timeoutMs: 0 });
  hub.endpoint(0).send(1, Tag.REQUEST, req(7, 'new Promise((r) => setTimeout(r, 400))'));
  hub.endpoint(0).send(1, Tag.REQUEST, req(8, '1'));
  hub.endpoint(0).send(1, Tag.REQUEST, req(9, '2'));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(held(await ping()), { busy: true, requestId: 7, queued: [8, 9], queuedCount: 2 });
  await new Promise((r) => setTimeout(r, 700));
  const last = await ping();
  assert.equal(held(last), { busy: false, requestId: 0, queued: [], queuedCount: 0 });
  assert.ok(last.tick > first.tick, `the tick advances while the event loop runs (${first.tick} -> ${last.tick})`);
});

test.run();
