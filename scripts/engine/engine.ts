// The build engine: for each selected recipe, fetch -> verify -> unpack ->
// prepare -> configure -> build -> install (DESTDIR staging) -> check (against
// the staged tree) -> move into the prefix (with rollback) -> manifest.
// Recipes are passed in as values, so tests and later issues can hand it any
// recipe (a fixture, Boost with the b2 builder) without changing this file.
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, statSync } from 'node:fs';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { Listr } from 'listr2';
import type { BuildContext, CheckContext, Recipe, ResolvedInputs } from '../../recipes/types.js';
import { resolveInputs } from '../../recipes/types.js';
import { PhaseError, UsageError } from './errors.js';
import { candidates, cachePath, fetchSources, type Fetched } from './fetch.js';
import { chooseRenderMode, listrRenderer, type RenderMode } from './render.js';
import { makeShell, type Shell } from './shell.js';
import { mergeTree } from './stage.js';
import { toolchainVersions } from './toolchain.js';
import { unpack } from './unpack.js';

export const PHASES = ['fetch', 'unpack', 'prepare', 'configure', 'build', 'install', 'check', 'merge'] as const;
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
  /** fetch tuning (tests) */
  fetch?: { timeoutMs?: number; attempts?: number; backoffMs?: number };
  /** keep the build directory after success (default: removed) */
  keepBuildDir?: boolean;
}

export interface ManifestEntry {
  recipe: string;
  version: string;
  builder: string;
  source: { from: string; filename: string; sha256: string };
  configureArgs: string[];
  env: Record<string, string>;
  toolchain: Record<string, string | null>;
  installedAt: string;
  logs: string;
}

export interface Manifest {
  prefix: string;
  /** source and build cache the recipes were built in (their build directories live below it); pack's leak check looks for it */
  cacheDir?: string;
  recipes: Record<string, ManifestEntry>;
}

export interface RecipeResult { inputs: ResolvedInputs; fetched: Fetched; manifest: ManifestEntry; buildDir: string }

export function manifestPath(prefix: string): string {
  return join(prefix, 'share', 'mpistack', 'manifest.json');
}

export function logsDirIn(prefix: string, recipe: string): string {
  return join(prefix, 'share', 'mpistack', 'logs', recipe);
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
    const inp = resolveInputs(r, o.prefix, o.versions?.[r.name]);
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
  // next to the prefix, so the final move is a rename on one file system
  return join(dirname(prefix), `.${basename(prefix)}.mpistack-stage-${recipe}-${randomBytes(4).toString('hex')}`);
}

interface RecipeState {
  recipe: Recipe;
  inputs: ResolvedInputs;
  buildDir: string;
  logsDir: string;
  stageDir: string;
  fetched?: Fetched;
  srcDir?: string;
  ctx?: BuildContext;
  manifest?: ManifestEntry;
}

async function runPhase<T>(st: RecipeState, phase: Phase, fn: (sh: Shell) => Promise<T>): Promise<T> {
  const logPath = join(st.logsDir, `${phase}.log`);
  const sh = makeShell(st.recipe.name, phase, logPath);
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
  const skipped = recipes.filter((r) => !selected.includes(r));
  const results: RecipeResult[] = [];
  // probed once, alongside the builds (spawns a handful of --version calls)
  const toolchain = toolchainVersions();
  toolchain.catch(() => undefined);
  const mode = o.render ?? chooseRenderMode({ verbose: o.verbose });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const tasks = new Listr<any, any, any>([
    ...skipped.map((r) => ({ title: `Build ${r.name}`, skip: () => `not selected (--only ${o.only})`, task: () => undefined })),
    ...selected.map((r) => ({
      title: `Build ${r.name} ${resolveInputs(r, o.prefix, o.versions?.[r.name]).version}`,
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      task: (_: unknown, task: any) => {
        const inputs = resolveInputs(r, o.prefix, o.versions?.[r.name]);
        const buildDir = join(o.cacheDir, 'build', `${r.name}-${inputs.version}-${randomBytes(4).toString('hex')}`);
        const st: RecipeState = { recipe: r, inputs, buildDir, logsDir: join(buildDir, 'logs'), stageDir: stagingRoot(o.prefix, r.name) };
        return task.newListr(recipeTasks(st, o, results, toolchain), { concurrent: false, exitOnError: true });
      },
    })),
  ] as never[], { concurrent: false, exitOnError: true, ...listrRenderer(mode) } as never);
  await tasks.run();
  return results;
}

