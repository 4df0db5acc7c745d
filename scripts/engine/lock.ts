// stack.lock.json: the pinned inputs of the default stack (each named stack,
// e.g. the seed's Open MPI 1.6.5 one, has its own file of the same format:
// recipes/index.ts STACKS). Every recipe's
// version, the source chosen for it (origin, file name, sha256), its
// configure (or b2) arguments and build environment, the SOURCE_DATE_EPOCH
// of every build step, and the toolchain it was made with. Paths into the
// install prefix are written as @PREFIX@, so one lock serves any prefix.
//
// `mpistack lock` writes it from the current choices; `mpistack build`
// follows it (each recipe fetches only its locked source) and refuses when
// an input differs, unless told --update-lock; a different toolchain is a
// warning, printed before anything is built. Pieces added with --with (mpi4py)
// are locked too, marked `optional`: a run without them ignores their entry,
// and rewriting the lock without them keeps it.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { findVersion, type Recipe, type Source } from '../../recipes/kit/contract.js';
import { UsageError } from '../foundation/errors.js';
import { canonicalJson, sha256File } from '../foundation/hash.js';
import { DEFAULT_SOURCE_DATE_EPOCH, parseSourceDateEpoch } from '../foundation/layout.js';
import { determinismEnv } from './determinism.js';
import { cachePath } from './fetch.js';
import { resolveInputs } from './plan.js';

export const LOCK_FILE = 'stack.lock.json';
const LOCK_FORMAT = 1;
/** What the install prefix is written as in the lock. */
const PREFIX_TOKEN = '@PREFIX@';
/** The toolchain entries a lock records (the names the issue asks for; `binutils` is `ld --version`). */
const LOCKED_TOOLS = ['gcc', 'g++', 'gfortran', 'binutils', 'node', 'glibc'] as const;

interface LockedSource {
  /** 'upstream' (the release archive), 'debian' (the orig tarball), 'local' (this checkout) */
  origin: string;
  filename: string;
  /** absent for 'local': the checkout's content is git's to pin, and it changes with every commit */
  sha256?: string;
}

interface LockedRecipe {
  /** added with --with: absent from a run is no difference */
  optional?: true;
  version: string;
  source: LockedSource;
  configureArgs: string[];
  /** the source patches (package-root-relative file, sha256), absent when none */
  patches?: { file: string; sha256: string }[];
  env: Record<string, string>;
}

export interface StackLock {
  format: number;
  sourceDateEpoch: number;
  toolchain: Record<string, string | null>;
  recipes: Record<string, LockedRecipe>;
}

/** The lock's toolchain record from toolchainVersions() (ld -> binutils). */
function lockToolchain(tc: Record<string, string | null>): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const t of LOCKED_TOOLS) out[t] = (t === 'binutils' ? tc.ld : tc[t]) ?? null;
  return out;
}

function originOf(s: Source): string {
  return s.kind === 'url' ? 'upstream' : s.kind;
}

function lockedSource(s: Source): LockedSource {
  return s.kind === 'local' ? { origin: 'local', filename: s.filename } : { origin: originOf(s), filename: s.filename, sha256: s.sha256 };
}

/** The lock entry of a recipe at a version with a chosen source (paths into the prefix as @PREFIX@). */
export function lockEntry(r: Recipe, version: string | undefined, source: Source, sourceDateEpoch: number): LockedRecipe {
  const inp = resolveInputs(r, PREFIX_TOKEN, version);
  return {
    version: inp.version,
    source: lockedSource(source),
    configureArgs: inp.configureArgs,
    ...(inp.patches?.length ? { patches: inp.patches } : {}),
    env: { ...determinismEnv(sourceDateEpoch), ...inp.env },
  };
}

/**
 * Which source of a recipe's version is "the current choice": the locked one
 * while the table still has it, else the first whose file is already in the
 * source cache (verified), else the first of the table (its upstream archive).
 */
