// mpistack build: build the stack's recipes into a prefix.
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import { allRecipes, knownRecipes, OPTIONAL, STACKS, stackBase, stackRecipes, type Optional, type StackDef } from '../../recipes/index.js';
import type { Recipe } from '../../recipes/kit/index.js';
import { DEFAULT_PYTHON } from '../../recipes/mpi4py.js';
import { buildStack } from '../engine/engine.js';
import { FETCH_DEFAULTS } from '../engine/fetch.js';
import { applyLock, currentLock, selectStack, writeLock } from '../engine/lock.js';
import { plan, validatePrefix, type BuildOptions } from '../engine/plan.js';
import { toolchainVersions } from '../engine/toolchain.js';
import { UsageError } from '../foundation/errors.js';
import { packageRoot } from '../foundation/package.js';
import { parseOptions, pythonOption } from './_options.js';

export const describe = 'build the stack (Open MPI, ...) into --prefix; --dry-run prints the plan';

const HELP = `usage: mpistack build --prefix=/abs/path [options]
  --prefix DIR       install prefix (required, absolute)
  --jobs N           parallel make jobs (default: ${availableParallelism()})
  --only RECIPE      build just this recipe
  --dry-run          print the plan (recipes, versions, sources in order, configure arguments); run nothing
  --cache DIR        source and build cache (default: $XDG_CACHE_HOME/mpistack or ~/.cache/mpistack)
  --mirror URL|DIR   tried before upstream; repeatable
  --offline          use only the cache and --mirror entries
  --fetch-deadline S give up on a source after S seconds, all its attempts together (default: ${FETCH_DEFAULTS.deadlineMs / 1000})
  --fetch-max-size M refuse a download larger than M MiB (default: ${FETCH_DEFAULTS.maxBytes / 1024 / 1024}; a source's own size, when known, is the cap)
  --stack NAME       a named stack, pinned by its own lock: ${STACKS.map(
    (x) =>
      `${x.name} (${x.lockFile}${
        Object.keys(x.versions).length
          ? `: ${Object.entries(x.versions)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}`
          : ''
      })`,
  ).join(', ')}
  --openmpi VERSION  Open MPI version (default: the stack's); a version a named stack has selects that stack
  --with PIECE       add an optional piece: mpi4py, boost-python (Boost built with \`using python\`); repeatable
  --without fabrics  Open MPI without UCX and libfabric (shared memory and TCP only; the seed's stack never has them)
  --python PATH      the Python mpi4py and Boost.Python are built for (default: ${DEFAULT_PYTHON})
  --fresh            rebuild every selected recipe even when the build cache holds its inputs
  --no-build-cache   neither restore from nor store into the build cache (<cache>/builds)
  --lock FILE        the stack lock to follow (default: the stack's lock file at the package root)
  --update-lock      build even when inputs differ from the lock, then rewrite it with what was built
  --verbose          plain timestamped progress lines
The lock pins every recipe's version, source and sha256, arguments and SOURCE_DATE_EPOCH:
a build whose inputs differ from it is refused (see 'mpistack lock').`;

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mpistack');
}

/** Parse argv into engine options; throws UsageError. */
interface BuildArgs extends BuildOptions {
  dryRun: boolean;
  help: boolean;
  /** the default stack plus what --with asked for */
  recipes: Recipe[];
  with: Optional[];
  lockPath: string;
  updateLock: boolean;
  /** the named stack followed */
  stack: StackDef;
  /** what the stack pins: its recipes (the lock lists exactly these) */
  base: Recipe[];
}

