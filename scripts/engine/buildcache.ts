// The content-addressed build cache: a recipe's staged install, stored under
// a key that hashes every input that can change it, and restored instead of
// rebuilt when the key comes round again.
//
//   <cache>/builds/<key>/tree/        the staged prefix (files relative to the prefix)
//   <cache>/builds/<key>/logs/        the logs of the build that made it
//   <cache>/builds/<key>/entry.json   recipe, version, key inputs, file list (sha256, size, mode); written last
//   <cache>/builds/.tmp-*             entries being written (never read; `cache gc` removes them)
//   <cache>/prefixes.json             prefixes built with this cache (`cache gc` reads their manifests)
//
// An entry is written into a temp directory and renamed into place, and
// entry.json is the last file written inside it: a build killed at any
// moment leaves either no entry or a complete one. A lookup also checks
// every file against the entry's list, so a damaged entry is rebuilt, never
// restored.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cp, lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Recipe, ResolvedInputs } from '../../recipes/kit/contract.js';
import { mapLimit, processAlive } from '../foundation/concurrency.js';
import { canonicalJson, sha256File, sha256Text } from '../foundation/hash.js';
import { packageRoot } from '../foundation/package.js';
import { listTree } from '../foundation/tree.js';
import { copyTree } from './stage.js';

/** Bumped when the layout or the key's composition changes: old entries stop matching. */
const CACHE_FORMAT = 1;

/**
 * Variables of the caller's environment that reach a build and change its
 * output (compilers, flags, search paths). PATH is left out on purpose: it
 * differs between shells and checkouts (npm adds node_modules/.bin), and the
 * tools it finds are keyed by their versions instead (toolchain).
 */
export const KEYED_ENV = [
  'CC',
  'CXX',
  'FC',
  'F77',
  'F90',
  'CPP',
  'CFLAGS',
  'CXXFLAGS',
  'FCFLAGS',
  'FFLAGS',
  'CPPFLAGS',
  'LDFLAGS',
  'LIBS',
  'CPATH',
  'C_INCLUDE_PATH',
  'CPLUS_INCLUDE_PATH',
  'LIBRARY_PATH',
  'LD_LIBRARY_PATH',
  'PKG_CONFIG_PATH',
  'SOURCE_DATE_EPOCH',
  'MPICC',
  'MPICXX',
  'PYTHON',
] as const;

export interface KeyInputs {
  format: number;
  recipe: string;
  version: string;
  builder: string;
  /** the sha256 of the source that was actually fetched (two sources of one release may differ) */
  source: { filename: string; sha256: string };
  configureArgs: string[];
  /** the source patches applied in prepare (file, sha256), absent when none: a key without patches is the key of before */
  patches?: { file: string; sha256: string }[];
  /** the recipe's own build environment */
  env: Record<string, string>;
  /** KEYED_ENV variables set in the caller's environment */
  callerEnv: Record<string, string>;
  /** compiler, binutils, make, glibc, node versions */
  toolchain: Record<string, string | null>;
  /** dependency name -> its key */
  dependencies: Record<string, string>;
  /** the install prefix, unless the recipe says its result does not depend on it */
  prefix: string | null;
  /** sha256 of the source text of the recipe's hooks and its builder's phases, and of the files the recipe declares (check programs) */
  code: string;
}

/**
 * A fingerprint of the code that turns the source into the install and checks
 * it: the recipe's hooks and its builder's phases (their source text), and the
 * bytes of the files the recipe declares (`Recipe.files`: check programs under
 * recipes/files/<recipe>/, read from `root`, the package root).
 */
export function recipeCodeHash(r: Recipe, root = packageRoot()): string {
  const h = createHash('sha256');
  const b = r.builder;
  const fns: [string, unknown][] = [
    ['configureArgs', r.configureArgs],
    ['buildEnv', r.buildEnv],
    ['runEnv', r.runEnv],
    ['check', r.check],
    ['builder.name', b.name],
    ['builder.prepare', b.prepare],
    ['builder.configure', b.configure],
    ['builder.build', b.build],
    ['builder.install', b.install],
  ];
  for (const [k, f] of fns) h.update(`${k}\0${typeof f === 'function' ? f.toString() : typeof f === 'string' ? f : ''}\0`);
  for (const f of r.files ?? []) {
    const body = readFileSync(join(root, f));
    h.update(`file\0${f}\0${body.length}\0`);
    h.update(body);
  }
  return h.digest('hex');
}

function callerEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of KEYED_ENV) if (env[k] !== undefined) out[k] = env[k]!;
  return out;
}

export function keyInputs(
  recipe: Recipe,
  inputs: ResolvedInputs,
  source: { filename: string; sha256: string },
  o: { toolchain: Record<string, string | null>; dependencies: Record<string, string>; env: NodeJS.ProcessEnv },
): KeyInputs {
  return {
    format: CACHE_FORMAT,
    recipe: inputs.recipe,
    version: inputs.version,
    builder: inputs.builder,
    source: { filename: source.filename, sha256: source.sha256 },
    configureArgs: inputs.configureArgs,
    ...(inputs.patches?.length ? { patches: inputs.patches } : {}),
    env: inputs.env,
    callerEnv: callerEnv(o.env),
    toolchain: o.toolchain,
    dependencies: o.dependencies,
    prefix: recipe.prefixIndependent ? null : inputs.prefix,
    code: recipeCodeHash(recipe),
  };
}

export function cacheKey(k: KeyInputs): string {
  return createHash('sha256').update(canonicalJson(k)).digest('hex');
}

interface FileRecord {
  path: string;
  type: 'file' | 'link';
  size: number;
  mode: number;
  sha256: string;
}

interface CacheEntry {
  key: string;
  recipe: string;
  version: string;
  inputs: KeyInputs;
  createdAt: string;
  /** bytes of regular files */
  size: number;
  files: FileRecord[];
}

export const buildsDir = (cacheDir: string) => join(cacheDir, 'builds');
export const entryDir = (cacheDir: string, key: string) => join(buildsDir(cacheDir), key);

// Hashing a tree is thousands of small reads (Boost's headers: 15,000 files):
// whole-file reads, several in flight, instead of one stream per file after
// another (7 s -> 0.6 s for Boost's entry here).
const HASH_PARALLEL = 16;

/** The records of every file and symlink under root (sorted), with size, mode and sha256 (a link's sha256 is of its target text). */
async function recordTree(root: string): Promise<FileRecord[]> {
  const entries = listTree(root).filter((e) => e.type === 'file' || e.type === 'symlink');
  return mapLimit(entries, HASH_PARALLEL, async (e): Promise<FileRecord> => {
    const p = join(root, e.path);
    if (e.type === 'symlink') return { path: e.path, type: 'link', size: 0, mode: 0o777, sha256: sha256Text(await readlink(p)) };
    const st = await lstat(p);
    return { path: e.path, type: 'file', size: st.size, mode: st.mode & 0o7777, sha256: await sha256File(p, st.size) };
  });
}

/** Names the first file under root (in list order) that differs from the list, or null when all match. */
export async function verifyRecords(root: string, files: readonly FileRecord[], opts: { hash: boolean } = { hash: true }): Promise<string | null> {
  const problems = await mapLimit(files, HASH_PARALLEL, async (f): Promise<string | null> => {
    const p = join(root, f.path);
    const st = await lstat(p).catch(() => null);
    if (!st) return `${f.path} is missing`;
    if (f.type === 'link') {
      if (!st.isSymbolicLink()) return `${f.path} is no longer a symlink`;
      return sha256Text(await readlink(p)) === f.sha256 ? null : `${f.path} points elsewhere`;
    }
    if (!st.isFile()) return `${f.path} is not a regular file`;
    if (st.size !== f.size) return `${f.path} has ${st.size} bytes, expected ${f.size}`;
    if (opts.hash && (await sha256File(p, st.size)) !== f.sha256) return `${f.path} has changed (sha256)`;
    return null;
  });
  return problems.find((x) => x !== null) ?? null;
}

