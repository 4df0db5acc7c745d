// The build engine: for each selected recipe, fetch -> verify -> unpack ->
// prepare -> configure -> build -> install (DESTDIR staging) -> check (against
// the staged tree) -> move into the prefix (with rollback) -> manifest.
// Recipes are passed in as values, so tests and later issues can hand it any
// recipe (a fixture, Boost with the b2 builder) without changing this file.
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, statSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { Listr } from 'listr2';
import type { BuildContext, CheckContext, Recipe, ResolvedInputs, Source } from '../../recipes/types.js';
import { resolveInputs } from '../../recipes/types.js';
import { PhaseError, UsageError } from './errors.js';
import { candidates, cachePath, fetchSources, type Fetched } from './fetch.js';
import { chooseRenderMode, listrRenderer, type RenderMode } from './render.js';
import { makeShell, type Shell } from './shell.js';
import { cacheKey, entryDir, keyInputs, lookup, registerPrefix, restoreInto, store, verifyTree, type KeyInputs } from './buildcache.js';
import { mergeTree } from './stage.js';
import { BUILD_UMASK, DEFAULT_SOURCE_DATE_EPOCH, determinismEnv, parseSourceDateEpoch, stepEnv, writeShims, type Shims, type StepKind } from './determinism.js';
import { toolchainVersions } from './toolchain.js';
import { unpack } from './unpack.js';

export const PHASES = ['fetch', 'unpack', 'prepare', 'configure', 'build', 'install', 'check', 'store', 'restore', 'merge'] as const;
export type Phase = (typeof PHASES)[number];

export interface BuildOptions {
  prefix: string;
  jobs: number;
  cacheDir: string;
  mirrors: string[];
  offline: boolean;
  /** recipe name -> version (default: the recipe's default version) */
  versions?: Record<string, string>;
  /** build only this recipe */
  only?: string;
  render?: RenderMode;
  verbose?: boolean;
  /** fetch bounds (--fetch-deadline, --fetch-max-size) and tuning (tests) */
  fetch?: { timeoutMs?: number; deadlineMs?: number; maxBytes?: number; attempts?: number; backoffMs?: number };
  /** keep the build directory after success (default: removed) */
  keepBuildDir?: boolean;
  /** rebuild every selected recipe even when the build cache has its inputs (the result is stored again) */
  fresh?: boolean;
  /** false: neither look up nor store build cache entries (default true) */
  buildCache?: boolean;
  /** environment whose KEYED_ENV variables enter the cache key and reach the build steps (default process.env) */
  env?: NodeJS.ProcessEnv;
  /** SOURCE_DATE_EPOCH of every build step (default: the environment's, else 315532800); stack.lock.json pins it */
  sourceDateEpoch?: number;
}

export interface ManifestEntry {
  recipe: string;
  version: string;
  builder: string;
  source: { from: string; filename: string; sha256: string };
  configureArgs: string[];
  env: Record<string, string>;
  toolchain: Record<string, string | null>;
  logs: string;
  /** build cache key of the installed files (absent: built without the cache) */
  key?: string;
  /** 'built' here, or 'restored' from the build cache entry `key` */
  origin?: 'built' | 'restored';
}

export interface Manifest {
  prefix: string;
  /** SOURCE_DATE_EPOCH of the builds (pack uses it for the tarball's mtimes) */
  sourceDateEpoch?: number;
  /** source and build cache the recipes were built in (their build directories live below it); pack's leak check looks for it */
  cacheDir?: string;
  recipes: Record<string, ManifestEntry>;
}

export interface RecipeResult {
  inputs: ResolvedInputs;
  fetched: Fetched;
  manifest: ManifestEntry;
  buildDir: string;
  /** 'built', 'restored' (from the build cache) or 'installed' (already in the prefix with the same key) */
  outcome: 'built' | 'restored' | 'installed';
  key: string | null;
}

export function manifestPath(prefix: string): string {
  return join(prefix, 'share', 'mpistack', 'manifest.json');
}

