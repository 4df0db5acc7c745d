// e2e: a real Slurm (Debian's slurmctld + slurmd, started here on loopback
// without systemd, munge or cgroups) runs the batch files `mpistack job`
// writes for the packed stack: the sbatch script, the Torque qsub.sh through
// Slurm's qsub wrapper (slurm-wlm-torque), and (a stack built with Slurm's
// PMI-2) the direct launch `srun --mpi=pmi2 mpistack-run` with no mpirun, plus
// `mpistack-run --report-transport` inside an allocation (srun by default). The runtime script's
// client gets answers from every server, and Open MPI took its rank count
// from the allocation (no -n anywhere). The daemons stop at the end, also
// when a test fails.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { e2ePrefix, jobEnv, packedStack, startSlurm, type Slurm } from '../helpers/cluster.js';

const prefix = realpathSync(e2ePrefix('cluster.slurm'));
const cli = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/cli.js');
const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'mpistack-e2e-slurm-')));
const work = join(tmp, 'work');
mkdirSync(work);
const CORES = 4;
let stack = '';
let slurm: Slurm | undefined;

// every server says where it runs, in which job, in how big a world
const JOB = `
await client.startServices();
const ids = Array.from({ length: Number(process.env.OMPI_COMM_WORLD_SIZE) - 1 }, (_, i) => i + 1);
const r = await client.pushCommandRequest("[require('os').hostname(), process.env.SLURM_JOB_ID, process.env.OMPI_COMM_WORLD_SIZE, n * 2].join(' ')", { block: true, targetServer: ids, parameters: { n: 21 } });
for (const x of r) console.log('SERVER ' + x.server + ' ' + x.ret + ' ' + x.status);
console.log('CLIENT ' + JSON.stringify(process.argv.slice(2)));
`;

/** `mpistack job` for this allocation (1 node, CORES cores) on the packed stack: scheduler, job name, extra options, then the script and its arguments. */
function jobArgs(scheduler: 'slurm' | 'torque', name: string, extra: string[], script: string[]): string[] {
  return [
    '--scheduler',
    scheduler,
    '--nodes',
    '1',
    '--cores-per-node',
    String(CORES),
    '--memory',
    '200mb',
    '--workdir',
    work,
    '--stack',
    stack,
    '--name',
    name,
    ...extra,
    '--',
    ...script,
  ];
}

