// What the MPI benchmarks (pingpong.ts, runtime.ts) share: the MPI under test
// (a built stack's prefix, or the system's MPI with the local binding), its
// tools, running a job of N ranks that prints one `RESULT <json>` line, the C
// ping-pong floor, the binding's ping-pong (_pingpong-rank.ts), CPU from
// /proc/<pid>/stat, and a python3 that imports mpi4py.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mpirunEnv, runLimited, type RunResult } from '../test/helpers/mpi.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Median and p99 in microseconds, per message size in bytes. */
export type Lat = Record<string, { median: number; p99: number }>;

/** The MPI under test: a stack prefix (its tools, binding, runtime and mpi4py), or the system's with the local binding. */
export interface Target {
  prefix?: string;
  env: NodeJS.ProcessEnv;
}

export function targetOf(prefix: string | undefined): Target {
  if (!prefix) return { env: { ...process.env } };
  const site = (() => {
    try {
      return readdirSync(join(prefix, 'lib'))
        .filter((d) => /^python3\.\d+$/.test(d))
        .map((d) => join(prefix, 'lib', d, 'site-packages'));
    } catch {
      return [];
    }
  })();
  return {
    prefix,
    env: { ...process.env, MPISTACK_PREFIX: prefix, PATH: `${join(prefix, 'bin')}:${process.env.PATH}`, PYTHONPATH: site.join(':'), LD_LIBRARY_PATH: '' },
  };
}

export function tool(t: Target, name: 'mpicc' | 'mpirun'): string {
  if (name === 'mpicc' && !t.prefix && process.env.MPICC) return process.env.MPICC;
  return t.prefix ? join(t.prefix, 'bin', name) : process.env.MPISTACK_PREFIX ? join(process.env.MPISTACK_PREFIX, 'bin', name) : name;
}

/** "Open MPI 4.1.4" from the target's mpirun --version. */
export function mpiVersion(t: Target): string {
  const version = spawnSync(tool(t, 'mpirun'), ['--version'], { encoding: 'utf8', env: t.env });
  return `Open MPI ${/Open MPI\)? ?(\d+\.\d+\.\d+)/.exec(`${version.stdout}${version.stderr}`)?.[1] ?? 'unknown'}`;
}

/** `mpirun -n <n> argv...` with the test environment and a time limit. */
export function runRanks(t: Target, n: number, argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return runLimited(tool(t, 'mpirun'), ['-n', String(n), ...argv], {
    env: mpirunEnv({ ...t.env, ...opts.env }),
    cwd: opts.cwd,
    timeoutMs: opts.timeoutMs ?? 300_000,
  });
}

/** The JSON of the `RESULT <json>` line rank 0 printed; throws with the job's stderr when it failed or printed none. */
export function resultOf<T>(r: RunResult, what: string): T {
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.code !== 0 || !line) {
    throw new Error(`${what} failed (exit ${r.code}${r.timedOut ? ', timed out' : ''}):\n${r.stderr.slice(-3000)}${line ? '' : r.stdout.slice(-1000)}`);
  }
  return JSON.parse(line.slice('RESULT '.length)) as T;
}

/** A 2-rank ping-pong job: the C floor or `node _pingpong-rank.js sync|async ...`. */
export async function runPair(t: Target, argv: string[]): Promise<Lat> {
  return resultOf<Lat>(await runRanks(t, 2, argv), argv.join(' '));
}

/** The binding's ping-pong between 2 ranks (the stack's binding under a prefix): synchronous send/recvInto, or recvAsync on the receive thread. */
export function bindingPingPong(t: Target, mode: 'sync' | 'async', iters: number, warmup: number, sizes: number[]): Promise<Lat> {
  const argv = [process.execPath, join(here, '_pingpong-rank.js'), mode, String(iters), String(warmup), ...sizes.map(String)];
  return runRanks(t, 2, argv, { timeoutMs: 120_000 }).then((r) => resultOf<Lat>(r, argv.join(' ')));
}

const C_SOURCE = `#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static int cmp(const void* a, const void* b) { double x = *(const double*)a, y = *(const double*)b; return x < y ? -1 : x > y; }
int main(int argc, char** argv) {
  int provided, me, iters = atoi(argv[1]), warmup = atoi(argv[2]);
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  double* t = malloc(sizeof(double) * iters);
  if (me == 0) printf("RESULT {");
  for (int a = 3; a < argc; a++) {
    int size = atoi(argv[a]);
    char* buf = calloc(size > 0 ? size : 1, 1);
    MPI_Barrier(MPI_COMM_WORLD);
    for (int i = 0; i < warmup + iters; i++) {
      double t0 = MPI_Wtime();
      if (me == 0) { MPI_Send(buf, size, MPI_BYTE, 1, 1, MPI_COMM_WORLD); MPI_Recv(buf, size, MPI_BYTE, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE); }
      else { MPI_Recv(buf, size, MPI_BYTE, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE); MPI_Send(buf, size, MPI_BYTE, 0, 1, MPI_COMM_WORLD); }
      if (i >= warmup) t[i - warmup] = (MPI_Wtime() - t0) * 1e6;
    }
    qsort(t, iters, sizeof(double), cmp);
    int p = (int)(iters * 0.99); if (p >= iters) p = iters - 1;
    if (me == 0) printf("%s\\"%d\\":{\\"median\\":%.3f,\\"p99\\":%.3f}", a > 3 ? "," : "", size, t[iters / 2], t[p]);
    free(buf);
  }
  if (me == 0) printf("}\\n");
  MPI_Finalize();
  return 0;
}
`;

/** Compile the C ping-pong with the target's mpicc into `dir`; returns the program, or throws with mpicc's stderr. */
export function compileCPingPong(t: Target, dir: string): string {
  const src = join(dir, 'pingpong.c');
  const exe = join(dir, 'pingpong');
  writeFileSync(src, C_SOURCE);
  const cc = spawnSync(tool(t, 'mpicc'), ['-O2', '-o', exe, src], { encoding: 'utf8', env: t.env });
  if (cc.status !== 0) throw new Error(`mpicc failed: ${cc.error?.message ?? cc.stderr}`);
  return exe;
}

/** The C ping-pong (compiled by compileCPingPong) between 2 ranks: the floor. */
export function cPingPong(t: Target, exe: string, iters: number, warmup: number, sizes: number[]): Promise<Lat> {
  return runPair(t, [exe, String(iters), String(warmup), ...sizes.map(String)]);
}

/** utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Clock ticks per second (USER_HZ). */
export function clockTicksPerSecond(): number {
  return Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
}

/**
 * A python3 that imports `module` in the target's environment: MPISTACK_PYTHON,
 * the system's /usr/bin/python3 (Debian's python3-mpi4py), then each python3 on PATH.
 */
export function pythonWith(t: Target, module = 'mpi4py'): string | undefined {
  const onPath = (t.env.PATH ?? '').split(delimiter).map((d) => join(d, 'python3'));
  const candidates = [...new Set([process.env.MPISTACK_PYTHON, '/usr/bin/python3', ...onPath])].filter((p): p is string => !!p && existsSync(p));
  return candidates.find((py) => spawnSync(py, ['-c', `import ${module}`], { stdio: 'ignore', env: t.env }).status === 0);
}

/** Median and p99 of samples (sorts a copy). */
export function stats(us: number[]): { median: number; p99: number } {
  const s = [...us].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] };
}
