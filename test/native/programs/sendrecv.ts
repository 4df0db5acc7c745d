// Rank 0 sends 0 B, 8 B, 1 MiB, 64 MiB to rank 1: by recv, recvInto and recvAsync.
import { pattern, report, world } from './common.js';

const sizes = [0, 8, 1 << 20, 64 << 20];
const async = world.dup();
if (world.rank === 0) {
  sizes.forEach((n, i) => {
    const p = pattern(n, i + 1);
    world.send(p, 1, 10 + i); // for recv
    world.send(p, 1, 20 + i); // for recvInto
    async.send(p, 1, 30 + i); // for recvAsync
  });
  report({ sent: sizes.length });
} else if (world.rank === 1) {
  const checks: Record<string, boolean | number> = {};
  for (let i = 0; i < sizes.length; i++) {
    const n = sizes[i];
    const want = pattern(n, i + 1);
    const m = world.recv(0, 10 + i);
    checks[`recv ${n}`] = m.count === n && m.source === 0 && m.tag === 10 + i && m.data.length === n && m.data.equals(want);
    const into = Buffer.alloc(n + 16, 0xee);
    const st = world.recvInto(into, 0, 20 + i);
    checks[`recvInto ${n}`] = st.count === n && st.tag === 20 + i && into.subarray(0, n).equals(want) && into.subarray(n).every((b) => b === 0xee);
    const a = await async.recvAsync(0, 30 + i);
    checks[`recvAsync ${n}`] = a.count === n && a.source === 0 && a.tag === 30 + i && a.data.equals(want);
  }
  report({ checks });
}
