// mpistack job: Torque (cluster.req with seed 6.2's fields + qsub.sh with #PBS
// directives) and Slurm (#SBATCH script) files; bad values are refused with a
// clear error and nothing is written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JobError, parseMemory } from '../../scripts/cluster/job.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'mpistack-job-'));
const stack = join(tmp, 'stack', 'mpistack');
mkdirSync(stack, { recursive: true });
writeFileSync(join(stack, 'env.sh'), '# env\n');
const work = join(tmp, 'work');
mkdirSync(work);
writeFileSync(join(work, 'job.js'), 'console.log(1)\n');

function job(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [cli, 'job', ...args], { encoding: 'utf8' });
}

test('memory: Torque units, any case; others refused', () => {
  assert.equal(parseMemory('8gb'), { amount: 8, unit: 'gb' });
  assert.equal(parseMemory('512MB'), { amount: 512, unit: 'mb' });
  assert.equal(parseMemory('2G'), { amount: 2, unit: 'gb' });
  assert.equal(parseMemory('100b'), { amount: 100, unit: 'b' });
  for (const bad of ['8zb', '8 gib', 'gb', '-1gb', '0gb', '1.5gb'])
    assert.throws(
      () => parseMemory(bad),
      (e: Error) => e instanceof JobError && /--memory/.test(e.message),
    );
});

