// The event loop stays free while recvAsync waits; many concurrent recvAsync.
import { pattern, report, sleep, world } from './common.js';

const c = world.dup();
const N = 200;
if (world.rank === 0) {
  await sleep(600); // rank 1 waits meanwhile
  c.send(Buffer.from('wake'), 1, 1);
  // many receives: send in reverse tag order with payloads tied to the tag
  for (let t = N; t >= 1; t--) c.send(pattern(t * 3, t), 1, 1000 + t);
  world.barrier();
} else if (world.rank === 1) {
  let ticks = 0;
  const timer = setInterval(() => {
    ticks++;
  }, 10);
  const m = await c.recvAsync(0, 1);
  const ticksDuringWait = ticks;
  clearInterval(timer);
  // issue all receives first (in increasing tag order), then await them
  const promises = Array.from({ length: N }, (_, i) => c.recvAsync(0, 1000 + i + 1));
  const all = await Promise.all(promises);
  const wrong = all.filter((msg, i) => msg.tag !== 1000 + i + 1 || !msg.data.equals(pattern((i + 1) * 3, i + 1))).length;
  world.barrier();
  report({ woke: m.data.toString(), ticksDuringWait, received: all.length, wrong });
}
