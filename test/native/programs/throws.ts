// Rank 1 throws; rank 0 blocks in a synchronous recv, rank 2 waits in recvAsync.
// The job must end promptly (the thrower's exit aborts the job).
import { world } from './common.js';

const c = world.dup();
world.barrier();
if (world.rank === 1) {
  setTimeout(() => {
    throw new Error('rank 1 fails on purpose');
  }, 200);
} else if (world.rank === 0) {
  world.recv(1, 42); // never sent
} else {
  await c.recvAsync(1, 42); // never sent
}
