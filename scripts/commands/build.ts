// mpistack build: build the stack's recipes into a prefix.
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { allRecipes, OPTIONAL, stackRecipes, type Optional } from '../../recipes/index.js';
import { DEFAULT_PYTHON, probePython } from '../../recipes/mpi4py.js';
import { buildStack, plan, validatePrefix, type BuildOptions } from '../engine/engine.js';
import { UsageError } from '../engine/errors.js';
import type { Recipe } from '../../recipes/types.js';

export const describe = 'build the stack (Open MPI, ...) into --prefix; --dry-run prints the plan';

const HELP = `usage: mpistack build --prefix=/abs/path [options]
  --prefix DIR       install prefix (required, absolute)
  --jobs N           parallel make jobs (default: ${availableParallelism()})
  --only RECIPE      build just this recipe
  --dry-run          print the plan (recipes, versions, sources in order, configure arguments); run nothing
  --cache DIR        source and build cache (default: $XDG_CACHE_HOME/mpistack or ~/.cache/mpistack)
  --mirror URL|DIR   tried before upstream; repeatable
  --offline          use only the cache and --mirror entries
  --openmpi VERSION  Open MPI version (default: the recipe's default)
  --with PIECE       add an optional piece: mpi4py, boost-python (Boost built with \`using python\`); repeatable
  --python PATH      the Python mpi4py and Boost.Python are built for (default: ${DEFAULT_PYTHON})
  --fresh            rebuild every selected recipe even when the build cache holds its inputs
  --no-build-cache   neither restore from nor store into the build cache (<cache>/builds)
  --verbose          plain timestamped progress lines`;

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mpistack');
}

/** Parse argv into engine options; throws UsageError. */
export interface BuildArgs extends BuildOptions {
  dryRun: boolean;
  help: boolean;
  /** the default stack plus what --with asked for */
  recipes: Recipe[];
  with: Optional[];
}

export function parseBuildArgs(argv: string[], recipes: readonly Recipe[] = allRecipes): BuildArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv, allowPositionals: false, strict: true,
      options: {
        prefix: { type: 'string' }, jobs: { type: 'string' }, only: { type: 'string' },
        'dry-run': { type: 'boolean', default: false }, cache: { type: 'string' },
        mirror: { type: 'string', multiple: true }, offline: { type: 'boolean', default: false },
        openmpi: { type: 'string' }, with: { type: 'string', multiple: true }, python: { type: 'string' }, fresh: { type: 'boolean', default: false }, 'no-build-cache': { type: 'boolean', default: false }, verbose: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${HELP}`);
  }
  if (values.help) return { help: true, dryRun: false, prefix: '', jobs: 1, cacheDir: '', mirrors: [], offline: false, recipes: [...recipes], with: [] };
  const prefix = validatePrefix(values.prefix);
  const jobs = values.jobs === undefined ? availableParallelism() : Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`--jobs must be a positive integer, got '${values.jobs}'`);
  const versions: Record<string, string> = {};
  if (values.openmpi) {
    const r = recipes.find((x) => x.name === 'openmpi');
    if (r && !r.versions.some((v) => v.version === values.openmpi)) {
      throw new UsageError(`--openmpi ${values.openmpi}: unknown version (known: ${r.versions.map((v) => v.version).join(', ')})`);
    }
    versions.openmpi = values.openmpi;
  }
  const withs = (values.with ?? []).flatMap((w) => w.split(',')).filter(Boolean);
  for (const w of withs) {
    if (!(OPTIONAL as readonly string[]).includes(w)) throw new UsageError(`--with ${w}: unknown piece (known: ${OPTIONAL.join(', ')})`);
  }
  if (values.python && !withs.length) throw new UsageError(`--python is used only with --with ${OPTIONAL.join('|')}; add one, or drop --python`);
  const chosen = [...new Set(withs)] as Optional[];
  const python = chosen.length ? probePython(values.python ?? DEFAULT_PYTHON) : undefined;
  const stack = recipes === allRecipes ? stackRecipes({ with: chosen, python }) : [...recipes];
  return {
    recipes: stack, with: chosen,
    help: false, dryRun: values['dry-run'] ?? false, prefix, jobs, only: values.only,
    cacheDir: values.cache ?? defaultCacheDir(), mirrors: values.mirror ?? [], offline: values.offline ?? false,
    versions, verbose: values.verbose ?? false, fresh: values.fresh ?? false, buildCache: !values['no-build-cache'],
  };
}

export async function run(argv: string[]): Promise<number> {
  const o = parseBuildArgs(argv);
  if (o.help) { console.log(HELP); return 0; }
  if (o.dryRun) { console.log(plan(o.recipes, o)); return 0; }
  const results = await buildStack(o.recipes, o);
  const how = { built: 'built and installed', restored: 'restored from the build cache into', installed: 'already installed (cached, inputs unchanged) in' };
  for (const r of results) {
    console.log(`${r.inputs.recipe} ${r.inputs.version} ${how[r.outcome]} ${o.prefix} (source: ${r.fetched.from}, sha256 ${r.fetched.sha256}${r.key ? `, key ${r.key.slice(0, 12)}` : ''})`);
  }
  return 0;
}