function mpistackJob(args: string[]): void {
  const r = spawnSync(process.execPath, [cli, 'job', ...args], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
}

function checkLog(log: string, jobId: string): void {
  const servers = [...log.matchAll(/^SERVER (\d+) (\S+) (\S+) (\d+) (\d+) response received$/gm)];
  assert.equal(servers.map((m) => Number(m[1])).sort(), [1, 2, 3], log);
  for (const m of servers) {
    assert.is(m[2], hostname());
    assert.is(m[3], jobId, 'the server runs inside the Slurm job');
    assert.is(Number(m[4]), CORES, "Open MPI's world is the allocation's slots");
    assert.is(m[5], '42');
  }
  assert.match(log, /^CLIENT \["a","b,c"\]$/m, 'the script got its arguments');
}

test.before(async () => {
  stack = await packedStack(prefix, tmp);
  writeFileSync(join(work, 'job.js'), JOB);
  slurm = await startSlurm(join(tmp, 'slurm'), CORES);
});

test.after(async () => {
  await slurm?.stop();
});

test('mpistack job --scheduler slurm: sbatch runs the runtime script on the packed stack across the allocation', async () => {
  mpistackJob(jobArgs('slurm', 'rt', [], ['job.js', 'a', 'b,c']));
  const id = await slurm!.sbatch(join(work, 'rt.sbatch'), jobEnv());
  const state = await slurm!.wait(id, 180_000);
  const log = readFileSync(join(work, 'rt.log'), 'utf8');
  assert.is(state, 'COMPLETED', `${log}\n${slurm!.logs()}`);
  checkLog(log, id);
});

test("mpistack job --scheduler torque: qsub.sh through Slurm's qsub wrapper (#PBS -l nodes=1:ppn=4 read by sbatch, PBS_NODEFILE made from the allocation)", async () => {
  mpistackJob(jobArgs('torque', 'tq', [], ['job.js', 'a', 'b,c']));
  const req = readFileSync(join(work, 'cluster.req'), 'utf8');
  assert.match(req, `COMMAND="${join(work, 'qsub.sh')}"`);
  const q = spawnSync('qsub', ['-V', join(work, 'qsub.sh')], { env: slurm!.env(jobEnv()), cwd: work, encoding: 'utf8', timeout: 30_000 });
  assert.is(q.status, 0, q.stdout + q.stderr);
  const id = q.stdout.trim();
  assert.match(id, /^\d+$/);
  const state = await slurm!.wait(id, 180_000);
  // the wrapper passes its own -o/-e (qsub.sh.o<id>), which win over the script's #PBS -o
  const log = readFileSync(join(work, `qsub.sh.o${id}`), 'utf8') + readFileSync(join(work, `qsub.sh.e${id}`), 'utf8');
  assert.is(state, 'COMPLETED', `${log}\n${slurm!.logs()}`);
  checkLog(log, id);
});

// direct launch: no mpirun sets OMPI_COMM_WORLD_SIZE, so the servers come from the client's own status table
const DIRECT = `
await client.startServices();
const ids = Object.keys(client.getServerStatus()).map(Number);
const r = await client.pushCommandRequest("[require('os').hostname(), process.env.SLURM_JOB_ID, process.env.SLURM_STEP_ID, process.env.PMI_FD ? 'pmi2' : 'no-pmi', n * 2].join(' ')", { block: true, targetServer: ids, parameters: { n: 21 } });
for (const x of r) console.log('SERVER ' + x.server + ' ' + x.ret + ' ' + x.status);
console.log('CLIENT ' + JSON.stringify(process.argv.slice(2)));
`;

const pmi2 = (() => {
  const r = spawnSync(join(prefix, 'bin', 'ompi_info'), [], { encoding: 'utf8' });
  return / MCA pmix: s2 /.test(r.stdout);
})();

test(`mpistack job --launcher srun: srun --mpi=pmi2 starts every rank of mpistack-run itself (${pmi2 ? 'Slurm PMI-2' : 'this stack has no PMI-2: refused, naming --launcher mpirun'})`, async () => {
  writeFileSync(join(work, 'direct.js'), DIRECT);
  if (!pmi2) {
    // the seed's 1.6.5 has no Slurm PMI-2 client: its ranks would wait in MPI_Init, so the job writer refuses
    const r = spawnSync(process.execPath, [cli, 'job', ...jobArgs('slurm', 'direct', ['--launcher', 'srun'], ['direct.js'])], { encoding: 'utf8' });
    assert.is(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /has no Slurm PMI-2 support .*use --launcher mpirun/);
    return;
  }
  mpistackJob(jobArgs('slurm', 'direct', ['--launcher', 'srun'], ['direct.js', 'a', 'b,c']));
  const script = readFileSync(join(work, 'direct.sbatch'), 'utf8');
  assert.match(script, /\nexec srun --mpi=pmi2 mpistack-run /);
  assert.not.match(script, /^[^#]*\bmpirun\b/m, 'no command line runs mpirun');
  const id = await slurm!.sbatch(join(work, 'direct.sbatch'), jobEnv());
  const state = await slurm!.wait(id, 180_000);
  const log = readFileSync(join(work, 'direct.log'), 'utf8');
  assert.is(state, 'COMPLETED', `${log}\n${slurm!.logs()}`);
  const servers = [...log.matchAll(/^SERVER (\d+) (\S+) (\S+) (\S+) (\S+) (\d+) response received$/gm)];
  assert.equal(servers.map((m) => Number(m[1])).sort(), [1, 2, 3], log);
  for (const m of servers) {
    assert.is(m[3], id, 'the server runs inside the Slurm job');
    assert.is(m[5], 'pmi2', 'started by srun with a PMI-2 socket (PMI_FD)');
    assert.is(m[6], '42');
  }
  assert.match(log, /^CLIENT \["a","b,c"\]$/m, 'the script got its arguments');
});

test('mpistack-run --report-transport inside an allocation: srun launches the probe, every rank reports', async () => {
  const sh = join(work, 'report.sbatch');
  writeFileSync(
    sh,
    [
      '#!/bin/bash',
      `#SBATCH --ntasks=${CORES}`,
      `#SBATCH --output=${join(work, 'report.log')}`,
      'set -eu',
      `. '${join(stack, 'env.sh')}'`,
      `mpistack-run --report-transport -n ${CORES}${pmi2 ? '' : ' --launcher mpirun'}`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const id = await slurm!.sbatch(sh, jobEnv());
  const state = await slurm!.wait(id, 180_000);
  const log = readFileSync(join(work, 'report.log'), 'utf8');
  assert.is(state, 'COMPLETED', `${log}\n${slurm!.logs()}`);
  assert.match(log, new RegExp(`^transport report: ${pmi2 ? 'srun --mpi=pmi2' : '\\S*/bin/mpirun'} `, 'm'));
  const ranks = [...log.matchAll(/^rank (\d+) on \S+ \(pid \d+\): pml (\w+); .*MPI_THREAD_MULTIPLE/gm)];
  assert.equal(
    ranks.map((m) => Number(m[1])),
    [0, 1, 2, 3],
    log,
  );
  assert.ok(
    ranks.every((m) => m[2] === 'ob1'),
    `a node without RDMA devices: ob1 (${log})`,
  );
});

test.run();
