// runtime recipe check (recipes/runtime.ts), run by mpistack-run at 3 ranks: both servers answer a command.
await client.startServices();
const rs = await client.pushCommandRequest('6 * n', { block: true, targetServer: [1, 2], parameters: { n: 7 } });
for (const r of rs) console.log('answer server=' + r.server + ' ret=' + r.ret + ' ok=' + r.successful + ' status=' + r.status);
