// mpistack cache: what the source cache holds, and cleaning build leftovers.
//   list   verified sources (<cache>/sources/<sha256>/<file>), quarantined files, build dirs
//   clean  remove build dirs (their logs) and quarantined files; sources stay
import { existsSync, readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../engine/errors.js';
import { defaultCacheDir } from './build.js';

export const describe = 'list the source cache (sources, quarantine, build dirs) or clean build leftovers';

const ls = (d: string) => (existsSync(d) ? readdirSync(d).sort() : []);

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { cache: { type: 'string' } } });
  const dir = values.cache ?? defaultCacheDir();
  const action = positionals[0] ?? 'list';
  if (action === 'list') {
    console.log(`cache ${dir}`);
    for (const sha of ls(join(dir, 'sources'))) for (const f of ls(join(dir, 'sources', sha))) {
      console.log(`  source      ${f}  sha256 ${sha}  ${statSync(join(dir, 'sources', sha, f)).size} bytes`);
    }
    for (const f of ls(join(dir, 'quarantine'))) console.log(`  quarantine  ${f}`);
    for (const b of ls(join(dir, 'build'))) console.log(`  build dir   ${join(dir, 'build', b)}`);
    return 0;
  }
  if (action === 'clean') {
    for (const sub of ['build', 'quarantine', 'tmp']) await rm(join(dir, sub), { recursive: true, force: true });
    console.log(`removed build dirs, quarantined and temporary files under ${dir}; sources kept`);
    return 0;
  }
  throw new UsageError(`mpistack cache: unknown action '${action}' (list | clean)`);
}
