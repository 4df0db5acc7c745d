// MPI is finalized after the process's other 'exit' listeners, on a normal exit and on process.exit().
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { explain, runProgram } from './helpers.js';

for (const how of ['natural', 'exit']) {
  test(`${how === 'exit' ? 'process.exit(0)' : 'normal exit'}: an exit listener still sends, then MPI finalizes and mpirun returns 0`, async () => {
    const r = await runProgram(2, 'exit-listener', [how], { timeoutMs: 60_000 });
    assert.not.ok(r.timedOut, `hung: ${explain(r)}`);
    assert.is(r.code, 0, explain(r));
    assert.is(r.results.find((x) => x.rank === 1)?.got, `bye-${how}`, explain(r));
  });
}

test.run();
