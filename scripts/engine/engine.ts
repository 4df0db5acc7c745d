// The build engine: for each selected recipe (plan.ts: dependency order,
// resolved inputs), the rows of the phase table (phases.ts) in order, as a
// task tree: fetch -> verify -> unpack -> prepare -> configure -> build ->
// install (DESTDIR staging) -> check (against the staged tree) -> move into
// the prefix (with rollback) -> manifest. Recipes are passed in as values, so
// tests can hand it any recipe (a fixture) without changing this file.
//
// On disk, next to the prefix (one file system, so the final move is a rename):
//   <dir>/.<prefix name>.mpistack-stage-<recipe>-<pid>-<random>/   a recipe's staging root
//   <dir>/.<...>.replaced                                          files the move replaced, until it commits
// Crash rules: a build that fails removes its staging root (from the install
// on); a killed build's staging roots are removed by the next build (their
// pid is gone); `.replaced` backups of an interrupted move are kept, since
// they hold the prefix's own former files.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Listr, type ListrRendererFactory, type ListrRendererValue, type ListrTaskWrapper } from 'listr2';
import type { Recipe, Shell } from '../../recipes/kit/contract.js';
import { processAlive } from '../foundation/concurrency.js';
import { BUILD_UMASK } from './determinism.js';
import { PhaseError } from './errors.js';
import { PHASE_TABLE, phaseShell, type PhaseIO, type PhaseRow, type RecipeResult, type RecipeState, type RunState } from './phases.js';
import { inputsFor, selectRecipes, validatePrefix, type BuildOptions, type Phase } from './plan.js';
import { chooseRenderMode, listrRenderer } from './render.js';
import { toolchainVersions } from './toolchain.js';

type TaskWrapper = ListrTaskWrapper<undefined, ListrRendererFactory, ListrRendererFactory>;

function stagingRoot(prefix: string, recipe: string): string {
  // the pid lets a later run tell a killed build's leftover from a running build
  return join(dirname(prefix), `.${basename(prefix)}.mpistack-stage-${recipe}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Remove staging directories a killed build left next to the prefix (their process is gone); `.replaced` backups are kept. */
async function removeStaleStaging(prefix: string): Promise<void> {
  const re = new RegExp(`^\\.${basename(prefix).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.mpistack-stage-.+-(\\d+)-[0-9a-f]{8}$`);
  let names: string[];
  try {
    names = await readdir(dirname(prefix));
  } catch {
    return;
  }
  for (const n of names) {
    const m = re.exec(n);
    if (m && !processAlive(Number(m[1]))) await rm(join(dirname(prefix), n), { recursive: true, force: true });
  }
}

/** Run one logged row: its log file gets a header, its failure a line in the log and a PhaseError naming recipe, phase and log. */
async function runPhase(st: RecipeState, phase: Phase, fn: (sh: Shell) => Promise<void>): Promise<void> {
  const sh = phaseShell(st, phase, BUILD_UMASK);
  await mkdir(st.logsDir, { recursive: true });
  await writeFile(sh.logPath, `# ${st.recipe.name} ${st.inputs.version}: ${phase} (${new Date().toISOString()})\n`, { flag: 'a' });
  try {
    await fn(sh);
  } catch (e) {
    if (e instanceof PhaseError) throw e;
    const err = e instanceof Error ? e : new Error(String(e));
    await writeFile(sh.logPath, `\n[mpistack] ${phase} failed: ${err.message}\n`, { flag: 'a' });
    throw new PhaseError(st.recipe.name, phase, sh.logPath, err);
  }
}

/** One row as it runs: logged or not, and the staging root removed when a row from the install on fails. */
async function runRow(row: PhaseRow, st: RecipeState, io: PhaseIO): Promise<void> {
  try {
    if (row.phase === null) await row.run(st, io);
    else await runPhase(st, row.phase, (sh) => row.run(st, sh, io));
  } catch (e) {
    if (row.cleanupOnError) await rm(st.stageDir, { recursive: true, force: true });
    throw e;
  }
}

function recipeState(r: Recipe, o: BuildOptions): RecipeState {
  const inputs = inputsFor(r, o);
  const buildDir = join(o.cacheDir, 'build', `${r.name}-${inputs.version}-${randomBytes(4).toString('hex')}`);
  const stageDir = stagingRoot(o.prefix, r.name);
  return {
    recipe: r,
    inputs,
    buildDir,
    logsDir: join(buildDir, 'logs'),
    stageDir,
    stagedPrefix: join(stageDir, o.prefix),
    key: null,
    cacheNote: '',
    hit: null,
  };
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
  const tasks = new Listr<undefined, ListrRendererValue, ListrRendererValue>(
    [
      ...skipped.map((r) => ({ title: `Build ${r.name}`, skip: () => `not selected (--only ${o.only})`, task: () => undefined })),
      ...selected.map((r) => ({
        title: `Build ${r.name} ${inputsFor(r, o).version}`,
        task: (_: undefined, parent: TaskWrapper) => {
          const st = recipeState(r, o);
          const rows = PHASE_TABLE.map((row) => ({
            title: row.title(o),
            skip: () => row.skip(st, o),
            task: (_c: undefined, task: TaskWrapper) => runRow(row, st, { o, run, task, parent }),
          }));
          return parent.newListr(rows, { concurrent: false, exitOnError: true });
        },
      })),
    ],
    { concurrent: false, exitOnError: true, ...listrRenderer(mode) },
  );
  await tasks.run();
  return run.results;
}
