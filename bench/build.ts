// npm run bench -- build [fixture|openmpi] [--rounds N] [--jobs N] [--cache DIR]
// The engine's wall time against a plain bash script running the identical
// commands (unpack, configure, make -jN, make install DESTDIR, copy into the
// prefix) on the same verified source, alternated in the same run. Prints
// the median of each and the ratio (target <= 1.05).
//   fixture  a generated autotools package with many C files (default; ~seconds)
//   openmpi  Open MPI 4.1.4 from the cache (run `mpistack build` once first);
//            the engine's sanity checks are reduced to the file check here so
//            both sides run the same commands.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { autotoolsCommands } from '../recipes/builders/autotools.js';
import { openmpi, requiredFiles } from '../recipes/openmpi.js';
import { defaultCacheDir } from '../scripts/commands/build.js';
import { buildStack } from '../scripts/engine/engine.js';
import { fetchSources } from '../scripts/engine/fetch.js';
import { fixtureRecipe, makeFixture } from '../test/helpers/fixture.js';
import { resolveInputs } from '../scripts/engine/plan.js';
import { type Recipe, SanityError } from '../recipes/kit/index.js';

export const describe = 'engine build wall time vs a bash script running the same commands (fixture | openmpi)';

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export async function run(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { rounds: { type: 'string' }, jobs: { type: 'string' }, cache: { type: 'string' }, units: { type: 'string' } },
  });
  const which = positionals[0] ?? 'fixture';
  const jobs = Number(values.jobs ?? Math.min(2, availableParallelism()));
  const rounds = Number(values.rounds ?? (which === 'openmpi' ? 1 : 5));
  const root = mkdtempSync(join(tmpdir(), 'mpistack-bench-'));
  let recipe: Recipe;
  let cacheDir: string;
  let mirrors: string[] = [];
  if (which === 'fixture') {
    const mirror = join(root, 'mirror');
    mkdirSync(mirror);
    recipe = fixtureRecipe(makeFixture(mirror, '1.0.0', Number(values.units ?? 400)));
    cacheDir = join(root, 'cache');
    mirrors = [mirror];
  } else if (which === 'openmpi') {
    recipe = {
      ...openmpi,
      check: async (ctx) => {
        const miss = requiredFiles.filter((f) => !existsSync(join(ctx.root, f)));
        if (miss.length) throw new SanityError('openmpi', 'files', miss.join(', '));
      },
    };
    cacheDir = values.cache ?? defaultCacheDir();
  } else throw new Error(`unknown bench target '${which}' (fixture | openmpi)`);

  const inputs = resolveInputs(recipe, '/unused');
  const fetched = await fetchSources(recipe.name, inputs.version, inputs.sources, { cacheDir, mirrors, offline: true });
  console.log(`bench build ${which} ${inputs.version}: ${rounds} round(s), -j${jobs}, source ${fetched.path}`);
  const engineMs: number[] = [];
  const bashMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // engine
    const p1 = join(root, `engine-${i}`, 'prefix');
    let t = performance.now();
    await buildStack([recipe], { prefix: p1, jobs, cacheDir, mirrors: [], offline: true, render: 'silent' });
    engineMs.push(performance.now() - t);
    // bash: the same commands, no engine
    const w = join(root, `bash-${i}`);
    const p2 = join(w, 'prefix');
    const stage = join(w, 'stage');
    const args2 = resolveInputs(recipe, p2).configureArgs;
    const cmds = autotoolsCommands(p2, args2, jobs, stage).map((c) => c.map(q).join(' '));
    const decomp = fetched.path.endsWith('.xz') ? 'xz -dc' : fetched.path.endsWith('.bz2') ? 'bzip2 -dc' : 'gzip -dc';
    const script = [
      'set -e',
      `mkdir -p ${q(w)}/src && cd ${q(w)}/src`,
      `${decomp} ${q(fetched.path)} | tar -xf -`,
      'cd "$(ls | head -1)"',
      ...cmds.map((c) => `${c} > ${q(w)}/log 2>&1`),
      `mkdir -p ${q(p2)} && cp -a ${q(stage + p2)}/. ${q(p2)}/`,
    ].join('\n');
    t = performance.now();
    const r = spawnSync('bash', ['-c', script], { stdio: 'inherit' });
    bashMs.push(performance.now() - t);
    if (r.status !== 0) throw new Error(`bash baseline failed (exit ${r.status}); see ${w}/log`);
    console.log(`round ${i + 1}: engine ${(engineMs[i] / 1000).toFixed(2)} s, bash ${(bashMs[i] / 1000).toFixed(2)} s`);
  }
  const e = median(engineMs);
  const b = median(bashMs);
  console.log(`median: engine ${(e / 1000).toFixed(2)} s, bash ${(b / 1000).toFixed(2)} s, ratio ${(e / b).toFixed(3)} (target <= 1.05)`);
  rmSync(root, { recursive: true, force: true });
}
