// The phase table of one recipe's build: a row a phase, in order, each saying
// its title, when it is skipped and why, whether a failure must remove the
// staging directory, and what it runs. engine.ts turns the rows into tasks
// (and each logged row into its own log file and PhaseError); nothing here
// knows about Listr.
//
//   fetch      fetch and verify the source into the source cache
//   (lookup)   the build cache key; 'installed' (the prefix has it), 'restore', or build
//   unpack     the source into the build directory; the determinism shims
//   prepare    the builder's prepare step, when it has one
//   configure  \
//   build       > the builder's phases, install into the staging copy of the prefix
//   install    /
//   check      the recipe's sanity checks against the staged tree
//   store      the staged tree into the build cache
//   restore    the cache entry into the staging copy (instead of unpack..check)
//   merge      manifest and logs into the staged tree, then the move into the prefix
import { applyPatches } from './patches.js';
import { appendFileSync, statSync } from 'node:fs';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildContext, CheckContext, Recipe, ResolvedInputs, Shell } from '../../recipes/kit/contract.js';
import { MpistackError } from '../foundation/errors.js';
import { buildTimePath, logsDirIn } from '../foundation/layout.js';
import { readManifest, type ManifestRecipe } from '../foundation/manifest.js';
import { cacheKey, entryDir, keyInputs, lookup, registerPrefix, restoreInto, store, verifyRecords, type KeyInputs } from './buildcache.js';
import { stepEnv, writeShims, type Shims, type StepKind } from './determinism.js';
import { fetchSources, type Fetched } from './fetch.js';
import { manifestEntry, withEntry, writeManifest } from './manifest.js';
import { sourceDateEpochOf, type BuildOptions, type Phase } from './plan.js';
import { makeShell } from './shell.js';
import { mergeTree } from './stage.js';
import { unpack } from './unpack.js';

/** What one recipe's build knows, filled in row by row. */
export interface RecipeState {
  readonly recipe: Recipe;
  readonly inputs: ResolvedInputs;
  readonly buildDir: string;
  readonly logsDir: string;
  /** the staging root (DESTDIR) */
  readonly stageDir: string;
  /** `${stageDir}${prefix}` */
  readonly stagedPrefix: string;
  /** set by fetch */
  fetched?: Fetched;
  /** set by unpack: the source tree and this build's hostname/whoami/date and compiler shims */
  srcDir?: string;
  shims?: Shims;
  /** set by the lookup: the build cache key (null: not cacheable this run, `cacheNote` says why) and what it found */
  key: string | null;
  keyInputs?: KeyInputs;
  cacheNote: string;
  hit: 'installed' | 'restore' | null;
}

/** One recipe's outcome, as buildStack returns it. */
export interface RecipeResult {
  inputs: ResolvedInputs;
  fetched: Fetched;
  manifest: ManifestRecipe;
  buildDir: string;
  /** 'built', 'restored' (from the build cache) or 'installed' (already in the prefix with the same key) */
  outcome: 'built' | 'restored' | 'installed';
  key: string | null;
}

/** Shared by the recipes of one buildStack run. */
export interface RunState {
  results: RecipeResult[];
  /** probed once, alongside the builds */
  toolchain: Promise<Record<string, string | null>>;
  /** recipe -> cache key of what is (or will be) installed by this run */
  keys: Map<string, string | null>;
}

/** What a task shows: its title and its last output line (a Listr task has both). */
interface TaskView {
  title: string;
  output: string;
}

export interface PhaseIO {
  o: BuildOptions;
  run: RunState;
  task: TaskView;
  /** the recipe's own task, whose title says '(cached)' after a hit */
  parent: TaskView;
}

interface RowBase {
  title(o: BuildOptions): string;
  /** why the row does not run this time, or false */
  skip(st: RecipeState, o: BuildOptions): string | false;
  /** a failure removes the staging directory (it holds files from the install on) */
  cleanupOnError?: true;
}
/** A row with a log of its own (logs/<phase>.log) and a shell writing to it; its failures become PhaseErrors. */
interface LoggedRow extends RowBase {
  phase: Phase;
  run(st: RecipeState, sh: Shell, io: PhaseIO): Promise<void>;
}
/** Bookkeeping without a log (the cache lookup). */
interface PlainRow extends RowBase {
  phase: null;
  run(st: RecipeState, io: PhaseIO): Promise<void>;
}
export type PhaseRow = LoggedRow | PlainRow;

/** A row ran before the row that gives it what it needs: a fault of this table, never of a recipe. */
class PhaseOrderError extends MpistackError {
  override name = 'PhaseOrderError';
}

function missing(st: RecipeState, what: string): never {
  throw new PhaseOrderError(`${st.recipe.name}: ${what} is not known yet (the phase table runs a row before the one that sets it)`);
}
const fetchedOf = (st: RecipeState): Fetched => st.fetched ?? missing(st, 'the fetched source');
const keyOf = (st: RecipeState): string => st.key ?? missing(st, 'the build cache key');

/**
 * The context the builder's phases and the check see; configure-like phases get the hostname/whoami/date
 * shims, build and install also the compiler wrappers.
 */
