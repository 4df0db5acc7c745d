// Run on rank 0 with --server-timeout 1500: a server busy in long JavaScript
// stays alive (native heartbeat); a SIGSTOPped one goes into timeout (status
// 'timeout' naming host and pid, pushes refused) and recovers after SIGCONT.
import type { MPICommandClient } from '../../../runtime/index.js';
import { Report, throwsName } from './report.js';

const client = (globalThis as unknown as { client: MPICommandClient }).client;
const report = new Report();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

await report.check('a server blocked in JavaScript longer than serverTimeoutMs stays alive (busy)', async (expect) => {
  const ids = client.pushCommandRequest('blockFor(4500)', { targetServer: 1 });
  await sleep(3000);
  const st = client.getServerStatus()[1];
  expect(st.timeout === false, 'not in timeout');
  expect(st.busy === true, 'busy');
  expect(st.heartbeatBusy === true, 'its native heartbeat says busy');
  const [r] = await client.getCommandResponse(ids, { block: true });
  expect(r.successful && r.ret === 4500 && r.status === 'response received', `answered: ${r.status} ${r.traceback}`);
});

const pid = client.getServerStatus()[3].pid;
const host = client.getServerStatus()[3].host;
await report.check('SIGSTOP: requests get status timeout naming host and pid; pushes are refused', async (expect) => {
  process.kill(pid, 'SIGSTOP');
  const ids = client.pushCommandRequest('1+1', { targetServer: 3 });
  const [r] = await client.getCommandResponse(ids, { block: true, waitTimeoutMs: 20_000 });
  expect(r.status === 'timeout', `status ${r.status}`);
  expect(r.successful === false, 'not successful');
  expect(r.traceback?.includes(`pid ${pid}`) && r.traceback.includes(host), `traceback names host and pid: ${r.traceback}`);
  expect(client.getServerStatus()[3].timeout === true, 'status shows timeout');
  expect((await throwsName(() => client.pushCommandRequest('1', { targetServer: 3 }), 'ServerTimeoutError')) === undefined, 'push to 3 refused');
  expect(
    (await throwsName(() => client.pushCommandRequest('1', { targetServer: [1, 3], block: true }), 'ServerTimeoutError')) === undefined,
    'blocking push to [1,3] refused',
  );
  const others = await client.pushCommandRequest('server.rank', { block: true });
  expect(others[0].successful && [1, 2].includes(others[0].ret as number), 'untargeted work goes to the others');
});

await report.check('SIGCONT: the server recovers and is usable', async (expect) => {
  process.kill(pid, 'SIGCONT');
  for (let i = 0; i < 200 && client.getServerStatus()[3].timeout; i++) await sleep(50);
  expect(client.getServerStatus()[3].timeout === false, 'out of timeout');
  const [r] = await client.pushCommandRequest('server.rank * 10', { block: true, targetServer: 3 });
  expect(r.successful && r.ret === 30, `answers: ${String(r.ret)} ${r.traceback}`);
});

report.print();
