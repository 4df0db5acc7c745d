// One rank of the ping-pong benchmarks (run under mpirun by bench/pingpong.ts and bench/runtime.ts, through _mpi-target.ts).
// argv: sync|async|idle ITERS WARMUP SIZE...   Rank 0 prints RESULT <json>.
// Under a stack (MPISTACK_PREFIX) the binding is the stack's own: its wrapper
// (lib/mpistack/native/index.js) with its addon, never this checkout's wrapper
// over another generation's addon.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ThreadLevel, type MPIBinding } from '../native/api.js';

const [mode, itersArg, warmupArg, ...sizeArgs] = process.argv.slice(2);
const stackModule = process.env.MPISTACK_PREFIX ? join(process.env.MPISTACK_PREFIX, 'lib', 'mpistack', 'native', 'index.js') : undefined;
const bindingModule = stackModule && existsSync(stackModule) ? pathToFileURL(stackModule).href : '../native/index.js';
const mpi = ((await import(bindingModule)) as { loadBinding: () => MPIBinding }).loadBinding();
mpi.initThread(ThreadLevel.MULTIPLE);
const world = mpi.COMM_WORLD;
const comm = world.dup();
const me = world.rank;
const peer = 1 - me;

function stats(us: number[]): { median: number; p99: number } {
  const s = [...us].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] };
}

if (mode === 'idle') {
  // both ranks wait in recvAsync; rank 0's timer ends the wait after IDLE ms
  process.stdout.write(`PID ${me} ${process.pid}\n`);
  const idleMs = Number(itersArg);
  if (me === 0) setTimeout(() => comm.send(Buffer.from('end'), 1, 2), idleMs);
  if (me === 1) {
    await comm.recvAsync(0, 2);
    comm.send(Buffer.from('ok'), 0, 3);
  } else await comm.recvAsync(1, 3);
} else {
  const iters = Number(itersArg);
  const warmup = Number(warmupArg);
  const out: Record<string, { median: number; p99: number }> = {};
  for (const size of sizeArgs.map(Number)) {
    const buf = Buffer.alloc(size, 7);
    const times: number[] = [];
    world.barrier();
    for (let i = 0; i < warmup + iters; i++) {
      const t0 = process.hrtime.bigint();
      if (mode === 'sync') {
        if (me === 0) {
          world.send(buf, peer, 1);
          world.recvInto(buf, peer, 1);
        } else {
          world.recvInto(buf, peer, 1);
          world.send(buf, peer, 1);
        }
      } else {
        if (me === 0) {
          comm.send(buf, peer, 1);
          await comm.recvAsync(peer, 1);
        } else {
          const m = await comm.recvAsync(peer, 1);
          comm.send(m.data, peer, 1);
        }
      }
      if (i >= warmup) times.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    out[size] = stats(times);
  }
  if (me === 0) process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
}