function buildContext(st: RecipeState, o: BuildOptions, sh: Shell, kind: StepKind = 'configure'): BuildContext {
  return {
    recipe: st.recipe.name,
    version: st.inputs.version,
    prefix: o.prefix,
    srcDir: st.srcDir ?? missing(st, 'the unpacked source tree'),
    buildDir: st.buildDir,
    stageDir: st.stageDir,
    stagedPrefix: st.stagedPrefix,
    jobs: o.jobs,
    configureArgs: st.inputs.configureArgs,
    env: stepEnv(o.env ?? process.env, st.inputs.env, st.shims ?? null, kind),
    shell: sh,
  };
}

/** The cache key of one recipe, or null with the reason it cannot be cached this run. */
async function computeKey(st: RecipeState, o: BuildOptions, run: RunState): Promise<{ key: string | null; note: string; inputs?: KeyInputs }> {
  if (o.buildCache === false) return { key: null, note: 'build cache off' };
  const installed = readManifest(o.prefix).recipes;
  const dependencies: Record<string, string> = {};
  for (const d of st.recipe.dependencies) {
    const k = run.keys.has(d) ? run.keys.get(d) : installed[d]?.key;
    if (!k) {
      return {
        key: null,
        note: `not cached: dependency ${d} in ${o.prefix} has no build cache key (installed without the cache); rebuild it to cache this one`,
      };
    }
    dependencies[d] = k;
  }
  const inputs = keyInputs(st.recipe, st.inputs, fetchedOf(st), { toolchain: await run.toolchain, dependencies, env: o.env ?? process.env });
  return { key: cacheKey(inputs), note: '', inputs };
}

function record(st: RecipeState, run: RunState, manifest: ManifestRecipe): void {
  run.results.push({
    inputs: st.inputs,
    fetched: fetchedOf(st),
    manifest,
    buildDir: st.buildDir,
    outcome: st.hit === 'installed' ? 'installed' : st.hit === 'restore' ? 'restored' : 'built',
    key: st.key,
  });
}

const cached = (st: RecipeState): string | false => (st.hit ? 'cached: inputs unchanged' : false);

