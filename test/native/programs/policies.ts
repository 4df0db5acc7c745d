// Every wait policy delivers: 100 async round trips under spin, yield and adaptive;
// a bad policy name is a TypeError.
import { mpi, pattern, report, world } from './common.js';
import type { WaitPolicy } from '../../../native/index.js';

const c = world.dup();
const peer = 1 - world.rank;
const res: Record<string, number | boolean | string> = { defaultPolicy: mpi.waitPolicy() };
for (const p of ['spin', 'yield', 'adaptive'] as WaitPolicy[]) {
  mpi.setWaitPolicy(p);
  let ok = 0;
  for (let i = 0; i < 100; i++) {
    const want = pattern(64, i);
    if (world.rank === 0) {
      c.send(want, peer, i);
      const m = await c.recvAsync(peer, i);
      if (m.data.equals(want)) ok++;
    } else {
      const m = await c.recvAsync(peer, i);
      c.send(m.data, peer, i);
      ok++;
    }
  }
  res[p] = ok;
}
try {
  c.recv(peer, 0);
  res.syncOnServedThrows = false;
} catch (e) {
  res.syncOnServedThrows = /dup\(\)/.test((e as Error).message);
}
try {
  mpi.setWaitPolicy('busy' as WaitPolicy);
  res.badThrows = false;
} catch (e) {
  res.badThrows = e instanceof TypeError;
}
world.barrier();
report(res);