async function chooseSource(r: Recipe, version: string | undefined, cacheDir: string, locked?: LockedRecipe): Promise<Source> {
  const entry = findVersion(r, version);
  const local = entry.sources.find((s) => s.kind === 'local');
  if (local) return local;
  if (locked && locked.version === entry.version) {
    const same = entry.sources.find((s) => s.sha256 === locked.source.sha256);
    if (same) return same;
  }
  for (const s of entry.sources) {
    const p = cachePath(cacheDir, s.sha256, s.filename);
    if (existsSync(p) && (await sha256File(p)) === s.sha256) return s;
  }
  return entry.sources[0];
}

/**
 * The lock that the current recipes, versions and SOURCE_DATE_EPOCH give.
 * Recipes named in `optional` are marked so; optional entries of `existing`
 * for recipes not given here are kept as they are.
 */
export async function currentLock(
  recipes: readonly Recipe[],
  o: {
    versions?: Record<string, string>;
    sourceDateEpoch: number;
    cacheDir: string;
    toolchain: Record<string, string | null>;
    existing?: StackLock | null;
    /** recipe -> the source a build actually used (overrides the choice) */
    used?: Record<string, Source>;
    /** names of the recipes added with --with */
    optional?: readonly string[];
  },
): Promise<StackLock> {
  const out: StackLock = { format: LOCK_FORMAT, sourceDateEpoch: o.sourceDateEpoch, toolchain: lockToolchain(o.toolchain), recipes: {} };
  for (const r of recipes) {
    const v = o.versions?.[r.name];
    const src = o.used?.[r.name] ?? (await chooseSource(r, v, o.cacheDir, o.existing?.recipes[r.name]));
    const entry = lockEntry(r, v, src, o.sourceDateEpoch);
    out.recipes[r.name] = o.optional?.includes(r.name) ? { optional: true, ...entry } : entry;
  }
  for (const [name, e] of Object.entries(o.existing?.recipes ?? {})) if (e.optional && !out.recipes[name]) out.recipes[name] = e;
  return out;
}

/** A named stack (recipes/index.ts STACKS), as the lock sees it. */
interface StackChoice {
  name: string;
  lockFile: string;
  versions: Record<string, string>;
}

/**
 * The named stack a run follows: `--stack NAME`; else the one whose versions
 * are the ones asked for (`--openmpi 1.6.5` is the seed stack); else the
 * first (the default), whose lock then names the differing version.
 * Returns the stack and the versions to build (the stack's, then the asked).
 */
export function selectStack<S extends StackChoice>(
  stacks: readonly S[],
  recipes: readonly Recipe[],
  o: { stack?: string; versions: Record<string, string> },
): { stack: S; versions: Record<string, string> } {
  const defaultOf = (name: string) =>
    findVersion(
      recipes.find((r) => r.name === name)!,
      undefined,
    ).version;
  const versionIn = (s: S, name: string) => s.versions[name] ?? defaultOf(name);
  if (o.stack !== undefined) {
    const s = stacks.find((x) => x.name === o.stack);
    if (!s) throw new UsageError(`--stack ${o.stack}: no such stack (known: ${stacks.map((x) => x.name).join(', ')})`);
    const clash = Object.entries(o.versions).filter(([k, v]) => versionIn(s, k) !== v);
    if (clash.length) {
      throw new UsageError(
        `--stack ${s.name} builds ${clash.map(([k]) => `${k} ${versionIn(s, k)}`).join(', ')}, ` +
          `not ${clash.map(([k, v]) => `${k} ${v}`).join(', ')}; drop one of the two options`,
      );
    }
    return { stack: s, versions: { ...s.versions, ...o.versions } };
  }
  const asked = Object.keys(o.versions);
  const hit = stacks.find((s) => [...new Set([...asked, ...Object.keys(s.versions)])].every((k) => versionIn(s, k) === (o.versions[k] ?? defaultOf(k))));
  const stack = hit ?? stacks[0];
  return { stack, versions: { ...stack.versions, ...o.versions } };
}

