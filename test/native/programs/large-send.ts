// Two node ranks: buffers of 2 GiB or more are refused before anything is
// sent (the typed wrapper and the C++ layer each), never cast to a truncated
// int count; a bcast whose root buffer is that large fails on every rank
// together, and the next bcast works.
import { mpi, report, world } from './common.js';

type NativeSend = { native: { send(h: number, b: Uint8Array, dest: number, tag: number): void; setHeartbeatPayload(h: number, b: Uint8Array): void } };
const native = (mpi as unknown as NativeSend).native;
const outcome = (f: () => unknown) => {
  try {
    f();
    return 'no error';
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
};
const checks: Record<string, unknown> = {};
const twoGiB = Buffer.allocUnsafe(2 ** 31); // not touched: no memory is used for it
const fourGiB = Buffer.allocUnsafe(2 ** 32); // cast to int this would be 0 bytes
if (world.rank === 0) {
  checks.send = outcome(() => world.send(twoGiB, 1, 5));
  checks.nativeSend2 = outcome(() => native.send(0, twoGiB, 1, 5));
  checks.nativeSend4 = outcome(() => native.send(0, fourGiB, 1, 5));
  checks.heartbeatPayload = outcome(() => native.setHeartbeatPayload(0, fourGiB));
  world.send(Buffer.from('done'), 1, 6);
} else {
  world.recv(0, 6);
  // MPI keeps the order of messages from one sender: anything sent on tag 5 before 'done' is here now
  checks.nothingOnTag5 = world.iprobe(0, 5) === undefined;
}
checks.bcast = outcome(() => world.bcast(world.rank === 0 ? fourGiB : undefined, 0));
checks.bcastAfter = world.bcast(world.rank === 0 ? Buffer.from('next') : undefined, 0).toString();
report({ checks });
