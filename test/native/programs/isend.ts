// isend never waits for the receiver. Rank 1 makes no MPI call at all until
// rank 0 has written a marker file (it watches the file system instead), and
// rank 0 writes it only after its isends have returned: with a send that
// waits for the receiver to poll (Open MPI's MPI_Send over shared memory, for
// any message over 256 bytes), rank 0 would never get there and rank 1 would
// give up after 60 s. Then rank 1 receives everything: order and bytes as
// they were at isend (rank 0 overwrites its buffer right after each one).
// The last isends may still be in flight when rank 0 finalizes.
// argv[2]: the marker file.
import { existsSync, writeFileSync } from 'node:fs';
import { pattern, report, world } from './common.js';

const marker = process.argv[2];
const N = 200;
const SIZES = [8, 300, 1000, 4096, 65536, 65537]; // around the fast box (256), the copy limit (64 KiB)
const c = world.dup();
if (world.rank === 0) {
  const buf = Buffer.alloc(65537);
  for (let i = 0; i < N; i++) {
    const size = SIZES[i % SIZES.length];
    if (size > 65536) continue; // over the copy limit isend is send: it waits (tested on its own below)
    pattern(size, i).copy(buf);
    c.isend(buf.subarray(0, size), 1, 7);
    buf.fill(0xff); // isend copied: the receiver must see the pattern
  }
  writeFileSync(marker, 'sent');
  // over the copy limit: a plain send, after the receiver polls again
  c.isend(pattern(65537, 999), 1, 8);
  report({ wrote: true });
} else if (world.rank === 1) {
  const deadline = Date.now() + 60_000;
  while (!existsSync(marker) && Date.now() < deadline) {
    /* no MPI call here */
  }
  const sawMarker = existsSync(marker);
  let wrong = 0;
  let got = 0;
  for (let i = 0; i < N; i++) {
    const size = SIZES[i % SIZES.length];
    if (size > 65536) continue;
    const m = c.recv(0, 7);
    got++;
    if (!m.data.equals(pattern(size, i))) wrong++;
  }
  const big = c.recv(0, 8);
  report({ sawMarker, got, wrong, bigOk: big.data.equals(pattern(65537, 999)) });
}
