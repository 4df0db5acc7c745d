// Planning a build, before anything runs: the options, which recipes in which
// order, each recipe's resolved inputs (versions, sources, arguments,
// environment) and the --dry-run plan. Pure but for one read: a local source
// (this checkout) is hashed by content here (local.ts), so that its sha256 is
// known up front like a release archive's.
import { isAbsolute } from 'node:path';
import { findVersion, type Recipe, type ResolvedInputs, type Source } from '../../recipes/kit/contract.js';
import { UsageError } from '../foundation/errors.js';
import { DEFAULT_SOURCE_DATE_EPOCH, parseSourceDateEpoch } from '../foundation/layout.js';
import { determinismEnv } from './determinism.js';
import { RecipeGraphError } from './errors.js';
import { cachePath, candidates } from './fetch.js';
import { hashLocal } from './local.js';
import { patchInputs } from './patches.js';
import type { RenderMode } from './render.js';

/** The phases of a recipe's build, in order (phases.ts has one row each, plus the cache lookup). */
const PHASES = ['fetch', 'unpack', 'prepare', 'configure', 'build', 'install', 'check', 'store', 'restore', 'merge'] as const;
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
    if (path.includes(r.name)) throw new RecipeGraphError(`dependency cycle: ${[...path, r.name].join(' -> ')}`);
    for (const d of r.dependencies) {
      const dep = byName.get(d);
      if (!dep) throw new RecipeGraphError(`${r.name} depends on unknown recipe ${d}`);
      visit(dep, [...path, r.name]);
    }
    seen.add(r.name);
    out.push(r);
  };
  for (const r of all) visit(r, []);
  return only ? out.filter((r) => r.name === only) : out;
}

/** SOURCE_DATE_EPOCH of a run: the option, else the environment's, else the default. */
export function sourceDateEpochOf(o: Pick<BuildOptions, 'sourceDateEpoch' | 'env'>): number {
  if (o.sourceDateEpoch !== undefined) return o.sourceDateEpoch;
  const v = (o.env ?? process.env).SOURCE_DATE_EPOCH;
  return v === undefined || v === '' ? DEFAULT_SOURCE_DATE_EPOCH : parseSourceDateEpoch(v, 'SOURCE_DATE_EPOCH in the environment');
}

/** The resolved inputs of one recipe build; a local source's sha256 is its content hash (the one read this module does). */
export function resolveInputs(recipe: Recipe, prefix: string, version?: string): ResolvedInputs {
  const entry = findVersion(recipe, version);
  const patches = patchInputs(recipe, entry.version);
  return {
    recipe: recipe.name,
    version: entry.version,
    builder: recipe.builder.name,
    prefix,
    sources: entry.sources.map((s) => (s.kind === 'local' ? { ...s, sha256: hashLocal(s.paths) } : { ...s })),
    configureArgs: recipe.configureArgs(entry.version, prefix),
    env: recipe.buildEnv?.(entry.version, prefix) ?? {},
    dependencies: [...recipe.dependencies],
    ...(patches.length ? { patches } : {}),
  };
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
    if (Object.keys(inp.env).length) {
      lines.push(
        `  environment: ${Object.entries(inp.env)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
      );
    }
    lines.push(`  phases: ${PHASES.join(' -> ')}`);
  }
  return lines.join('\n');
}
