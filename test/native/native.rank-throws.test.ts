// A rank that throws makes mpirun end the job promptly, non-zero (no hang).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { explain, runProgram } from './helpers.js';

test('an uncaught exception on one rank ends the whole job with a non-zero code', async () => {
  const r = await runProgram(3, 'throws', [], { timeoutMs: 60_000 });
  assert.not.ok(r.timedOut, `mpirun hung: ${explain(r)}`);
  assert.ok(r.code !== 0 && r.code !== null, explain(r));
  assert.match(r.stderr, /rank 1 fails on purpose/);
});

test.run();