export const PHASE_TABLE: readonly PhaseRow[] = [
  {
    phase: 'fetch',
    title: () => 'Fetch and verify the source',
    skip: () => false,
    async run(st, sh, { o, task }) {
      const fetched = await fetchSources(st.recipe.name, st.inputs.version, st.inputs.sources, {
        cacheDir: o.cacheDir,
        mirrors: o.mirrors,
        offline: o.offline,
        shell: sh,
        ...o.fetch,
        log: (l) => {
          task.output = l;
          appendFileSync(sh.logPath, `${l}\n`);
        },
      });
      st.fetched = fetched;
      task.title = `Fetch and verify the source (${fetched.from === 'cache' ? 'cached' : fetched.from})`;
      await writeFile(join(st.logsDir, 'fetch.log'), `verified ${fetched.path} sha256 ${fetched.sha256} from ${fetched.from}\n`, { flag: 'a' });
    },
  },
  {
    phase: null,
    title: () => 'Look up the build cache',
    skip: () => false,
    async run(st, { o, run, task, parent }) {
      const k = await computeKey(st, o, run);
      st.key = k.key;
      st.cacheNote = k.note;
      st.keyInputs = k.inputs;
      run.keys.set(st.recipe.name, k.key);
      st.hit = null;
      if (!k.key) {
        task.title = `Look up the build cache (${k.note})`;
        return;
      }
      if (o.fresh) {
        task.title = `Look up the build cache (--fresh: rebuilding ${k.key.slice(0, 12)})`;
        return;
      }
      const found = await lookup(o.cacheDir, k.key);
      if (!found.entry) {
        task.title = `Look up the build cache (${found.reason}: building ${k.key.slice(0, 12)})`;
        return;
      }
      const mine = readManifest(o.prefix).recipes[st.recipe.name];
      const intact = mine?.key === k.key ? await verifyRecords(o.prefix, found.entry.files) : 'not installed';
      st.hit = intact === null ? 'installed' : 'restore';
      if (mine && st.hit === 'installed') record(st, run, mine);
      const what = st.hit === 'installed' ? `already installed in ${o.prefix}` : `restoring ${k.key.slice(0, 12)}`;
      task.title = `Look up the build cache (cached: inputs unchanged, ${what})`;
      parent.title = `${parent.title} (cached)`;
    },
  },
  {
    phase: 'unpack',
    title: () => 'Unpack the source',
    skip: cached,
    async run(st, _sh, { o }) {
      const fetched = fetchedOf(st);
      // a local source is a verified directory in the cache: copied, not unpacked
      if (statSync(fetched.path).isDirectory()) {
        st.srcDir = join(st.buildDir, 'src', fetched.filename);
        await cp(fetched.path, st.srcDir, { recursive: true });
      } else {
        st.srcDir = await unpack(fetched.path, join(st.buildDir, 'src'));
      }
      st.shims = await writeShims(st.buildDir, (o.env ?? process.env).PATH);
    },
  },
  {
    phase: 'prepare',
    title: () => 'Prepare the tree',
    skip: (st) =>
      cached(st) ||
      (st.recipe.builder.prepare || st.inputs.patches?.length ? false : `the ${st.recipe.builder.name} builder has no prepare step and no patches apply`),
    async run(st, sh, { o }) {
      const ctx = buildContext(st, o, sh);
      // the recipe's patches first (recipes/files/<recipe>/patches/), then the builder's own step
      if (st.inputs.patches?.length) await applyPatches(ctx.recipe, ctx.version, st.inputs.patches, ctx.srcDir, sh, ctx.env);
      await st.recipe.builder.prepare?.(ctx);
    },
  },
  {
    phase: 'configure',
    title: () => 'Configure',
    skip: cached,
    run: (st, sh, { o }) => st.recipe.builder.configure(buildContext(st, o, sh)),
  },
  {
    phase: 'build',
    title: (o) => `Compile (${o.jobs} jobs)`,
    skip: cached,
    run: (st, sh, { o }) => st.recipe.builder.build(buildContext(st, o, sh, 'compile')),
  },
  {
    phase: 'install',
    title: () => 'Install into the staging directory',
    skip: cached,
    cleanupOnError: true,
    run: (st, sh, { o }) => st.recipe.builder.install(buildContext(st, o, sh, 'compile')),
  },
  {
    phase: 'check',
    title: () => 'Run the sanity checks on the staged tree',
    skip: (st) => (st.hit ? 'cached: checked when it was built' : false),
    cleanupOnError: true,
    async run(st, sh, { o }) {
      const root = st.stagedPrefix;
      const workDir = join(st.buildDir, 'check');
      await mkdir(workDir, { recursive: true });
      const base = { ...process.env, ...st.inputs.env };
      const runEnv = st.recipe.runEnv ? st.recipe.runEnv(root, base) : base;
      const ctx: CheckContext = { ...buildContext(st, o, sh), root, runEnv, workDir };
      await st.recipe.check(ctx);
    },
  },
  {
    phase: 'store',
    title: () => 'Store the result in the build cache',
    skip: (st) => (st.hit ? 'cached: inputs unchanged' : st.key ? false : st.cacheNote || 'not cacheable this run'),
    cleanupOnError: true,
    async run(st, _sh, { o }) {
      const inputs = st.keyInputs ?? missing(st, 'the build cache key inputs');
      await store(o.cacheDir, keyOf(st), st.stagedPrefix, st.logsDir, { recipe: st.recipe.name, version: st.inputs.version, inputs });
    },
  },
  {
    phase: 'restore',
    title: () => 'Restore the build cache entry into the staging directory',
    skip: (st, o) => (st.hit === 'restore' ? false : st.hit === 'installed' ? `already installed in ${o.prefix}` : 'built, not restored'),
    cleanupOnError: true,
    async run(st, _sh, { o }) {
      await restoreInto(o.cacheDir, keyOf(st), st.stagedPrefix);
    },
  },
  {
    phase: 'merge',
    title: (o) => `Move the staged tree into ${o.prefix}`,
    skip: (st, o) => (st.hit === 'installed' ? `cached: already installed in ${o.prefix}` : false),
    cleanupOnError: true,
    async run(st, _sh, { o, run }) {
      const root = st.stagedPrefix;
      const name = st.recipe.name;
      const entry = manifestEntry(st.inputs, fetchedOf(st), { prefix: o.prefix, toolchain: await run.toolchain, key: st.key, restored: st.hit === 'restore' });
      await writeManifest(root, withEntry(readManifest(o.prefix), entry, { prefix: o.prefix, sourceDateEpoch: sourceDateEpochOf(o), cacheDir: o.cacheDir }));
      // a restored tree carries the logs of the build that made it, then this run's (fetch, restore)
      if (st.hit === 'restore') await cp(join(entryDir(o.cacheDir, keyOf(st)), 'logs'), logsDirIn(root, name), { recursive: true });
      await cp(st.logsDir, logsDirIn(root, name), { recursive: true });
      // when it was installed: a log (not packed), not the manifest (packed, and compared by check-reproducible)
      await writeFile(buildTimePath(root, name), `${new Date().toISOString()} ${st.hit === 'restore' ? 'restored from the build cache' : 'built'}\n`);
      const merge = await mergeTree(root, o.prefix, `${st.stageDir}.replaced`);
      await merge.commit();
      await rm(st.stageDir, { recursive: true, force: true });
      if (!o.keepBuildDir) await rm(join(st.buildDir, 'src'), { recursive: true, force: true });
      if (st.key) await registerPrefix(o.cacheDir, o.prefix);
      record(st, run, entry);
    },
  },
];

/** A shell for a logged row (its log in the recipe's logs directory); exported for engine.ts. */
export function phaseShell(st: RecipeState, phase: Phase, umask: number): Shell {
  return makeShell(st.recipe.name, phase, join(st.logsDir, `${phase}.log`), { umask });
}
