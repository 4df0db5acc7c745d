// e2e helpers for the cluster tests: the packed stack unpacked in a scratch
// directory (what a user copies to the nodes), and a throw-away Slurm
// (slurmctld + slurmd, Debian's 22.05) on loopback, without systemd, munge or
// cgroups, torn down at the end even when a test fails.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pack } from '../../scripts/pack/pack.js';
import { runLimited } from './mpi.js';

/** MPISTACK_E2E_PREFIX, or exit with a message saying what is missing. */
export function e2ePrefix(what: string): string {
  const given = process.env.MPISTACK_E2E_PREFIX;
  if (!given || !existsSync(join(given, 'bin', 'mpistack-run'))) {
    console.error(
      `${what} e2e: MPISTACK_E2E_PREFIX must name a prefix built with the whole default stack (npm run build-stack -- --prefix=DIR); got ${JSON.stringify(given ?? null)}`,
    );
    process.exit(1);
  }
  return given;
}

/** Pack `prefix` and unpack it under `dir`; returns the mpistack/ tree (holds env.sh). */
export async function packedStack(prefix: string, dir: string): Promise<string> {
  const r = await pack({ prefix, out: join(dir, 'out'), version: 'e2e' });
  const dest = join(dir, 'nodes');
  mkdirSync(dest, { recursive: true });
  const x = await runLimited('tar', ['xzf', r.tarball, '-C', dest]);
  if (x.code !== 0) throw new Error(`tar xzf ${r.tarball}: ${x.stderr}`);
  return join(dest, 'mpistack');
}

/** Environment for a job running the stack as root on a small machine, without the oversubscribe default (slots must come from the allocation). */
export function jobEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: process.env.HOME ?? '/root',
    OMPI_ALLOW_RUN_AS_ROOT: '1',
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
    OMPI_MCA_btl_vader_single_copy_mechanism: 'none',
    OMPI_MCA_mpi_yield_when_idle: '1',
    MPISTACK_LOG_MODE: 'terminal',
    ...extra,
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Slurm {
  conf: string;
  dir: string;
  /** environment for sbatch/squeue/scontrol against this cluster */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** submit, return the job id */
  sbatch(script: string, extra?: NodeJS.ProcessEnv, cwd?: string): Promise<string>;
  /** wait until the job left the queue; its final state (COMPLETED, FAILED, ...) */
  wait(jobId: string, timeoutMs: number): Promise<string>;
  logs(): string;
  stop(): Promise<void>;
}

/**
 * Start slurmctld and slurmd (foreground, -D) on loopback with `cpus` CPUs on
 * this host (config_overrides lets a node claim more than it has). AuthType
 * auth/none + CredType cred/none: no munge; proctrack/linuxproc + task/none +
 * jobacct_gather/none: no cgroups. Everything lives under `dir`.
 */
export async function startSlurm(dir: string, cpus: number): Promise<Slurm> {
  mkdirSync(join(dir, 'state'), { recursive: true });
  mkdirSync(join(dir, 'spool'), { recursive: true });
  const host = hostname();
  const [ctldPort, dPort] = [await freePort(), await freePort()];
  const conf = join(dir, 'slurm.conf');
  writeFileSync(
    conf,
    [
      'ClusterName=mpistack-e2e',
      `SlurmctldHost=${host}(127.0.0.1)`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/none',
      'CredType=cred/none',
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${dPort}`,
      `StateSaveLocation=${dir}/state`,
      `SlurmdSpoolDir=${dir}/spool`,
      `SlurmctldPidFile=${dir}/slurmctld.pid`,
      `SlurmdPidFile=${dir}/slurmd.pid`,
      `SlurmctldLogFile=${dir}/slurmctld.log`,
      `SlurmdLogFile=${dir}/slurmd.log`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'SwitchType=switch/none',
      'MpiDefault=none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_CPU',
      'ReturnToService=2',
      'SlurmdParameters=config_overrides',
      `NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=2000 State=UNKNOWN`,
      `PartitionName=e2e Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
      '',
    ].join('\n'),
  );
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ ...process.env, ...extra, SLURM_CONF: conf });
  const daemons: ChildProcess[] = [];
  const kill = (sig: NodeJS.Signals) => {
    for (const d of daemons)
      if (d.exitCode === null && d.signalCode === null) {
        try {
          d.kill(sig);
        } catch {
          /* gone */
        }
      }
  };
  // a failing or crashing test must not leave daemons behind
  process.on('exit', () => kill('SIGKILL'));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(1));
  const start = (cmd: string, args: string[]) => {
    const d = spawn(cmd, args, { env: env(), cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    d.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    d.on('exit', (code, sig) => {
      if (code) writeFileSync(join(dir, `${cmd}.exit`), `${cmd} exited ${code ?? sig}\n${err}`);
    });
    daemons.push(d);
  };
  const logs = () =>
    ['slurmctld.log', 'slurmd.log', 'slurmctld.exit', 'slurmd.exit']
      .filter((f) => existsSync(join(dir, f)))
      .map((f) => `--- ${f}\n${readFileSync(join(dir, f), 'utf8').split('\n').slice(-30).join('\n')}`)
      .join('\n');
  const stop = async () => {
    spawnSync('scontrol', ['shutdown'], { env: env(), timeout: 10_000 });
    for (let i = 0; i < 50 && daemons.some((d) => d.exitCode === null && d.signalCode === null); i++) await sleep(100);
    kill('SIGKILL');
  };
  start('slurmctld', ['-D', '-i', '-f', conf]);
  start('slurmd', ['-D', '-f', conf]);
  // the node is up once sinfo calls it idle
  let state = '';
  for (let i = 0; i < 300; i++) {
    const s = spawnSync('sinfo', ['-h', '-N', '-o', '%T'], { env: env(), encoding: 'utf8', timeout: 5_000 });
    state = s.stdout.trim();
    if (state === 'idle') break;
    if (daemons.some((d) => d.exitCode !== null)) break;
    await sleep(200);
  }
  if (state !== 'idle') {
    const l = logs();
    await stop();
    throw new Error(`slurm did not come up (node state ${JSON.stringify(state)})\n${l}`);
  }
  return {
    conf,
    dir,
    env,
    logs,
    stop,
    async sbatch(script, extra = {}, cwd = dir) {
      const r = await runLimited('sbatch', ['--parsable', script], { env: { ...extra, SLURM_CONF: conf }, cwd, timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`sbatch ${script}: ${r.stdout}${r.stderr}`);
      return r.stdout.trim().split(';')[0];
    },
    async wait(jobId, timeoutMs) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        const q = spawnSync('squeue', ['-h', '-j', jobId, '-o', '%T'], { env: env(), encoding: 'utf8', timeout: 5_000 });
        if ((q.status === 0 && q.stdout.trim() === '') || /Invalid job id/.test(q.stderr)) break;
        await sleep(300);
      }
      const s = spawnSync('scontrol', ['show', 'job', jobId, '-o'], { env: env(), encoding: 'utf8', timeout: 5_000 });
      const st = /JobState=(\S+)/.exec(s.stdout)?.[1];
      if (!st || (Date.now() >= until && /RUNNING|PENDING/.test(st))) {
        spawnSync('scancel', [jobId], { env: env(), timeout: 5_000 });
        throw new Error(`job ${jobId} did not finish in ${timeoutMs} ms (state ${st ?? 'unknown'})\n${logs()}`);
      }
      return st;
    },
  };
}