export function logsDirIn(prefix: string, recipe: string): string {
  return join(prefix, 'share', 'mpistack', 'logs', recipe);
}

/** SOURCE_DATE_EPOCH of a run: the option, else the environment's, else the default. */
export function sourceDateEpochOf(o: Pick<BuildOptions, 'sourceDateEpoch' | 'env'>): number {
  if (o.sourceDateEpoch !== undefined) return o.sourceDateEpoch;
  const v = (o.env ?? process.env).SOURCE_DATE_EPOCH;
  return v === undefined || v === '' ? DEFAULT_SOURCE_DATE_EPOCH : parseSourceDateEpoch(v, 'SOURCE_DATE_EPOCH in the environment');
}

/**
 * A recipe's resolved inputs for this run: the recipe's own (versions, sources,
 * arguments, env) with the deterministic build environment under its env, so
 * that SOURCE_DATE_EPOCH, TZ, locale, user and host enter the cache key.
 */
export function inputsFor(r: Recipe, o: Pick<BuildOptions, 'prefix' | 'versions' | 'sourceDateEpoch' | 'env'>): ResolvedInputs {
  const inp = resolveInputs(r, o.prefix, o.versions?.[r.name]);
  return { ...inp, env: { ...determinismEnv(sourceDateEpochOf(o)), ...inp.env } };
}

/** Where a recipe's build time goes (in the prefix's logs: not packed, so the tree stays reproducible). */
export function buildTimePath(prefix: string, recipe: string): string {
  return join(logsDirIn(prefix, recipe), 'build-time.txt');
}

/**
 * The origin of a fetched file for the manifest: which entry of the versions
 * table its sha256 is ('upstream' release archive, 'debian' orig tarball,
 * 'local' checkout). The route it came by (a mirror, the cache, a URL) is in
 * logs/<recipe>/fetch.log, not here, so the manifest does not depend on it.
 */
export function sourceOrigin(sources: readonly Source[], sha256: string): string {
  const s = sources.find((x) => x.sha256 === sha256);
  return !s ? 'unknown' : s.kind === 'url' ? 'upstream' : s.kind;
}

export async function readManifest(prefix: string): Promise<Manifest> {
  try { return JSON.parse(await readFile(manifestPath(prefix), 'utf8')) as Manifest; } catch { return { prefix, recipes: {} }; }
}

export function validatePrefix(prefix: string | undefined): string {
  if (!prefix) throw new UsageError('--prefix is required (an absolute path, e.g. --prefix=/opt/mpistack)');
  if (!isAbsolute(prefix)) throw new UsageError(`--prefix must be an absolute path, got '${prefix}'`);
  return prefix.replace(/\/+$/, '') || '/';
}

/** Recipes in dependency order; with `only`, just that one (its dependencies must already be in the prefix). */
export function selectRecipes(all: readonly Recipe[], only?: string): Recipe[] {
  const byName = new Map(all.map((r) => [r.name, r]));
  if (only && !byName.has(only)) throw new UsageError(`--only ${only}: no such recipe (known: ${[...byName.keys()].join(', ')})`);
  const out: Recipe[] = [];
  const seen = new Set<string>();
  const visit = (r: Recipe, path: string[]) => {
    if (seen.has(r.name)) return;
    if (path.includes(r.name)) throw new Error(`dependency cycle: ${[...path, r.name].join(' -> ')}`);
    for (const d of r.dependencies) {
      const dep = byName.get(d);
      if (!dep) throw new Error(`${r.name} depends on unknown recipe ${d}`);
      visit(dep, [...path, r.name]);
    }
    seen.add(r.name);
    out.push(r);
  };
  for (const r of all) visit(r, []);
  return only ? out.filter((r) => r.name === only) : out;
}

