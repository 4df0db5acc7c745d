// Under real mpirun with 4 ranks (one launch): the seed's command matrix,
// failure cases, state, parameters, busy targets, 10,000 queued requests,
// ParallelTaskHelper, the MPI Enabled lines and server output in the log file.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { launch, script, workDir } from './launch.js';
import { parseReport } from './scripts/report.js';

const cwd = workDir();
const run = await launch(['--tasks', script('tasks'), script('suite')], { cwd });
const cases = parseReport(run.stdout) ?? [];
const log = (() => {
  try {
    return readFileSync(join(cwd, 'mpistack.log'), 'utf8');
  } catch {
    return '';
  }
})();

test('mpirun exits 0 and the script reports its cases', () => {
  assert.is(run.timedOut, false, 'mpirun hung');
  assert.is(run.code, 0, `exit ${run.code}\n${run.stderr.slice(-3000)}\n${run.stdout.slice(-2000)}`);
  assert.ok(cases.length >= 48 + 10, `only ${cases.length} cases reported`);
  assert.is(cases.filter((c) => c.name.startsWith('matrix ')).length, 48);
});

for (const c of cases) {
  test(c.name, () => {
    assert.equal(c.failures, [], c.failures.join('\n'));
  });
}

test('the log has the MPI Enabled lines for the client and every server', () => {
  assert.match(log, /MPIClient@\S+: MPI Enabled at host \S+ with rank 0 as MPIClient using MPI version \d+\.\d+ from Open MPI v[\d.]+ implementation/);
  for (const r of [1, 2, 3])
    assert.match(
      log,
      new RegExp(`MPIServer-${r}@[\\w.-]+: MPI Enabled at host \\S+ with rank ${r} as MPIServer using MPI version \\d+\\.\\d+ from .+ implementation`),
    );
});

test('server console output reaches the unified log, prefixed with rank and host', () => {
  for (const r of [1, 2, 3]) assert.match(log, new RegExp(`INFO  MPIServer-${r}@[\\w.-]+: hello from ${r}`));
  assert.match(log, /MPIClient@\S+: MPICommandClient services stopped/);
});

test.run();
