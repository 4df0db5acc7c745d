// Running the native test programs under mpirun and reading their RESULT lines.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mpirun, type RunResult } from '../helpers/mpi.js';

const here = dirname(fileURLToPath(import.meta.url));
export const program = (name: string) => join(here, 'programs', `${name}.js`);

export async function runProgram(
  n: number,
  name: string,
  args: string[] = [],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult & { results: Record<string, any>[] }> {
  const r = await mpirun(n, [process.execPath, program(name), ...args], { timeoutMs: opts.timeoutMs ?? 90_000, env: opts.env });
  const results = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('RESULT '))
    .map((l) => JSON.parse(l.slice(7)));
  results.sort((a, b) => a.rank - b.rank);
  return { ...r, results };
}

export const explain = (r: RunResult) =>
  `exit ${r.code} signal ${r.signal} timedOut ${r.timedOut}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`;
