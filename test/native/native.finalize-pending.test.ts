// finalize with a pending recvAsync: rejected with a clear reason, process exits, mpirun returns 0.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { explain, runProgram } from './helpers.js';

/** what programs/finalize-pending.ts reports */
interface Outcome {
  outcome: string;
  name: string;
  message: string;
  cancelled?: boolean;
  finalized: boolean;
}

test('pending recvAsync is rejected at finalize and the job ends with 0', async () => {
  const r = await runProgram<Outcome>(2, 'finalize-pending', [], { timeoutMs: 60_000 });
  assert.not.ok(r.timedOut, `hung: ${explain(r)}`);
  assert.is(r.code, 0, explain(r));
  assert.is(r.results.length, 2, explain(r));
  for (const x of r.results) {
    assert.is(x.outcome, 'rejected');
    assert.ok(x.cancelled, x.name);
    assert.match(x.message, /finalized/);
    assert.ok(x.finalized);
  }
});

test.run();
