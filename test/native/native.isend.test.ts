// Issue 19: isend() returns without waiting for the receiver (the runtime's
// transport sends with it, so a rank busy in a command or in JS never stalls
// the rank sending to it), copies the bytes, keeps MPI's order, and hands a
// buffer over 64 KiB to a plain send. See programs/isend.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { explain, runProgram } from './helpers.js';

test('isend returns while the receiver makes no MPI call; everything arrives in order, as it was at isend', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mpistack-isend-'));
  try {
    const r = await runProgram(2, 'isend', [join(dir, 'marker')], { timeoutMs: 120_000 });
    assert.is(r.code, 0, explain(r));
    const recv = r.results.find((x) => x.rank === 1);
    assert.ok(recv, explain(r));
    assert.ok(recv.sawMarker, `rank 0's isends did not all return before rank 1 polled MPI\n${explain(r)}`);
    assert.is(recv.got, 167); // 200 minus the 33 sizes over 64 KiB, which the program skips
    assert.is(recv.wrong, 0, 'a message arrived out of order or changed after isend');
    assert.ok(recv.bigOk, 'the send over 64 KiB');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