/** The entry for key, or null (with the reason) when there is none or it does not check out. */
export async function lookup(cacheDir: string, key: string): Promise<{ entry: CacheEntry | null; reason: string }> {
  const dir = entryDir(cacheDir, key);
  let entry: CacheEntry;
  try {
    entry = JSON.parse(await readFile(join(dir, 'entry.json'), 'utf8')) as CacheEntry;
  } catch {
    return { entry: null, reason: 'no cache entry for these inputs' };
  }
  if (entry.key !== key) return { entry: null, reason: `cache entry ${key} names key ${entry.key}` };
  const bad = await verifyRecords(join(dir, 'tree'), entry.files);
  if (bad) return { entry: null, reason: `cache entry ${key.slice(0, 12)} is damaged: ${bad}` };
  return { entry, reason: 'inputs unchanged' };
}

/**
 * Store a staged tree (copied; the tree itself is left for the merge) and its
 * logs under key. Temp directory, entry.json last, then one rename; an
 * existing entry for the key (a --fresh rebuild) is replaced the same way.
 */
export async function store(
  cacheDir: string,
  key: string,
  tree: string,
  logsDir: string,
  meta: { recipe: string; version: string; inputs: KeyInputs },
): Promise<CacheEntry> {
  const root = buildsDir(cacheDir);
  await mkdir(root, { recursive: true });
  await removeDeadTemps(root);
  const tmp = join(root, `.tmp-${key.slice(0, 16)}-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(tmp);
    await copyTree(tree, join(tmp, 'tree'));
    await cp(logsDir, join(tmp, 'logs'), { recursive: true });
    const files = await recordTree(join(tmp, 'tree'));
    const entry: CacheEntry = {
      key,
      recipe: meta.recipe,
      version: meta.version,
      inputs: meta.inputs,
      createdAt: new Date().toISOString(),
      size: files.reduce((s, f) => s + f.size, 0),
      files,
    };
    await writeFile(join(tmp, 'entry.json'), `${JSON.stringify(entry, null, 1)}\n`);
    const final = entryDir(cacheDir, key);
    const old = await stat(final).then(
      () => `${tmp}.old`,
      () => null,
    );
    if (old) await rename(final, old);
    await rename(tmp, final);
    if (old) await rm(old, { recursive: true, force: true });
    return entry;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Half-written entries whose writer is gone (killed): removed; a running writer's are left alone. */
async function removeDeadTemps(root: string): Promise<void> {
  for (const n of await readdir(root)) {
    const m = /^\.tmp-[0-9a-f]+-(\d+)-[0-9a-f]{8}(\.old)?$/.exec(n);
    if (!m) continue;
    if (!processAlive(Number(m[1]))) await rm(join(root, n), { recursive: true, force: true });
  }
}

/** Copy an entry's tree into a (new) staged prefix directory. */
export async function restoreInto(cacheDir: string, key: string, stagedPrefix: string): Promise<void> {
  await copyTree(join(entryDir(cacheDir, key), 'tree'), stagedPrefix);
}

export async function readEntry(cacheDir: string, key: string): Promise<CacheEntry | null> {
  try {
    return JSON.parse(await readFile(join(entryDir(cacheDir, key), 'entry.json'), 'utf8')) as CacheEntry;
  } catch {
    return null;
  }
}

/** Remember that `prefix` was built with this cache (for `cache gc`). */
export async function registerPrefix(cacheDir: string, prefix: string): Promise<void> {
  const list = await knownPrefixes(cacheDir);
  if (list.includes(prefix)) return;
  await mkdir(cacheDir, { recursive: true });
  const tmp = join(cacheDir, `.prefixes-${process.pid}-${randomBytes(4).toString('hex')}.json`);
  await writeFile(tmp, `${JSON.stringify([...list, prefix].sort(), null, 2)}\n`);
  await rename(tmp, join(cacheDir, 'prefixes.json'));
}

export async function knownPrefixes(cacheDir: string): Promise<string[]> {
  try {
    return JSON.parse(await readFile(join(cacheDir, 'prefixes.json'), 'utf8')) as string[];
  } catch {
    return [];
  }
}
