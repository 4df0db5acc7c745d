// Issue 15, item 1, under real mpirun: bad values get failed responses, a
// request the server never saw ends as 'lost', a long command is not lost.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { launch, script, workDir } from './launch.js';
import { parseReport } from './scripts/report.js';

const run = await launch(['--server-timeout', '10000', '--lost-grace', '3000', '--tasks', script('tasks'), script('never-hangs')], { cwd: workDir() });
const cases = parseReport(run.stdout) ?? [];

test('mpirun exits 0 with all cases reported', () => {
  assert.is(run.timedOut, false, 'mpirun hung');
  assert.is(run.code, 0, `exit ${run.code}\n${run.stderr.slice(-3000)}`);
  assert.is(cases.length, 5);
});
for (const c of cases)
  test(c.name, () => {
    assert.equal(c.failures, [], c.failures.join('\n'));
  });
test.run();
