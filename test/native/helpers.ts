// Running the native test programs under mpirun and reading their RESULT lines.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mpirun, type RunResult } from '../helpers/mpi.js';

const here = dirname(fileURLToPath(import.meta.url));
export const program = (name: string) => join(here, 'programs', `${name}.js`);

/**
 * One `RESULT <json>` line of a program: the rank that wrote it and what it
 * reported. A test names the fields it reads as `R` (a union when the program
 * writes lines of several kinds); nothing checks them but the test's assertions.
 */
export type ProgramResult<R extends object = Record<string, unknown>> = { rank: number } & R;

export async function runProgram<R extends object = Record<string, unknown>>(
  n: number,
  name: string,
  args: string[] = [],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult & { results: ProgramResult<R>[] }> {
  const r = await mpirun(n, [process.execPath, program(name), ...args], { timeoutMs: opts.timeoutMs ?? 90_000, env: opts.env });
  const results = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('RESULT '))
    .map((l) => JSON.parse(l.slice(7)) as ProgramResult<R>);
  results.sort((a, b) => a.rank - b.rank);
  return { ...r, results };
}

export const explain = (r: RunResult) =>
  `exit ${r.code} signal ${r.signal} timedOut ${r.timedOut}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`;
