// Run on rank 0: leave a request running and exit the process without
// stopping the services; the exit hook must stop the servers so that every
// rank finalizes and mpirun exits 0.
import type { MPICommandClient } from '../../../runtime/index.js';

const client = (globalThis as unknown as { client: MPICommandClient }).client;
const [r] = await client.pushCommandRequest('server.rank', { block: true, targetServer: 3 });
process.stdout.write(`EARLY ${String(r.ret)}\n`);
client.pushCommandRequest('new Promise((r) => setTimeout(r, 600_000))', { targetServer: 1 });
process.exit(0);