test("torque: cluster.req has seed 6.2's fields and COMMAND names qsub.sh; qsub.sh has #PBS directives and the mpirun line", () => {
  const out = join(tmp, 'torque');
  const r = job([
    '--scheduler',
    'torque',
    '--nodes',
    '4',
    '--cores-per-node',
    '2',
    '--memory',
    '8gb',
    '--workdir',
    work,
    '--stack',
    stack,
    '--out',
    out,
    '--log',
    'run.log',
    '--',
    'job.js',
    'a b',
    "it's",
  ]);
  assert.is(r.status, 0, r.stderr);
  assert.equal(readdirSync(out).sort(), ['cluster.req', 'qsub.sh']);
  const req = readFileSync(join(out, 'cluster.req'), 'utf8');
  const vars = Object.fromEntries([...req.matchAll(/^([A-Z_]+)="([^"]*)"/gm)].map((m) => [m[1], m[2]]));
  assert.equal(vars, { MEMORY: '8gb', WORK_DIR: work, COMMAND: join(out, 'qsub.sh'), NUM_NODES: '4', NUM_CORES: '2', STDOUT: 'run.log', STDERR: 'run.log' });
  // the file is valid sh: sourcing it sets the variables
  const sourced = spawnSync('bash', ['-c', `. '${join(out, 'cluster.req')}' && echo "$MEMORY|$NUM_NODES|$COMMAND"`], { encoding: 'utf8' });
  assert.is(sourced.stdout.trim(), `8gb|4|${join(out, 'qsub.sh')}`);
  const sh = readFileSync(join(out, 'qsub.sh'), 'utf8');
  assert.ok(statSync(join(out, 'qsub.sh')).mode & 0o100, 'qsub.sh is executable');
  assert.match(sh, /^#!\/bin\/bash\n/);
  assert.match(sh, /^#PBS -l nodes=4:ppn=2$/m);
  assert.match(sh, /^#PBS -l mem=8gb$/m);
  assert.match(sh, new RegExp(`^#PBS -o ${join(work, 'run.log')}$`, 'm'));
  assert.match(sh, new RegExp(`^\\. ${join(stack, 'env.sh')}$`, 'm'));
  assert.match(sh, new RegExp(`^mpirun -hostfile "\\$hostfile" mpistack-run ${join(work, 'job.js')} 'a b' 'it'\\\\''s'$`, 'm'));
  // the nodefile -> HOST slots=N step, run on its own: counts lines per host, keeps the order
  const awk = /^awk .*$/m.exec(sh)![0].replace('"$PBS_NODEFILE" > "$hostfile"', '');
  const conv = spawnSync('bash', ['-c', awk], { input: 'n2\nn1\nn2\n\nn3\n', encoding: 'utf8' });
  assert.is(conv.stdout, 'n2 slots=2\nn1 slots=1\nn3 slots=1\n');
  assert.is(spawnSync('bash', ['-n', join(out, 'qsub.sh')]).status, 0, 'qsub.sh parses');
  // without PBS_NODEFILE it stops with a message instead of running mpirun on the local host only
  const noPbs = spawnSync('bash', [join(out, 'qsub.sh')], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
  assert.is.not(noPbs.status, 0);
  assert.match(noPbs.stderr, /PBS_NODEFILE: is not set/);
});

test('slurm: an sbatch script with #SBATCH directives; mpirun takes the allocation (no hostfile, no -n)', () => {
  const r = job([
    '--scheduler',
    'slurm',
    '--nodes',
    '2',
    '--cores-per-node',
    '3',
    '--memory',
    '512mb',
    '--workdir',
    work,
    '--stack',
    stack,
    '--name',
    'rt',
    '--mpirun-arg=--mca',
    '--mpirun-arg=btl',
    '--mpirun-arg=tcp,self',
    '--',
    'job.js',
  ]);
  assert.is(r.status, 0, r.stderr);
  const sh = readFileSync(join(work, 'rt.sbatch'), 'utf8');
  for (const d of ['--job-name=rt', '--nodes=2', '--ntasks-per-node=3', '--mem=512M', `--chdir=${work}`, `--output=${join(work, 'rt.log')}`])
    assert.match(sh, `\n#SBATCH ${d}\n`);
  assert.match(sh, new RegExp(`\nexec mpirun --mca btl tcp,self mpistack-run ${join(work, 'job.js')}\n`));
  assert.is(spawnSync('bash', ['-n', join(work, 'rt.sbatch')]).status, 0);
});

test('slurm --launcher srun: direct launch, srun --mpi=pmi2 mpistack-run (no mpirun); srun with torque or with --mpirun-arg refused', () => {
  const base = ['--nodes', '1', '--cores-per-node', '4', '--memory', '200mb', '--workdir', work, '--stack', stack];
  // a tree whose Open MPI has no Slurm PMI-2 client is refused, naming the fix
  const noPmi = job(['--scheduler', 'slurm', ...base, '--name', 'direct', '--launcher', 'srun', '--', 'job.js']);
  assert.is(noPmi.status, 1);
  assert.match(noPmi.stderr, /has no Slurm PMI-2 support .*use --launcher mpirun/);
  mkdirSync(join(stack, 'lib', 'openmpi'), { recursive: true });
  writeFileSync(join(stack, 'lib', 'openmpi', 'mca_pmix_s2.so'), '');
  const r = job(['--scheduler', 'slurm', ...base, '--name', 'direct', '--launcher', 'srun', '--', 'job.js', 'a b']);
  assert.is(r.status, 0, r.stderr);
  const sh = readFileSync(join(work, 'direct.sbatch'), 'utf8');
  assert.match(sh, new RegExp(`\nexec srun --mpi=pmi2 mpistack-run ${join(work, 'job.js')} 'a b'\n`));
  assert.not.match(sh, /mpirun /);
  assert.is(spawnSync('bash', ['-n', join(work, 'direct.sbatch')]).status, 0);
  const before = readdirSync(work).sort();
  for (const [args, re] of [
    [['--scheduler', 'torque', ...base, '--launcher', 'srun', '--', 'job.js'], /--launcher srun needs --scheduler slurm/],
    [['--scheduler', 'slurm', ...base, '--launcher', 'srun', '--mpirun-arg=-x', '--', 'job.js'], /--mpirun-arg is for --launcher mpirun/],
    [['--scheduler', 'slurm', ...base, '--launcher', 'aprun', '--', 'job.js'], /--launcher "aprun": use mpirun or srun/],
  ] as const) {
    const bad = job([...args]);
    assert.is(bad.status, 1, bad.stdout + bad.stderr);
    assert.match(bad.stderr, re);
  }
  assert.equal(readdirSync(work).sort(), before, 'nothing written');
});

test('bad values: a clear error naming the option, exit 1, nothing written', () => {
  const base = ['--scheduler', 'torque', '--nodes', '1', '--cores-per-node', '1', '--memory', '1gb', '--workdir', work, '--stack', stack];
  const cases: [string[], RegExp][] = [
    [['--nodes', '0'], /--nodes 0: must be a whole number of at least 1/],
    [['--cores-per-node', '0'], /--cores-per-node 0/],
    [['--memory', '8xb'], /--memory "8xb": not an amount with a unit/],
    [['--scheduler', 'pbspro'], /--scheduler "pbspro": use torque or slurm/],
    [['--stack', tmp], /--stack .*: no env\.sh there/],
    [['--workdir', join(tmp, 'nope')], /--workdir .*: no such directory/],
  ];
  for (const [over, re] of cases) {
    const out = mkdtempSync(join(tmp, 'bad-'));
    const args = [...base];
    for (let i = 0; i < over.length; i += 2) args[args.indexOf(over[i]) + 1] = over[i + 1];
    const r = job([...args, '--out', out, '--', 'job.js']);
    assert.is(r.status, 1, `${over.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(readdirSync(out), [], `${over.join(' ')} wrote nothing`);
  }
  const out = mkdtempSync(join(tmp, 'bad-'));
  const missing = job([...base, '--out', out, '--', 'missing.js']);
  assert.is(missing.status, 1);
  assert.match(missing.stderr, /script .*missing\.js: no such file/);
  const none = job([...base, '--out', out]);
  assert.match(none.stderr, /no script given/);
  assert.equal(readdirSync(out), []);
  const req = job(['--nodes', '1', '--', 'job.js']);
  assert.is(req.status, 2);
  assert.match(req.stderr, /missing --scheduler, --cores-per-node, --memory, --workdir/);
});

test.run();
