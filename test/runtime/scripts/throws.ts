// Run on rank 0: the client script fails; the job must end (non-zero), not hang.
import type { MPICommandClient } from '../../../runtime/index.js';

const client = (globalThis as unknown as { client: MPICommandClient }).client;
client.pushCommandRequest('new Promise((r) => setTimeout(r, 600_000))', { targetServer: 2 });
throw new Error('the client script failed on purpose');
