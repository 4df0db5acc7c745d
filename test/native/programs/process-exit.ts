// process.exit() mid-run (receive thread running, a recvAsync pending, a timer
// active): the exit hook joins the thread and finalizes; mpirun sees success.
import { report, world } from './common.js';

const c = world.dup();
c.recvAsync().catch(() => {
  /* never settles before exit */
});
setInterval(() => {
  /* keeps the loop busy */
}, 5);
world.barrier();
report({ exiting: true });
setTimeout(() => process.exit(0), 100);
