// Under real mpirun: the client exits without stopping the services (exit
// hook stops the servers, mpirun exits 0), and a failing client script ends
// the job with a non-zero code instead of hanging.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { launch, script, workDir } from './launch.js';

const [early, failing, badTasks] = await Promise.all([
  launch([script('exit-early')], { cwd: workDir(), timeoutMs: 60_000 }),
  launch([script('throws')], { cwd: workDir(), timeoutMs: 60_000 }),
  launch(['--tasks', 'no-such-tasks.js', script('exit-early')], { cwd: workDir(), timeoutMs: 60_000 }),
]);

test('process.exit(0) with a request running: servers are stopped at exit and mpirun exits 0', () => {
  assert.is(early.timedOut, false, 'mpirun hung');
  assert.match(early.stdout, /EARLY 3/);
  assert.is(early.code, 0, `exit ${early.code}\n${early.stderr.slice(-2000)}`);
});

test('a failing client script ends the job with a non-zero code and its error', () => {
  assert.is(failing.timedOut, false, 'mpirun hung');
  assert.ok(failing.code !== 0, 'non-zero exit');
  assert.match(failing.stderr, /the client script failed on purpose/);
});

test('a task module that cannot be imported: startServices fails with a clear error naming it, the job ends', () => {
  assert.is(badTasks.timedOut, false, 'mpirun hung');
  assert.ok(badTasks.code !== 0, 'non-zero exit');
  assert.match(badTasks.stderr, /StartupError: startServices\(\): server \d: task module \S*no-such-tasks\.js failed to import on MPIServer-\d/);
  assert.not.match(badTasks.stdout, /EARLY/);
});
test.run();
