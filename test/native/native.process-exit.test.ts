// process.exit() mid-run exits cleanly: MPI finalized by the exit hook, mpirun returns 0.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { explain, runProgram } from './helpers.js';

test('process.exit(0) with a pending recvAsync and live timers ends the job with 0', async () => {
  const r = await runProgram(2, 'process-exit', [], { timeoutMs: 60_000 });
  assert.not.ok(r.timedOut, `hung: ${explain(r)}`);
  assert.is(r.code, 0, explain(r));
  assert.is(r.results.length, 2);
  assert.not.match(r.stderr, /exiting improperly|terminate called|did not call MPI_Finalize/i, r.stderr);
});

test.run();
