// Launch `mpirun -n 4 mpistack-run ...` from a checkout (dist/runtime/launcher.js).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mpirun, type RunResult } from '../helpers/mpi.js';

const here = dirname(fileURLToPath(import.meta.url));
export const launcher = resolve(here, '../../runtime/launcher.js');
export const script = (name: string): string => join(here, 'scripts', `${name}.js`);

export function workDir(): string {
  return mkdtempSync(join(tmpdir(), 'mpistack-runtime-'));
}

export function launch(
  args: string[],
  opts: { cwd: string; timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv; n?: number; extraArgs?: string[] },
): Promise<RunResult> {
  return mpirun(opts.n ?? 4, [process.execPath, launcher, ...args], {
    cwd: opts.cwd,
    timeoutMs: opts.timeoutMs ?? 120_000,
    input: opts.input,
    env: opts.env,
    extraArgs: opts.extraArgs,
  });
}
