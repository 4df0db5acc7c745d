// finalize() with a recvAsync pending: the promise is rejected, the process exits.
import { ReceiveCancelledError } from '../../../native/index.js';
import { mpi, report, world } from './common.js';

const c = world.dup();
const pending = c.recvAsync(0, 99).then(
  () => ({ outcome: 'resolved', name: '', message: '' }),
  (e: Error) => ({ outcome: 'rejected', name: e.name, message: e.message, cancelled: e instanceof ReceiveCancelledError }),
);
world.barrier();
mpi.finalize();
const res = await pending;
report({ ...res, finalized: mpi.isFinalized() });