/** Every input in which `current` differs from `lock`, one line each (the toolchain is not an input here: see toolchainDifferences). */
export function lockDifferences(lock: StackLock, current: StackLock): string[] {
  const L: string[] = [];
  if (lock.sourceDateEpoch !== current.sourceDateEpoch) L.push(`SOURCE_DATE_EPOCH: locked ${lock.sourceDateEpoch}, now ${current.sourceDateEpoch}`);
  const names = [...new Set([...Object.keys(lock.recipes), ...Object.keys(current.recipes)])].sort();
  for (const n of names) {
    const a = lock.recipes[n];
    const b = current.recipes[n];
    if (!a) {
      L.push(`${n}: not in the lock`);
      continue;
    }
    if (!b) {
      if (!a.optional) L.push(`${n}: in the lock but no such recipe any more`);
      continue;
    }
    if (a.version !== b.version) L.push(`${n}: version locked ${a.version}, now ${b.version}`);
    if (canonicalJson(a.source) !== canonicalJson(b.source)) {
      L.push(
        `${n}: source locked ${a.source.origin} ${a.source.filename}${a.source.sha256 ? ` sha256 ${a.source.sha256}` : ''}, ` +
          `now ${b.source.origin} ${b.source.filename}${b.source.sha256 ? ` sha256 ${b.source.sha256}` : ''}`,
      );
    }
    if (canonicalJson(a.configureArgs) !== canonicalJson(b.configureArgs)) {
      const gone = a.configureArgs.filter((x) => !b.configureArgs.includes(x));
      const added = b.configureArgs.filter((x) => !a.configureArgs.includes(x));
      L.push(
        `${n}: configure arguments differ${gone.length ? ` (locked only: ${gone.join(' ')})` : ''}` +
          `${added.length ? ` (now only: ${added.join(' ')})` : ''}${!gone.length && !added.length ? ' (order)' : ''}`,
      );
    }
    if (canonicalJson(a.patches ?? []) !== canonicalJson(b.patches ?? [])) {
      const show = (ps: { file: string; sha256: string }[] | undefined) => (ps?.length ? ps.map((p) => `${p.file} sha256 ${p.sha256}`).join(', ') : 'none');
      L.push(`${n}: patches locked ${show(a.patches)}, now ${show(b.patches)}`);
    }
    for (const k of [...new Set([...Object.keys(a.env), ...Object.keys(b.env)])].sort()) {
      if (k === 'SOURCE_DATE_EPOCH') continue;
      if (a.env[k] !== b.env[k]) L.push(`${n}: environment ${k} locked ${a.env[k] ?? '(unset)'}, now ${b.env[k] ?? '(unset)'}`);
    }
  }
  return L;
}

/** Toolchain entries that differ from the lock's, one line each. */
export function toolchainDifferences(locked: Record<string, string | null>, now: Record<string, string | null>): string[] {
  return LOCKED_TOOLS.filter((t) => (locked[t] ?? null) !== (now[t] ?? null)).map(
    (t) => `${t}: locked '${locked[t] ?? '(none)'}', here '${now[t] ?? '(none)'}'`,
  );
}

/** Read a lock file: null when absent; a UsageError naming the file when it is not a lock. */
export async function readLock(path: string): Promise<StackLock | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return null;
  }
  let v: StackLock;
  try {
    v = JSON.parse(text) as StackLock;
  } catch (e) {
    throw new UsageError(`${path} is not valid JSON (${(e as Error).message}); restore it from git or rewrite it with 'mpistack lock'`);
  }
  if (!v || v.format !== LOCK_FORMAT || typeof v.sourceDateEpoch !== 'number' || typeof v.recipes !== 'object' || !v.recipes) {
    throw new UsageError(
      `${path} is not a format ${LOCK_FORMAT} stack lock (needs format, sourceDateEpoch, toolchain, recipes); rewrite it with 'mpistack lock'`,
    );
  }
  return v;
}

