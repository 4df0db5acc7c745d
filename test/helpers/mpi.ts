// Running real Open MPI from tests: the environment every mpirun here needs,
// and a runner with a hard time limit so that a hung job fails the test
// instead of hanging the suite.
import { spawn } from 'node:child_process';
import { mpirunEnv as kitMpirunEnv } from '../../recipes/kit/index.js';

/**
 * `NAME=VALUE` words for `env -i` running a tree with nothing of the stack set: only what running as root on 2 cores
 * needs (no OPAL_PREFIX, no LD_LIBRARY_PATH, no PATH to the tree).
 */
export function bareTreeEnv(extra: string[] = []): string[] {
  return [
    'PATH=/usr/bin:/bin',
    `HOME=${process.env.HOME ?? '/root'}`,
    'OMPI_ALLOW_RUN_AS_ROOT=1',
    'OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1',
    'OMPI_MCA_rmaps_base_oversubscribe=1',
    'OMPI_MCA_btl_vader_single_copy_mechanism=none',
    ...extra,
  ];
}

/** Environment for mpirun on this kind of machine (root, 2 cores, no ptrace): the recipe kit's, the one the sanity checks use. */
export function mpirunEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return kitMpirunEnv(process.env, extra);
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

/** Run a command (usually mpirun) with a time limit; the whole process group is killed on timeout. */
export function runLimited(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; input?: string } = {},
): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, timedOut, ms: Date.now() - started });
    });
  });
}

/** mpirun with the test environment: `mpirun(4, ['node', 'x.js'])`. */
export function mpirun(
  n: number,
  argv: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; mpirunPath?: string; extraArgs?: string[]; input?: string } = {},
): Promise<RunResult> {
  return runLimited(opts.mpirunPath ?? 'mpirun', ['-n', String(n), ...(opts.extraArgs ?? []), ...argv], {
    env: mpirunEnv(opts.env),
    cwd: opts.cwd,
    timeoutMs: opts.timeoutMs,
    input: opts.input,
  });
}
