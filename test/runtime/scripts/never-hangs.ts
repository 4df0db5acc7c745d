// Run on rank 0 with --lost-grace 3000: under real MPI, a command whose
// rejection or value cannot be encoded still gets a failed response and the
// server answers the next request; a request garbled on the wire (so that the
// server cannot read its id) ends as 'lost' naming server, host and pid; a
// long command is reported by the heartbeat and never taken for lost, nor is
// a request waiting behind an event loop blocked outside any command.
import type { MPICommandClient } from '../../../runtime/index.js';
import { Report } from './report.js';

const client = (globalThis as unknown as { client: MPICommandClient }).client;
const report = new Report();
// every wait is bounded: on failure the case reports instead of the job hanging
const run = async (command: string, targetServer = 1) => {
  const ids = client.pushCommandRequest(command, { targetServer });
  return (await client.getCommandResponse(ids, { block: true, waitTimeoutMs: 20_000 }))[0];
};

await report.check('a rejection whose message has no string form: a failed response, and the server answers 1+1', async (expect) => {
  const r = await run('Promise.reject({ message: Object.create(null) })');
  expect(r.status === 'response received' && !r.successful, `status ${r.status}`);
  expect(/has no string form/.test(r.traceback ?? ''), `traceback: ${r.traceback}`);
  expect((await run('1+1')).ret === 2, 'server 1 answers 1+1');
});

await report.check('a value neither structured clone nor inspect can encode: a failed response saying so', async (expect) => {
  const r = await run('({ f() {}, [Symbol.for("nodejs.util.inspect.custom")]() { throw new Error("no inspect") } })', 2);
  expect(!r.successful && /^ValueEncodingError: .*no inspect/.test(r.traceback ?? ''), `traceback: ${r.traceback}`);
  expect((await run('2+2', 2)).ret === 4, 'server 2 answers 2+2');
});

await report.check("a request garbled on the wire: 'lost', naming server, host and pid; the server is usable", async (expect) => {
  const st = client.getServerStatus()[3];
  const transport = (client as unknown as { transport: { send(d: number, t: number, b: Uint8Array): void } }).transport;
  const send = transport.send.bind(transport);
  transport.send = (dest, tag, data) => {
    transport.send = send; // only this one frame: its header cut short, as a broken link would
    send(dest, tag, data.subarray(0, 3));
  };
  const r = await run('1+1', 3);
  expect(r.status === 'lost' && !r.successful, `status ${r.status}`);
  expect(
    (r.traceback ?? '').startsWith('RequestLostError: ') && r.traceback!.includes(`MPIServer-3 at host ${st.host} (pid ${st.pid})`),
    `traceback: ${r.traceback}`,
  );
  expect((await run('3+3', 3)).ret === 6, 'server 3 answers 3+3');
});

await report.check('a command longer than the grace period: its id is in the heartbeat, it is not lost', async (expect) => {
  const ids = client.pushCommandRequest('blockFor(6000)', { targetServer: 1 });
  await new Promise((r) => setTimeout(r, 4000));
  const st = client.getServerStatus()[1];
  expect(st.heartbeatBusy && st.heartbeatRequestId === ids[0], `heartbeat: busy ${st.heartbeatBusy}, request ${st.heartbeatRequestId}`);
  const [r] = await client.getCommandResponse(ids, { block: true, waitTimeoutMs: 20_000 });
  expect(r.status === 'response received' && r.ret === 6000, `status ${r.status}`);
});

await report.check('a request waiting behind JavaScript that blocks outside any command (a timer) is not taken for lost', async (expect) => {
  // the server's event loop is blocked longer than the grace period: the heartbeat says idle, but its tick stands still
  expect((await run('(setTimeout(() => blockFor(6000), 0), "scheduled")', 2)).ret === 'scheduled', 'the timer was set');
  const r = await run('"after the block"', 2);
  expect(r.status === 'response received' && r.ret === 'after the block', `status ${r.status}: ${r.traceback}`);
});

report.print();