/** Write a lock (sorted keys, temp file + rename). */
export async function writeLock(path: string, lock: StackLock): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${LOCK_FILE}.${process.pid}-${randomBytes(4).toString('hex')}`);
  await writeFile(tmp, `${JSON.stringify(JSON.parse(canonicalJson(lock)), null, 2)}\n`);
  await rename(tmp, path);
}

/** The recipes with each version's sources narrowed to the locked one (local sources unchanged). */
export function pinSources(recipes: readonly Recipe[], lock: StackLock): Recipe[] {
  return recipes.map((r) => {
    const l = lock.recipes[r.name];
    if (!l?.source.sha256) return r;
    return { ...r, versions: r.versions.map((v) => (v.version !== l.version ? v : { ...v, sources: v.sources.filter((s) => s.sha256 === l.source.sha256) })) };
  });
}

interface LockPlan {
  /** the recipes to build: sources narrowed to the locked ones (unchanged without a lock or with update) */
  recipes: Recipe[];
  sourceDateEpoch: number;
  /** where the lock lives */
  path: string;
  lock: StackLock | null;
  /** inputs that differ from the lock (a refusal unless `update`) */
  differences: string[];
  /** toolchain differences and notes, printed up front */
  warnings: string[];
}

/**
 * Hold the default stack's inputs against the lock at `path`. Without a lock:
 * unpinned, with a note. With one: SOURCE_DATE_EPOCH from the environment if
 * set, else the lock's; any differing input throws a UsageError listing them
 * all, unless `update` (or `report`, for --dry-run, which only lists them).
 */
export async function applyLock(
  recipes: readonly Recipe[],
  o: {
    path: string;
    versions?: Record<string, string>;
    cacheDir: string;
    env?: NodeJS.ProcessEnv;
    toolchain: Record<string, string | null>;
    update?: boolean;
    report?: boolean;
    /** names of the recipes added with --with (locked as optional entries) */
    optional?: readonly string[];
  },
): Promise<LockPlan> {
  const lock = await readLock(o.path);
  const envSde = (o.env ?? process.env).SOURCE_DATE_EPOCH;
  const sde =
    envSde !== undefined && envSde !== ''
      ? parseSourceDateEpoch(envSde, 'SOURCE_DATE_EPOCH in the environment')
      : (lock?.sourceDateEpoch ?? DEFAULT_SOURCE_DATE_EPOCH);
  if (!lock) {
    return {
      recipes: [...recipes],
      sourceDateEpoch: sde,
      path: o.path,
      lock,
      differences: [],
      warnings: [`no ${o.path}: building unpinned ('mpistack lock' writes one; --update-lock writes it after the build)`],
    };
  }
  const current = await currentLock(recipes, {
    versions: o.versions,
    sourceDateEpoch: sde,
    cacheDir: o.cacheDir,
    toolchain: o.toolchain,
    existing: lock,
    optional: o.optional,
  });
  const differences = lockDifferences(lock, current);
  const warnings = toolchainDifferences(lock.toolchain ?? {}, current.toolchain).map(
    (l) => `toolchain differs from ${o.path}: ${l} (the build may not reproduce the locked bytes)`,
  );
  if (differences.length && !o.update && !o.report) {
    throw new UsageError(
      `inputs differ from ${o.path}:\n  ${differences.join('\n  ')}\n` +
        'build with --update-lock to use these inputs and rewrite the lock, or put them back ' +
        `(git checkout ${basename(o.path)}, unset SOURCE_DATE_EPOCH, drop --openmpi or name a --stack)`,
    );
  }
  return { recipes: o.update || o.report ? [...recipes] : pinSources(recipes, lock), sourceDateEpoch: sde, path: o.path, lock, differences, warnings };
}
