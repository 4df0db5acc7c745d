// The native heartbeat is a liveness signal: a SIGSTOPped rank does not answer, and answers again after SIGCONT.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { explain, runProgram } from './helpers.js';

test('no heartbeat reply from a stopped process; the reply comes after SIGCONT', async () => {
  const r = await runProgram(2, 'heartbeat-stopped', [], { timeoutMs: 90_000 });
  assert.is(r.code, 0, explain(r));
  const x = r.results.find((y) => y.rank === 0);
  assert.ok(x, explain(r));
  assert.is(x.before, 'alive');
  assert.is(x.whileStopped, null, 'a stopped rank must not answer');
  assert.is(x.afterCont, 'alive');
  assert.ok(r.results.find((y) => y.rank === 1)?.ended);
});

test.run();
