// The native heartbeat answers while JS is stuck in a synchronous busy loop.
// Rank 1 enables it and stays busy in JS for 4 s; rank 0 pings it 3 times and
// must get the payload back each time before rank 1's busy time ends.
//
// argv[2], how rank 1 is busy:
//   spin        a plain JS loop (the receive thread polls as usual)
//   poll-spin   it first receives on its own (comm.poll: the receive thread
//               parks), then loops in JS without returning to the event loop
//   poll-other  it receives on its own the whole time, but on another
//               communicator: the heartbeat's must still be answered
import { report, sleep, world } from './common.js';

const REQ = 100,
  REPLY = 101,
  DONE = 102;
const mode = process.argv[2] ?? 'spin';
const c = world.dup();
const other = world.dup();
if (world.rank === 1) {
  c.enableHeartbeat(REQ, REPLY);
  c.setHeartbeatPayload(Buffer.from('busy:1'));
  const stopListening = mode === 'spin' ? undefined : other.listen(() => {});
  world.barrier();
  if (mode === 'poll-spin') for (let i = 0; i < 10; i++) other.poll(100);
  const end = Date.now() + 4000;
  let spins = 0;
  while (Date.now() < end) {
    if (mode === 'poll-other') other.poll(100);
    spins++; // JS never yields here
  }
  world.send(Buffer.from('done'), 0, DONE);
  report({ spins });
  stopListening?.();
} else if (world.rank === 0) {
  world.barrier();
  await sleep(200);
  const replies: string[] = [];
  let doneBeforeReplies = false;
  for (let i = 0; i < 3; i++) {
    c.send(Buffer.from(`ping${i}`), 1, REQ);
    const deadline = Date.now() + 20_000;
    while (!c.iprobe(1, REPLY) && Date.now() < deadline) await sleep(1);
    if (!c.iprobe(1, REPLY)) break;
    replies.push(c.recv(1, REPLY).data.toString());
    if (world.iprobe(1, DONE)) doneBeforeReplies = true;
  }
  const done = world.recv(1, DONE).data.toString();
  report({ replies, doneBeforeReplies, done });
}
