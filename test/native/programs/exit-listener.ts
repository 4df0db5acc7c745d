// An 'exit' listener registered after initThread can still use MPI: MPI is
// finalized after every listener (the runtime sends STOP from one).
// argv[2]: 'natural' (the loop drains) or 'exit' (process.exit(0) mid-run).
import { report, world } from './common.js';

const how = process.argv[2];
const c = world.dup();
if (world.rank === 0) {
  process.on('exit', () => {
    world.send(Buffer.from(`bye-${how}`), 1, 9);
  });
  world.barrier();
  // the receive thread runs in both cases; a pending recvAsync keeps the loop
  // alive (like a pending socket read), so only the process.exit() case has one
  await c.recvAsync(1, 3);
  if (how === 'exit')
    c.recvAsync().catch(() => {
      /* pending at exit */
    });
  report({ leaving: how });
  if (how === 'exit') {
    setInterval(() => {
      /* live timer */
    }, 5);
    setTimeout(() => process.exit(0), 50);
  }
} else {
  world.barrier();
  c.send(Buffer.from('x'), 0, 3);
  const m = world.recv(0, 9); // sent from rank 0's exit listener
  report({ got: m.data.toString() });
}
