// Under real mpirun: the native heartbeat keeps a busy server alive; a
// SIGSTOPped server goes into timeout and recovers after SIGCONT.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { launch, script, workDir } from './launch.js';
import { parseReport } from './scripts/report.js';

const run = await launch(['--server-timeout', '1500', '--tasks', script('tasks'), script('timeout')], { cwd: workDir() });
const cases = parseReport(run.stdout) ?? [];

test('mpirun exits 0 with all cases reported', () => {
  assert.is(run.timedOut, false, 'mpirun hung');
  assert.is(run.code, 0, `exit ${run.code}\n${run.stderr.slice(-3000)}`);
  assert.is(cases.length, 3);
});
for (const c of cases)
  test(c.name, () => {
    assert.equal(c.failures, [], c.failures.join('\n'));
  });
test.run();
