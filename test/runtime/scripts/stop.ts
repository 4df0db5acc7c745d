// Run on rank 0: stop the services with requests still pending (running,
// queued, blocking waiters); each settles with a clear reason; any later
// use is an error; mpirun then exits 0.
import { MPICommandClient, type CommandResponse } from '../../../runtime/index.js';
import { Report, throwsName } from './report.js';

const client = (globalThis as unknown as { client: MPICommandClient }).client;
const report = new Report();

const running = client.pushCommandRequest('new Promise((r) => setTimeout(r, 600_000))', { block: true, targetServer: [1, 2, 3] });
const queuedIds = client.pushCommandRequest('1+1', { targetServer: 2 });
const untargeted = client.pushCommandRequest('2+2');
const blocked = client.getCommandResponse([...queuedIds, ...untargeted], { block: true });
const outcomes = Promise.all(
  [running, blocked].map((p) =>
    p.then(
      (v: CommandResponse[]) => v,
      (e: unknown) => e,
    ),
  ),
);
await new Promise((r) => setTimeout(r, 200));

await report.check('stopServices settles every pending request with a clear reason', async (expect) => {
  const unack = await client.stopServices('stopped by the test');
  expect(unack.length === 0, `every server acknowledged (missing ${unack.join()})`);
  for (const e of await outcomes) {
    expect((e as Error)?.name === 'ServicesStoppedError', `rejected with ServicesStoppedError: ${String(e)}`);
    expect(/stopped by the test/.test((e as Error)?.message ?? ''), 'message gives the reason');
  }
});
await report.check('any use after stopServices is a clear error', async (expect) => {
  expect((await throwsName(() => client.pushCommandRequest('1'), 'ServicesStoppedError')) === undefined, 'push');
  expect((await throwsName(() => client.pushCommandRequest('1', { block: true }), 'ServicesStoppedError')) === undefined, 'blocking push');
  expect((await throwsName(() => client.getCommandResponse([1]), 'ServicesStoppedError')) === undefined, 'get');
  expect((await throwsName(() => client.getServerStatus(), 'ServicesStoppedError')) === undefined, 'status');
  expect((await throwsName(() => client.startServices(), 'ServicesStoppedError')) === undefined, 'restart');
  expect(new MPICommandClient() === client, 'still the singleton');
});
report.print();
