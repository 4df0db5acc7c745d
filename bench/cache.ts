// npm run bench -- cache [--sources DIR] [--jobs N] [--keep]
// The whole default stack (openmpi -> boost -> node-mpi -> runtime), built
// by the CLI three times against one build cache:
//   cold      empty build cache (the baseline: every recipe compiled)
//   restore   the prefix removed, then rebuilt: every recipe restored from the cache
//   rerun     the same command again on the installed prefix: every recipe already installed
// Prints wall times and each warm run's ratio to the cold one (target: a warm
// rebuild of the whole stack in at most 5 s). Verified sources are
// hard-linked from --sources (default: the default cache), so nothing is
// downloaded and the cold run measures building only.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultCacheDir } from '../scripts/commands/build.js';

export const describe = 'whole default stack: cold build vs warm rebuilds from the build cache (restore, rerun)';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'cli.js');

function timed(label: string, args: string[]): { s: number; out: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [cli, 'build', ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${label} build failed (exit ${r.status}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  return { s, out: r.stdout };
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { sources: { type: 'string' }, jobs: { type: 'string' }, keep: { type: 'boolean', default: false } } });
  const sources = join(values.sources ?? defaultCacheDir(), 'sources');
  if (!existsSync(sources)) throw new Error(`no verified sources in ${sources}: run 'npm run build-stack -- --prefix=DIR' once (or pass --sources CACHE_DIR)`);
  const root = mkdtempSync(join(tmpdir(), 'mpistack-bench-cache-'));
  const cache = join(root, 'cache');
  const prefix = join(root, 'prefix');
  cpSync(sources, join(cache, 'sources'), { recursive: true });
  const common = [`--prefix=${prefix}`, `--cache=${cache}`, `--jobs=${values.jobs ?? availableParallelism()}`];
  console.log(`bench cache: whole default stack into ${prefix}, build cache ${cache}`);
  try {
    const cold = timed('cold', common);
    console.log(`cold     ${cold.s.toFixed(1).padStart(7)} s   (every recipe built)`);
    rmSync(prefix, { recursive: true, force: true });
    const restore = timed('restore', common);
    const restored = (restore.out.match(/^\S+ \S+ restored from the build cache/gm) ?? []).length;
    console.log(
      `restore  ${restore.s.toFixed(2).padStart(7)} s   ratio ${(restore.s / cold.s).toFixed(4)}  (${restored} recipes restored into an empty prefix)`,
    );
    const rerun = timed('rerun', common);
    const installed = (rerun.out.match(/^\S+ \S+ already installed \(cached/gm) ?? []).length;
    console.log(`rerun    ${rerun.s.toFixed(2).padStart(7)} s   ratio ${(rerun.s / cold.s).toFixed(4)}  (${installed} recipes already installed, verified)`);
    console.log(`target: warm rebuild <= 5 s: restore ${restore.s <= 5 ? 'met' : 'MISSED'}, rerun ${rerun.s <= 5 ? 'met' : 'MISSED'}`);
  } finally {
    if (!values.keep) rmSync(root, { recursive: true, force: true });
  }
}
