// Under real mpirun: with no script, rank 0 opens a REPL with `client` in
// scope and top-level await (commands piped to stdin, as with -stdin 0);
// terminal log mode shows the servers' console output in the client terminal.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { launch, workDir } from './launch.js';

const input = [
  'const [answer] = await client.pushCommandRequest("6 * 7", { block: true, targetServer: 2 })',
  'console.log("ANSWER", answer.ret, answer.server)',
  'await client.pushCommandRequest("console.log(\'shout from\', server.rank)", { block: true, targetServer: [1, 3] })',
  'console.log("STATUS", Object.keys(client.getServerStatus()).join(","))',
  '',
].join('\n');
const run = await launch(['--log-mode', 'terminal'], { cwd: workDir(), input, extraArgs: ['-stdin', '0'] });
// eslint-disable-next-line no-control-regex
run.stdout = run.stdout.replace(/\x1b\[[0-9;]*m/g, '');

test('REPL: top-level await with client in scope, lines in order, exit 0', () => {
  assert.is(run.timedOut, false, 'mpirun hung');
  assert.is(run.code, 0, `exit ${run.code}\n${run.stderr.slice(-3000)}\n${run.stdout.slice(-2000)}`);
  assert.match(run.stdout, /ANSWER 42 2/);
  assert.match(run.stdout, /STATUS 1,2,3/);
});

test("terminal log mode: servers' console output in the client terminal, prefixed with rank and host", () => {
  assert.match(run.stdout, /MPIServer-1@\S+: shout from 1/);
  assert.match(run.stdout, /MPIServer-3@\S+: shout from 3/);
  assert.match(run.stdout, /MPIClient@\S+: MPI Enabled at host \S+ with rank 0 as MPIClient/);
});
test.run();