export function parseBuildArgs(argv: string[], recipes: readonly Recipe[] = allRecipes): BuildArgs {
  const { values } = parseOptions(
    {
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        prefix: { type: 'string' },
        jobs: { type: 'string' },
        only: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        cache: { type: 'string' },
        mirror: { type: 'string', multiple: true },
        offline: { type: 'boolean', default: false },
        'fetch-deadline': { type: 'string' },
        'fetch-max-size': { type: 'string' },
        openmpi: { type: 'string' },
        stack: { type: 'string' },
        with: { type: 'string', multiple: true },
        without: { type: 'string', multiple: true },
        python: { type: 'string' },
        lock: { type: 'string' },
        'update-lock': { type: 'boolean', default: false },
        fresh: { type: 'boolean', default: false },
        'no-build-cache': { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    },
    HELP,
  );
  if (values.help)
    return {
      help: true,
      dryRun: false,
      prefix: '',
      jobs: 1,
      cacheDir: '',
      mirrors: [],
      offline: false,
      recipes: [...recipes],
      with: [],
      lockPath: '',
      updateLock: false,
      stack: STACKS[0],
      base: [],
    };
  const prefix = validatePrefix(values.prefix);
  const jobs = values.jobs === undefined ? availableParallelism() : Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`--jobs must be a positive integer, got '${values.jobs}'`);
  const asked: Record<string, string> = {};
  if (values.openmpi) {
    const r = recipes.find((x) => x.name === 'openmpi');
    if (r && !r.versions.some((v) => v.version === values.openmpi)) {
      throw new UsageError(`--openmpi ${values.openmpi}: unknown version (known: ${r.versions.map((v) => v.version).join(', ')})`);
    }
    asked.openmpi = values.openmpi;
  }
  const positive = (flag: string, v: string | undefined, unit: string, max: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = /^[0-9]+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new UsageError(`${flag} ${JSON.stringify(v)}: a whole number of ${unit} from 1 to ${max}`);
    return n;
  };
  const deadlineS = positive('--fetch-deadline', values['fetch-deadline'], 'seconds', 7 * 24 * 3600);
  const maxMiB = positive('--fetch-max-size', values['fetch-max-size'], 'MiB', 1024 * 1024);
  const fetch = {
    ...(deadlineS !== undefined ? { deadlineMs: deadlineS * 1000 } : {}),
    ...(maxMiB !== undefined ? { maxBytes: maxMiB * 1024 * 1024 } : {}),
  };
  const { stack, versions } = selectStack(STACKS, knownRecipes, { stack: values.stack, versions: asked });
  const withouts = (values.without ?? []).flatMap((w) => w.split(',')).filter(Boolean);
  for (const w of withouts) if (w !== 'fabrics') throw new UsageError(`--without ${w}: unknown piece (known: fabrics)`);
  const fabrics = !withouts.includes('fabrics');
  const withs = (values.with ?? []).flatMap((w) => w.split(',')).filter(Boolean);
  for (const w of withs) {
    if (!(OPTIONAL as readonly string[]).includes(w)) throw new UsageError(`--with ${w}: unknown piece (known: ${OPTIONAL.join(', ')})`);
  }
  if (values.python && !withs.length) throw new UsageError(`--python is used only with --with ${OPTIONAL.join('|')}; add one, or drop --python`);
  const chosen = [...new Set(withs)] as Optional[];
  const python = chosen.length ? pythonOption(values.python ?? DEFAULT_PYTHON) : undefined;
  const selected = recipes === allRecipes ? stackRecipes({ stack, with: chosen, python, fabrics }) : [...recipes];
  return {
    recipes: selected,
    with: chosen,
    help: false,
    dryRun: values['dry-run'] ?? false,
    prefix,
    jobs,
    only: values.only,
    cacheDir: values.cache ?? defaultCacheDir(),
    mirrors: values.mirror ?? [],
    offline: values.offline ?? false,
    versions,
    verbose: values.verbose ?? false,
    fetch,
    fresh: values.fresh ?? false,
    buildCache: !values['no-build-cache'],
    lockPath: values.lock ?? join(packageRoot(), stack.lockFile),
    updateLock: values['update-lock'] ?? false,
    stack,
    base: stackBase(stack),
  };
}

export async function run(argv: string[]): Promise<number> {
  const o = parseBuildArgs(argv);
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  const toolchain = await toolchainVersions();
  // the lock pins the stack and the pieces --with adds (mpi4py); a default recipe that --with
  // changes (boost with boost-python) is built as asked, unpinned
  const added = o.recipes.filter((r) => !o.base.some((d) => d.name === r.name));
  const lockable = [...o.base, ...added];
  const optional = added.map((r) => r.name);
  const lp = await applyLock(lockable, {
    path: o.lockPath,
    versions: o.versions,
    cacheDir: o.cacheDir,
    toolchain,
    update: o.updateLock,
    report: o.dryRun,
    optional,
  });
  for (const w of lp.warnings) console.error(`warning: ${w}`);
  const recipes = o.recipes.map((r) => (lockable.includes(r) ? (lp.recipes.find((x) => x.name === r.name) ?? r) : r));
  const unpinned = o.recipes.filter((r) => !lockable.includes(r)).map((r) => r.name);
  if (unpinned.length) console.error(`warning: ${unpinned.join(', ')} (changed by --with/--without): not pinned by ${o.lockPath}`);
  if (o.dryRun) {
    for (const d of lp.differences) console.log(`lock: differs from ${o.lockPath}: ${d}`);
    console.log(plan(recipes, { ...o, sourceDateEpoch: lp.sourceDateEpoch }));
    return 0;
  }
  const results = await buildStack(recipes, { ...o, sourceDateEpoch: lp.sourceDateEpoch });
  if (o.updateLock) {
    // what was built: the sources actually fetched; recipes not built this run (--only) keep their choice
    const used = Object.fromEntries(
      results.flatMap((r) => {
        const s = r.inputs.sources.find((x) => x.sha256 === r.fetched.sha256);
        return s ? [[r.inputs.recipe, s]] : [];
      }),
    );
    await writeLock(
      o.lockPath,
      await currentLock(lockable, {
        versions: o.versions,
        sourceDateEpoch: lp.sourceDateEpoch,
        cacheDir: o.cacheDir,
        toolchain,
        existing: lp.lock,
        used,
        optional,
      }),
    );
    console.log(`wrote ${o.lockPath}`);
  }
  const how = { built: 'built and installed', restored: 'restored from the build cache into', installed: 'already installed (cached, inputs unchanged) in' };
  for (const r of results) {
    console.log(
      `${r.inputs.recipe} ${r.inputs.version} ${how[r.outcome]} ${o.prefix} ` +
        `(source: ${r.fetched.from}, sha256 ${r.fetched.sha256}${r.key ? `, key ${r.key.slice(0, 12)}` : ''})`,
    );
  }
  return 0;
}
