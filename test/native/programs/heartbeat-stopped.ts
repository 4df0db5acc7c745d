// A SIGSTOPped rank does not answer heartbeats; after SIGCONT it does.
// Rank 1 enables the heartbeat and idles in recvAsync; rank 0 stops it for real.
import { report, sleep, world } from './common.js';

const REQ = 200,
  REPLY = 201;
const c = world.dup();
if (world.rank === 1) {
  c.enableHeartbeat(REQ, REPLY);
  c.setHeartbeatPayload(Buffer.from('alive'));
  world.send(Buffer.from(String(process.pid)), 0, 1);
  await c.recvAsync(0, 2); // the end
  report({ ended: true });
} else {
  const pid = Number(world.recv(1, 1).data.toString());
  const waitReply = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (c.iprobe(1, REPLY)) return c.recv(1, REPLY).data.toString();
      await sleep(2);
    }
    return undefined;
  };
  c.send(Buffer.from('p0'), 1, REQ);
  const before = await waitReply(20_000);
  process.kill(pid, 'SIGSTOP');
  await sleep(100);
  c.send(Buffer.from('p1'), 1, REQ);
  const whileStopped = await waitReply(1500);
  process.kill(pid, 'SIGCONT');
  const afterCont = await waitReply(20_000);
  c.send(Buffer.from('end'), 1, 2);
  report({ before, whileStopped: whileStopped ?? null, afterCont });
}