/** The --dry-run plan: what would be built, from where, with which arguments. Executes nothing. */
export function plan(recipes: readonly Recipe[], o: BuildOptions): string {
  const lines = [`plan: install into ${o.prefix} (jobs ${o.jobs}, cache ${o.cacheDir}${o.offline ? ', offline' : ''})`];
  for (const r of selectRecipes(recipes, o.only)) {
    const inp = inputsFor(r, o);
    lines.push('', `${inp.recipe} ${inp.version} (builder ${inp.builder}${inp.dependencies.length ? `, after ${inp.dependencies.join(', ')}` : ''})`);
    lines.push('  sources, in order:');
    let i = 1;
    for (const s of inp.sources) {
      if (s.kind === 'local') lines.push(`    ${i++}. local checkout: ${s.paths.join(', ')}  content sha256 ${s.sha256}`);
      else lines.push(`    ${i++}. cache ${cachePath(o.cacheDir, s.sha256, s.filename)}`);
    }
    for (const c of candidates(inp.sources, o.mirrors, o.offline)) lines.push(`    ${i++}. ${c.label}  sha256 ${c.source.sha256}`);
    lines.push('  configure arguments:');
    for (const a of [`--prefix=${o.prefix}`, ...inp.configureArgs]) lines.push(`    ${a}`);
    if (Object.keys(inp.env).length) lines.push(`  environment: ${Object.entries(inp.env).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    lines.push(`  phases: ${PHASES.join(' -> ')}`);
  }
  return lines.join('\n');
}

function stagingRoot(prefix: string, recipe: string): string {
  // next to the prefix, so the final move is a rename on one file system; the
  // pid lets a later run tell a killed build's leftover from a running build
  return join(dirname(prefix), `.${basename(prefix)}.mpistack-stage-${recipe}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/**
 * Remove staging directories a killed build left next to the prefix (their
 * process is gone). `.replaced` backups of an interrupted merge are kept:
 * they hold the prefix's own former files.
 */
async function removeStaleStaging(prefix: string): Promise<void> {
  const re = new RegExp(`^\\.${basename(prefix).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.mpistack-stage-.+-(\\d+)-[0-9a-f]{8}$`);
  let names: string[];
  try { names = await readdir(dirname(prefix)); } catch { return; }
  for (const n of names) {
    const m = re.exec(n);
    if (m && !alive(Number(m[1]))) await rm(join(dirname(prefix), n), { recursive: true, force: true });
  }
}

interface RecipeState {
  recipe: Recipe;
  inputs: ResolvedInputs;
  buildDir: string;
  logsDir: string;
  stageDir: string;
  /** `${stageDir}${prefix}` */
  stagedPrefix: string;
  /** hostname/whoami/date and compiler shims of this build (written by the unpack step) */
  shims?: Shims;
  fetched?: Fetched;
  srcDir?: string;
  ctx?: BuildContext;
  manifest?: ManifestEntry;
  /** build cache key (null: not cacheable this run, see cacheNote) */
  key?: string | null;
  cacheNote?: string;
  /** what the build cache lookup found */
  hit?: 'installed' | 'restore' | null;
}

/** Shared by the recipes of one buildStack run. */
interface RunState {
  results: RecipeResult[];
  toolchain: Promise<Record<string, string | null>>;
  /** recipe -> cache key of what is (or will be) installed by this run */
  keys: Map<string, string | null>;
}

async function runPhase<T>(st: RecipeState, phase: Phase, fn: (sh: Shell) => Promise<T>): Promise<T> {
  const logPath = join(st.logsDir, `${phase}.log`);
  const sh = makeShell(st.recipe.name, phase, logPath, { umask: BUILD_UMASK });
  await writeFile(logPath, `# ${st.recipe.name} ${st.inputs.version}: ${phase} (${new Date().toISOString()})\n`, { flag: 'a' });
  try {
    return await fn(sh);
  } catch (e) {
    if (e instanceof PhaseError) throw e;
    const err = e instanceof Error ? e : new Error(String(e));
    await writeFile(logPath, `\n[mpistack] ${phase} failed: ${err.message}\n`, { flag: 'a' });
    throw new PhaseError(st.recipe.name, phase, logPath, err);
  }
}

/** Build and install the selected recipes into o.prefix. Throws PhaseError; the prefix is untouched on failure. */
export async function buildStack(recipes: readonly Recipe[], o: BuildOptions): Promise<RecipeResult[]> {
  validatePrefix(o.prefix);
  const selected = selectRecipes(recipes, o.only);
  await removeStaleStaging(o.prefix);
  const skipped = recipes.filter((r) => !selected.includes(r));
  // probed once, alongside the builds (spawns a handful of --version calls)
  const toolchain = toolchainVersions();
  toolchain.catch(() => undefined);
  const run: RunState = { results: [], toolchain, keys: new Map() };
  const mode = o.render ?? chooseRenderMode({ verbose: o.verbose });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const tasks = new Listr<any, any, any>([
    ...skipped.map((r) => ({ title: `Build ${r.name}`, skip: () => `not selected (--only ${o.only})`, task: () => undefined })),
    ...selected.map((r) => ({
      title: `Build ${r.name} ${inputsFor(r, o).version}`,
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      task: (_: unknown, task: any) => {
        const inputs = inputsFor(r, o);
        const buildDir = join(o.cacheDir, 'build', `${r.name}-${inputs.version}-${randomBytes(4).toString('hex')}`);
        const stageDir = stagingRoot(o.prefix, r.name);
        const st: RecipeState = { recipe: r, inputs, buildDir, logsDir: join(buildDir, 'logs'), stageDir, stagedPrefix: join(stageDir, o.prefix) };
        return task.newListr(recipeTasks(st, o, run, task), { concurrent: false, exitOnError: true });
      },
    })),
  ] as never[], { concurrent: false, exitOnError: true, ...listrRenderer(mode) } as never);
  await tasks.run();
  return run.results;
}

/** The cache key of one recipe, or null with the reason it cannot be cached this run. */
async function computeKey(st: RecipeState, o: BuildOptions, run: RunState): Promise<{ key: string | null; note: string; inputs?: KeyInputs }> {
  if (o.buildCache === false) return { key: null, note: 'build cache off' };
  const installed = (await readManifest(o.prefix)).recipes;
  const dependencies: Record<string, string> = {};
  for (const d of st.recipe.dependencies) {
    const k = run.keys.has(d) ? run.keys.get(d) : installed[d]?.key;
    if (!k) return { key: null, note: `not cached: dependency ${d} in ${o.prefix} has no build cache key (installed without the cache); rebuild it to cache this one` };
    dependencies[d] = k;
  }
  const inputs = keyInputs(st.recipe, st.inputs, st.fetched!, { toolchain: await run.toolchain, dependencies, env: o.env ?? process.env });
  return { key: cacheKey(inputs), note: '', inputs };
}

function record(st: RecipeState, run: RunState, manifest: ManifestEntry): void {
  run.results.push({
    inputs: st.inputs, fetched: st.fetched!, manifest, buildDir: st.buildDir,
    outcome: st.hit === 'installed' ? 'installed' : st.hit === 'restore' ? 'restored' : 'built', key: st.key ?? null,
  });
}

function recipeTasks(st: RecipeState, o: BuildOptions, run: RunState, parent: { title: string }) {
  const b = st.recipe.builder;
  const cleanupOnError = async <T>(p: () => Promise<T>): Promise<T> => {
    try { return await p(); } catch (e) { await rm(st.stageDir, { recursive: true, force: true }); throw e; }
  };
  const ctx = () => st.ctx!;
  // configure-like phases see the hostname/whoami/date shims; build and install also the compiler wrappers
  const phaseCtx = (sh: Shell, kind: StepKind = 'configure'): BuildContext => ({
    ...ctx(), shell: sh, env: stepEnv(o.env ?? process.env, st.inputs.env, st.shims ?? null, kind),
  });
  let keyIn: KeyInputs | undefined;
  const cachedSkip = () => (st.hit ? 'cached: inputs unchanged' : false);
  return [
    {
      title: 'Fetch and verify the source',
      task: async (_c: unknown, t: { output: string; title: string }) => {
        await mkdir(st.logsDir, { recursive: true });
        st.fetched = await runPhase(st, 'fetch', (sh) => fetchSources(st.recipe.name, st.inputs.version, st.inputs.sources, {
          cacheDir: o.cacheDir, mirrors: o.mirrors, offline: o.offline, shell: sh, ...o.fetch,
          log: (l) => { t.output = l; appendFileSync(sh.logPath, `${l}\n`); },
        }));
        t.title = `Fetch and verify the source (${st.fetched.from === 'cache' ? 'cached' : st.fetched.from})`;
        await writeFile(join(st.logsDir, 'fetch.log'), `verified ${st.fetched.path} sha256 ${st.fetched.sha256} from ${st.fetched.from}\n`, { flag: 'a' });
      },
    },
    {
      title: 'Look up the build cache',
      task: async (_c: unknown, t: { title: string; output: string }) => {
        const k = await computeKey(st, o, run);
        st.key = k.key;
        st.cacheNote = k.note;
        keyIn = k.inputs;
        run.keys.set(st.recipe.name, k.key);
        if (!k.key) { st.hit = null; t.title = `Look up the build cache (${k.note})`; return; }
        if (o.fresh) { st.hit = null; t.title = `Look up the build cache (--fresh: rebuilding ${k.key.slice(0, 12)})`; return; }
        const found = await lookup(o.cacheDir, k.key);
        if (!found.entry) { st.hit = null; t.title = `Look up the build cache (${found.reason}: building ${k.key.slice(0, 12)})`; return; }
        const mine = (await readManifest(o.prefix)).recipes[st.recipe.name];
        const intact = mine?.key === k.key ? await verifyTree(o.prefix, found.entry.files) : 'not installed';
        st.hit = intact === null ? 'installed' : 'restore';
        if (st.hit === 'installed') record(st, run, mine);
        const what = st.hit === 'installed' ? `already installed in ${o.prefix}` : `restoring ${k.key.slice(0, 12)}`;
        t.title = `Look up the build cache (cached: inputs unchanged, ${what})`;
        parent.title = `${parent.title} (cached)`;
      },
    },
    {
      title: 'Unpack the source',
      skip: cachedSkip,
      task: () => runPhase(st, 'unpack', async () => {
        // a local source is a verified directory in the cache: copied, not unpacked
        if (statSync(st.fetched!.path).isDirectory()) {
          st.srcDir = join(st.buildDir, 'src', st.fetched!.filename);
          await cp(st.fetched!.path, st.srcDir, { recursive: true });
        } else {
          st.srcDir = await unpack(st.fetched!.path, join(st.buildDir, 'src'));
        }
        st.shims = await writeShims(st.buildDir, (o.env ?? process.env).PATH);
        st.ctx = {
          recipe: st.recipe.name, version: st.inputs.version, prefix: o.prefix, srcDir: st.srcDir, buildDir: st.buildDir,
          stageDir: st.stageDir, stagedPrefix: st.stagedPrefix, jobs: o.jobs, configureArgs: st.inputs.configureArgs,
          env: stepEnv(o.env ?? process.env, st.inputs.env, st.shims, 'configure'), shell: makeShell(st.recipe.name, 'unpack', join(st.logsDir, 'unpack.log')),
        };
      }),
    },
    {
      title: 'Prepare the tree',
      skip: () => cachedSkip() || (b.prepare ? false : `the ${b.name} builder has no prepare step`),
      task: () => runPhase(st, 'prepare', (sh) => b.prepare!(phaseCtx(sh))),
    },
    { title: 'Configure', skip: cachedSkip, task: () => runPhase(st, 'configure', (sh) => b.configure(phaseCtx(sh))) },
    { title: `Compile (${o.jobs} jobs)`, skip: cachedSkip, task: () => runPhase(st, 'build', (sh) => b.build(phaseCtx(sh, 'compile'))) },
    { title: 'Install into the staging directory', skip: cachedSkip, task: () => cleanupOnError(() => runPhase(st, 'install', (sh) => b.install(phaseCtx(sh, 'compile')))) },
    {
      title: 'Run the sanity checks on the staged tree',
      skip: () => (st.hit ? 'cached: checked when it was built' : false),
      task: () => cleanupOnError(() => runPhase(st, 'check', async (sh) => {
        const root = st.stagedPrefix;
        const workDir = join(st.buildDir, 'check');
        await mkdir(workDir, { recursive: true });
        const base = { ...process.env, ...st.inputs.env };
        const runEnv = st.recipe.runEnv ? st.recipe.runEnv(root, base) : base;
        const cctx: CheckContext = { ...phaseCtx(sh), root, runEnv, workDir };
        await st.recipe.check(cctx);
      })),
    },
    {
      title: 'Store the result in the build cache',
      skip: () => (st.hit ? 'cached: inputs unchanged' : st.key ? false : (st.cacheNote ?? 'not cacheable this run')),
      task: () => cleanupOnError(() => runPhase(st, 'store', async () => {
        await store(o.cacheDir, st.key!, st.stagedPrefix, st.logsDir, { recipe: st.recipe.name, version: st.inputs.version, inputs: keyIn! });
      })),
    },
    {
      title: 'Restore the build cache entry into the staging directory',
      skip: () => (st.hit === 'restore' ? false : st.hit === 'installed' ? `already installed in ${o.prefix}` : 'built, not restored'),
      task: () => cleanupOnError(() => runPhase(st, 'restore', async () => {
        await restoreInto(o.cacheDir, st.key!, st.stagedPrefix);
      })),
    },
    {
      title: `Move the staged tree into ${o.prefix}`,
      skip: () => (st.hit === 'installed' ? `cached: already installed in ${o.prefix}` : false),
      task: () => cleanupOnError(() => runPhase(st, 'merge', async () => {
        const root = st.stagedPrefix;
        const manifest = await readManifest(o.prefix);
        const entry: ManifestEntry = {
          recipe: st.recipe.name, version: st.inputs.version, builder: st.inputs.builder,
          source: { from: sourceOrigin(st.inputs.sources, st.fetched!.sha256), filename: st.fetched!.filename, sha256: st.fetched!.sha256 },
          configureArgs: [`--prefix=${o.prefix}`, ...st.inputs.configureArgs], env: st.inputs.env,
          toolchain: await run.toolchain,
          logs: logsDirIn(o.prefix, st.recipe.name),
          ...(st.key ? { key: st.key } : {}), origin: st.hit === 'restore' ? 'restored' : 'built',
        };
        manifest.prefix = o.prefix;
        manifest.sourceDateEpoch = sourceDateEpochOf(o);
        manifest.cacheDir = o.cacheDir;
        manifest.recipes[st.recipe.name] = entry;
        await mkdir(dirname(manifestPath(root)), { recursive: true });
        await writeFile(manifestPath(root), JSON.stringify(manifest, null, 2) + '\n');
        // a restored tree carries the logs of the build that made it, then this run's (fetch, restore)
        if (st.hit === 'restore') await cp(join(entryDir(o.cacheDir, st.key!), 'logs'), logsDirIn(root, st.recipe.name), { recursive: true });
        await cp(st.logsDir, logsDirIn(root, st.recipe.name), { recursive: true });
        // when it was installed: a log (not packed), not the manifest (packed, and compared by check-reproducible)
        await writeFile(buildTimePath(root, st.recipe.name), `${new Date().toISOString()} ${st.hit === 'restore' ? 'restored from the build cache' : 'built'}\n`);
        const merge = await mergeTree(root, o.prefix, `${st.stageDir}.replaced`);
        await merge.commit();
        await rm(st.stageDir, { recursive: true, force: true });
        if (!o.keepBuildDir) await rm(join(st.buildDir, 'src'), { recursive: true, force: true });
        if (st.key) await registerPrefix(o.cacheDir, o.prefix);
        st.manifest = entry;
        record(st, run, entry);
      })),
    },
  ];
}

export { existsSync };
