// Hostfiles: Open MPI syntax (comments, slots=, max-slots=), the PBS_NODEFILE
// form, malformed lines named by file:line, and `mpistack hosts --from-pbs`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatHostfile, formatPbsNodefile, fromPbsNodefile, HostfileError, parseHostfile, totalSlots } from '../../scripts/cluster/hostfile.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'mpistack-hostfile-'));

const SEED = `# This is an example hostfile.  Comments begin with #
# The following node is a single processor machine:
foo.example.com
# The following node is a dual-processor machine:
bar.example.com slots=2
# The following node is a quad-processor machine, and
# we absolutely want to disallow over-subscribing it:
yow.example.com slots=4 max-slots=4
10.0.0.7 slots=1   # trailing comment
`;

test("the seed's example hostfile parses: comments skipped, slots and max-slots read", () => {
  assert.equal(parseHostfile(SEED), [
    { host: 'foo.example.com' },
    { host: 'bar.example.com', slots: 2 },
    { host: 'yow.example.com', slots: 4, maxSlots: 4 },
    { host: '10.0.0.7', slots: 1 },
  ]);
  assert.is(totalSlots(parseHostfile(SEED)), 8);
});

test('format -> parse round-trips', () => {
  const e = parseHostfile(SEED);
  assert.equal(parseHostfile(formatHostfile(e)), e);
  assert.is(formatHostfile(e).split('\n')[2], 'yow.example.com slots=4 max-slots=4');
});

test('PBS_NODEFILE form: a host once per core becomes one line with slots=N, first-seen order', () => {
  const pbs = 'n2\nn2\nn1\nn2\nn1\nn3\n';
  assert.equal(fromPbsNodefile(pbs), [
    { host: 'n2', slots: 3 },
    { host: 'n1', slots: 2 },
    { host: 'n3', slots: 1 },
  ]);
  assert.is(formatPbsNodefile([{ host: 'a', slots: 2 }, { host: 'b' }]), 'a\na\nb\n');
  assert.equal(
    fromPbsNodefile(
      formatPbsNodefile([
        { host: 'a', slots: 2 },
        { host: 'b', slots: 1 },
      ]),
    ),
    [
      { host: 'a', slots: 2 },
      { host: 'b', slots: 1 },
    ],
  );
});

function throwsAt(text: string, line: number, re: RegExp, parse = parseHostfile): void {
  try {
    parse(text, 'hf');
  } catch (e) {
    assert.instance(e, HostfileError);
    assert.is((e as HostfileError).line, line);
    assert.match((e as Error).message, new RegExp(`^hf:${line}: `));
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable(`no error for ${JSON.stringify(text)}`);
}

test('malformed lines: an error naming file:line and the problem', () => {
  throwsAt('a\n# c\nb slots=two\n', 3, /slots="two" is not a positive whole number/);
  throwsAt('a slots=0\n', 1, /positive/);
  throwsAt('a\nb cores=2\n', 2, /"cores=2" is not understood .*HOST \[slots=N\] \[max-slots=N\]/);
  throwsAt('a slots=2 slots=3\n', 1, /slots given twice/);
  throwsAt('a slots=4 max-slots=2\n', 1, /max-slots=2 is below slots=4/);
  throwsAt('\n\n@bad slots=1\n', 3, /"@bad" is not a host name/);
  throwsAt('a\nb slots=2\n', 2, /bare host name/, fromPbsNodefile);
});

test('mpistack hosts --from-pbs FILE --out FILE writes the hostfile; a bad line fails naming it, nothing written', () => {
  const pbs = join(tmp, 'nodefile');
  writeFileSync(pbs, 'h1\nh1\nh2\nh2\n');
  const out = join(tmp, 'hostfile');
  const r = spawnSync(process.execPath, [cli, 'hosts', '--from-pbs', pbs, '--out', out], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(readFileSync(out, 'utf8'), 'h1 slots=2\nh2 slots=2\n');
  const so = spawnSync(process.execPath, [cli, 'hosts', '--from-pbs', pbs], { encoding: 'utf8' });
  assert.is(so.stdout, 'h1 slots=2\nh2 slots=2\n');
  writeFileSync(pbs, 'h1\nh1 slots=x\n');
  const bad = join(tmp, 'bad-out');
  const b = spawnSync(process.execPath, [cli, 'hosts', '--from-pbs', pbs, '--out', bad], { encoding: 'utf8' });
  assert.is(b.status, 1);
  assert.match(b.stderr, `${pbs}:2: `);
  assert.not.ok(existsSync(bad));
});

test.run();
