// Helpers of the sanity checks: the same few steps every recipe's check takes
// (files that must be there, programs run at N ranks under the prefix's
// mpirun), each failing as one SanityError that names the recipe and the check.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Shell } from './contract.js';
import { SanityError } from './errors.js';

/** Throws SanityError(recipe, 'files') naming every one of `files` (relative to root) that is missing. */
export function requireFiles(recipe: string, root: string, files: readonly string[]): void {
  const missing = files.filter((f) => !existsSync(join(root, f)));
  if (missing.length) throw new SanityError(recipe, 'files', `missing under ${root}: ${missing.join(', ')}`);
}

/** Run `mpirun -n <ranks> <argv...>` (after `extra` mpirun arguments) and return what it printed; a failure throws the shell's error. */
export function runRanks(
  shell: Shell,
  mpirun: string,
  ranks: number,
  argv: readonly string[],
  o: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; extra?: readonly string[] },
): Promise<string> {
  return shell.run(mpirun, [...(o.extra ?? []), '-n', String(ranks), ...argv], { cwd: o.cwd, env: o.env, capture: true, timeoutMs: o.timeoutMs });
}
