// e2e: Torque is not packaged for Debian, so the qsub.sh `mpistack job
// --scheduler torque` writes is run the way pbs_mom runs it: a clean
// environment with PBS_NODEFILE (each host once per core) and the PBS_*
// variables, from another directory. The packed stack's mpirun takes the
// rank count from the nodefile (no -n), the runtime client reaches every
// server. Without PBS_NODEFILE the script stops with a message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatPbsNodefile } from '../../scripts/cluster/hostfile.js';
import { e2ePrefix, jobEnv, packedStack } from '../helpers/cluster.js';
import { runLimited } from '../helpers/mpi.js';

const prefix = realpathSync(e2ePrefix('cluster.torque'));
const cli = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/cli.js');
const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'mpistack-e2e-torque-')));
const work = join(tmp, 'work');
mkdirSync(work);

const JOB = `
await client.startServices();
const size = Number(process.env.OMPI_COMM_WORLD_SIZE);
const r = await client.pushCommandRequest("process.env.OMPI_COMM_WORLD_SIZE + ' ' + process.cwd()", { block: true, targetServer: Array.from({ length: size - 1 }, (_, i) => i + 1) });
for (const x of r) console.log('SERVER ' + x.server + ' ' + x.ret + ' ' + x.status);
`;

test('qsub.sh under a PBS-like environment: sources the stack, mpirun -hostfile $PBS_NODEFILE starts one rank per line', async () => {
  const stack = await packedStack(prefix, tmp);
  writeFileSync(join(work, 'job.js'), JOB);
  const g = spawnSync(
    process.execPath,
    [cli, 'job', '--scheduler', 'torque', '--nodes', '1', '--cores-per-node', '3', '--memory', '1gb', '--workdir', work, '--stack', stack, '--', 'job.js'],
    { encoding: 'utf8' },
  );
  assert.is(g.status, 0, g.stderr);
  const req = Object.fromEntries([...readFileSync(join(work, 'cluster.req'), 'utf8').matchAll(/^([A-Z_]+)="([^"]*)"/gm)].map((m) => [m[1], m[2]]));
  const nodefile = join(tmp, 'aux', '1.server');
  mkdirSync(dirname(nodefile), { recursive: true });
  writeFileSync(nodefile, formatPbsNodefile([{ host: hostname(), slots: Number(req.NUM_NODES) * Number(req.NUM_CORES) }]));
  const r = await runLimited('bash', [req.COMMAND], {
    cwd: tmp,
    timeoutMs: 180_000,
    env: jobEnv({
      PBS_NODEFILE: nodefile,
      PBS_JOBID: '1.server',
      PBS_JOBNAME: 'mpistack',
      PBS_O_WORKDIR: req.WORK_DIR,
      PBS_NUM_NODES: req.NUM_NODES,
      PBS_NUM_PPN: req.NUM_CORES,
    }),
  });
  assert.not.ok(r.timedOut, 'qsub.sh timed out');
  assert.is(r.code, 0, r.stdout + r.stderr);
  const servers = [...r.stdout.matchAll(/^SERVER (\d+) (\d+) (\S+) response received$/gm)];
  assert.equal(servers.map((m) => m[1]).sort(), ['1', '2'], r.stdout);
  for (const m of servers) {
    assert.is(m[2], '3', 'world size = lines of PBS_NODEFILE');
    assert.is(m[3], work, 'ranks run in WORK_DIR');
  }
  const none = await runLimited('bash', [req.COMMAND], { cwd: tmp, env: jobEnv(), timeoutMs: 30_000 });
  assert.is.not(none.code, 0);
  assert.match(none.stderr, /PBS_NODEFILE: is not set: run this through qsub/);
});

test.run();
