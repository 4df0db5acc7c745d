// Issue 15, item 5: range checks on job and hostfile values. Counts are bounded
// by what the schedulers and MPI hold (never rounded into 1.2e+29), memory
// needs its unit and a finite amount, slots= fits Open MPI's int, the log file
// stays in the workdir, `hosts --out DIR` fails cleanly without leaving a temp
// file, and IPv6 addresses are hosts, as the parser's format comment says.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatHostfile, HostfileError, parseHostfile } from '../../scripts/cluster/hostfile.js';
import { JobError, LIMITS, parseCount, parseMemory, resolveJob } from '../../scripts/cluster/job.js';
import { writeReplace } from '../../scripts/pack/fsutil.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'mpistack-ranges-'));
const stack = join(tmp, 'stack', 'mpistack');
mkdirSync(stack, { recursive: true });
writeFileSync(join(stack, 'env.sh'), '# env\n');
const work = join(tmp, 'work');
mkdirSync(work);
writeFileSync(join(work, 'job.js'), 'console.log(1)\n');
const job = (args: string[]) => spawnSync(process.execPath, [cli, 'job', ...args], { encoding: 'utf8' });
const base = (over: Record<string, string>) => {
  const o: Record<string, string> = {
    '--scheduler': 'slurm',
    '--nodes': '2',
    '--cores-per-node': '2',
    '--memory': '8gb',
    '--workdir': work,
    '--stack': stack,
    ...over,
  };
  return Object.entries(o).flat();
};

test('job values past what schedulers and MPI take: refused naming the bound, nothing written', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ '--nodes': '123456789012345678901234567890' }, /--nodes 123456789012345678901234567890: at most 2147483647 \(Torque and Slurm/],
    [{ '--nodes': '2147483648' }, /--nodes 2147483648: at most 2147483647/],
    [{ '--cores-per-node': '70000' }, /--cores-per-node 70000: at most 65533 \(Slurm's ntasks-per-node/],
    [{ '--nodes': '100000', '--cores-per-node': '65533' }, /= 6553300000 ranks: at most 2147483647 \(an MPI rank is an int/],
    [{ '--nodes': '1e3' }, /--nodes "1e3": not a whole number/],
    [{ '--memory': '8' }, /--memory "8": no unit \(a bare number would be taken as bytes\): write e\.g\. 8gb or 8mb/],
    [{ '--memory': `1${'0'.repeat(400)}gb` }, /--memory "10+gb": too large/],
    [{ '--memory': '9000000tb' }, /too large \(at most 8192 tb/],
    [{ '--log': '..' }, /--log "\.\.": a file name inside --workdir/],
    [{ '--log': '.' }, /--log "\.": a file name inside --workdir/],
    [{ '--log': 'a/../../x' }, /--log "a\/\.\.\/\.\.\/x"/],
  ];
  for (const [over, re] of cases) {
    const out = mkdtempSync(join(tmp, 'out-'));
    const r = job([...base(over), '--out', out, '--', 'job.js']);
    assert.is(r.status, 1, `${JSON.stringify(over)}: exit ${r.status} ${r.stdout}`);
    assert.match(r.stderr, re);
    assert.equal(readdirSync(out), [], `${JSON.stringify(over)} wrote something`);
  }
});

test('the same bounds for callers of the library: typed JobError, the option named', () => {
  assert.throws(
    () => parseCount('--nodes', '99999999999999999999'),
    (e: Error) => e instanceof JobError && e.option === '--nodes',
  );
  assert.throws(
    () => parseMemory('1e400gb'),
    (e: Error) => e instanceof JobError && e.option === '--memory',
  );
  assert.throws(
    () => parseMemory(String(2 ** 60)),
    (e: Error) => e instanceof JobError,
  );
  const req = { scheduler: 'torque' as const, nodes: 1e29, coresPerNode: 1, memory: '1gb', workdir: work, stack, script: 'job.js' };
  assert.throws(
    () => resolveJob(req),
    (e: Error) => e instanceof JobError && e.option === '--nodes',
  );
  assert.throws(
    () => resolveJob({ ...req, nodes: Infinity }),
    (e: Error) => e instanceof JobError,
  );
  assert.throws(
    () => resolveJob({ ...req, nodes: 1, coresPerNode: NaN }),
    (e: Error) => e instanceof JobError && e.option === '--cores-per-node',
  );
  assert.is(parseCount('--cores-per-node', String(LIMITS.coresPerNode.max)), 65533);
  assert.equal(parseMemory('8tb'), { amount: 8, unit: 'tb' });
  assert.equal(parseMemory('1b'), { amount: 1, unit: 'b' }); // an explicit unit, even bytes, is the user's choice
});

test('slots= past an int: refused naming file:line', () => {
  const big = `1${'0'.repeat(400)}`;
  for (const line of [`h slots=${big}`, 'h max-slots=2147483648', `h count=${big}`]) {
    assert.throws(
      () => parseHostfile(`a\n${line}\n`, 'hf'),
      (e: Error) => e instanceof HostfileError && e.line === 2 && /is more than 2147483647 \(Open MPI keeps slot counts in an int\)/.test(e.message),
    );
  }
  assert.equal(parseHostfile('h slots=2147483647\n'), [{ host: 'h', slots: 2147483647 }]);
});

test('IPv6 addresses are hosts, as the format comment says; names with a colon are not', () => {
  const text = '::1 slots=2\nfe80::1%eth0\n::ffff:10.0.0.1 max-slots=4\n2001:db8::7 slots=1 max-slots=1\n';
  const e = parseHostfile(text);
  assert.equal(
    e.map((x) => x.host),
    ['::1', 'fe80::1%eth0', '::ffff:10.0.0.1', '2001:db8::7'],
  );
  assert.equal(parseHostfile(formatHostfile(e)), e);
  assert.throws(
    () => parseHostfile('host:1 slots=2\n', 'hf'),
    (err: Error) => err instanceof HostfileError && /"host:1" is not a host name or address/.test(err.message),
  );
  const f = join(tmp, 'v6');
  writeFileSync(f, text);
  const r = spawnSync(process.execPath, [cli, 'hosts', '--check', f], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /4 host\(s\), 5 slot\(s\)/);
});

test('hosts --out DIR: a clear error and no temporary file left behind', () => {
  const pbs = join(tmp, 'nodefile');
  writeFileSync(pbs, 'n1\nn1\n');
  const parent = mkdtempSync(join(tmp, 'outdir-'));
  const dir = join(parent, 'hosts.d');
  mkdirSync(dir);
  const r = spawnSync(process.execPath, [cli, 'hosts', '--from-pbs', pbs, '--out', dir], { encoding: 'utf8' });
  assert.is(r.status, 2, 'a UsageError exits 2 (issue 16)');
  assert.match(r.stderr, /--out .*hosts\.d is a directory: give the path of the hostfile to write/);
  assert.equal(readdirSync(parent), ['hosts.d']);
  assert.equal(readdirSync(dir), []);
});

test('writeReplace: a failed rename removes its temporary file (for every caller)', () => {
  const parent = mkdtempSync(join(tmp, 'wr-'));
  mkdirSync(join(parent, 'target'));
  assert.throws(() => writeReplace(join(parent, 'target'), 'x'));
  assert.equal(readdirSync(parent), ['target']);
  writeReplace(join(parent, 'file'), 'ok');
  assert.is(readFileSync(join(parent, 'file'), 'utf8'), 'ok');
});

test.run();