function recipeTasks(st: RecipeState, o: BuildOptions, results: RecipeResult[], toolchain: Promise<Record<string, string | null>>) {
  const b = st.recipe.builder;
  const cleanupOnError = async <T>(p: () => Promise<T>): Promise<T> => {
    try { return await p(); } catch (e) { await rm(st.stageDir, { recursive: true, force: true }); throw e; }
  };
  const ctx = () => st.ctx!;
  const phaseCtx = (sh: Shell): BuildContext => ({ ...ctx(), shell: sh });
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
      title: 'Unpack the source',
      task: () => runPhase(st, 'unpack', async () => {
        // a local source is a verified directory in the cache: copied, not unpacked
        if (statSync(st.fetched!.path).isDirectory()) {
          st.srcDir = join(st.buildDir, 'src', st.fetched!.filename);
          await cp(st.fetched!.path, st.srcDir, { recursive: true });
        } else {
          st.srcDir = await unpack(st.fetched!.path, join(st.buildDir, 'src'));
        }
        const stagedPrefix = join(st.stageDir, o.prefix);
        st.ctx = {
          recipe: st.recipe.name, version: st.inputs.version, prefix: o.prefix, srcDir: st.srcDir,
          stageDir: st.stageDir, stagedPrefix, jobs: o.jobs, configureArgs: st.inputs.configureArgs,
          env: { ...process.env, ...st.inputs.env }, shell: makeShell(st.recipe.name, 'unpack', join(st.logsDir, 'unpack.log')),
        };
      }),
    },
    {
      title: 'Prepare the tree',
      skip: () => (b.prepare ? false : `the ${b.name} builder has no prepare step`),
      task: () => runPhase(st, 'prepare', (sh) => b.prepare!(phaseCtx(sh))),
    },
    { title: 'Configure', task: () => runPhase(st, 'configure', (sh) => b.configure(phaseCtx(sh))) },
    { title: `Compile (${o.jobs} jobs)`, task: () => runPhase(st, 'build', (sh) => b.build(phaseCtx(sh))) },
    { title: 'Install into the staging directory', task: () => cleanupOnError(() => runPhase(st, 'install', (sh) => b.install(phaseCtx(sh)))) },
    {
      title: 'Run the sanity checks on the staged tree',
      task: () => cleanupOnError(() => runPhase(st, 'check', async (sh) => {
        const root = ctx().stagedPrefix;
        const workDir = join(st.buildDir, 'check');
        await mkdir(workDir, { recursive: true });
        const base = { ...process.env, ...st.inputs.env };
        const runEnv = st.recipe.runEnv ? st.recipe.runEnv(root, base) : base;
        const cctx: CheckContext = { ...phaseCtx(sh), root, runEnv, workDir };
        await st.recipe.check(cctx);
      })),
    },
    {
      title: `Move the staged tree into ${o.prefix}`,
      task: () => cleanupOnError(() => runPhase(st, 'merge', async () => {
        const root = ctx().stagedPrefix;
        const manifest = await readManifest(o.prefix);
        const entry: ManifestEntry = {
          recipe: st.recipe.name, version: st.inputs.version, builder: st.inputs.builder,
          source: { from: st.fetched!.from, filename: st.fetched!.filename, sha256: st.fetched!.sha256 },
          configureArgs: [`--prefix=${o.prefix}`, ...st.inputs.configureArgs], env: st.inputs.env,
          toolchain: await toolchain, installedAt: new Date().toISOString(),
          logs: logsDirIn(o.prefix, st.recipe.name),
        };
        manifest.prefix = o.prefix;
        manifest.cacheDir = o.cacheDir;
        manifest.recipes[st.recipe.name] = entry;
        await mkdir(dirname(manifestPath(root)), { recursive: true });
        await writeFile(manifestPath(root), JSON.stringify(manifest, null, 2) + '\n');
        await cp(st.logsDir, logsDirIn(root, st.recipe.name), { recursive: true });
        const merge = await mergeTree(root, o.prefix, `${st.stageDir}.replaced`);
        await merge.commit();
        await rm(st.stageDir, { recursive: true, force: true });
        if (!o.keepBuildDir) await rm(join(st.buildDir, 'src'), { recursive: true, force: true });
        st.manifest = entry;
        results.push({ inputs: st.inputs, fetched: st.fetched!, manifest: entry, buildDir: st.buildDir });
      })),
    },
  ];
}

export { existsSync };
