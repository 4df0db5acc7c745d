// Under real mpirun: stopping with requests pending settles each with a
// clear reason, later use is an error, and mpirun exits 0. Also per-server
// log files.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { launch, script, workDir } from './launch.js';
import { parseReport } from './scripts/report.js';

const cwd = workDir();
const run = await launch(['--log-mode', 'per-server', '--log-file', 'run.log', script('stop')], { cwd });
const cases = parseReport(run.stdout) ?? [];

test('mpirun exits 0 with all cases reported', () => {
  assert.is(run.timedOut, false, 'mpirun hung');
  assert.is(run.code, 0, `exit ${run.code}\n${run.stderr.slice(-3000)}`);
  assert.is(cases.length, 2);
});
for (const c of cases)
  test(c.name, () => {
    assert.equal(c.failures, [], c.failures.join('\n'));
  });

test('per-server log mode: one file per server with its lines, the client file with its own', () => {
  const client = readFileSync(join(cwd, 'run.log'), 'utf8');
  assert.match(client, /MPIClient@\S+: MPI Enabled at host/);
  assert.not.match(client, /^\S+ \w+ +MPIServer-/m);
  for (const r of [1, 2, 3]) {
    const f = join(cwd, `run.server-${r}.log`);
    assert.ok(existsSync(f), `${f} exists`);
    const text = readFileSync(f, 'utf8');
    assert.match(text, new RegExp(`MPIServer-${r}@\\S+: MPI Enabled at host \\S+ with rank ${r} as MPIServer`));
    assert.match(text, new RegExp(`MPIServer-${r}@\\S+: stopping: stopped by the test`));
  }
});
test.run();
