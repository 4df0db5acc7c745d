// The recipe contract: what a recipe and a builder give the engine, and what
// the engine gives them. A recipe is data (versions with checksummed sources,
// semver-ranged facts, dependencies) plus small hooks (sanity checks). A
// builder owns the phases that turn an unpacked tree into a staged install.
// The engine (scripts/engine/) owns fetch, verify, unpack, staging, the move
// into the prefix, the manifest and the task tree, so a new builder (b2,
// node-gyp) or a build cache slots in without engine changes. Pure: nothing
// here reads a file or runs a command (local sources are hashed by the
// engine, scripts/engine/local.ts).
import semver from 'semver';
import { RecipeError } from './errors.js';

/** A release archive at a URL; mirrors are asked for the same file name. */
interface UrlSource {
  kind: 'url';
  url: string;
  /** file name in the cache and on mirrors (defaults to the URL's last segment) */
  filename: string;
  sha256: string;
}

/** A release archive at `url`, cached and mirrored under the URL's last segment. */
export function urlSource(url: string, sha256: string): UrlSource {
  return { kind: 'url', url, filename: url.slice(url.lastIndexOf('/') + 1), sha256 };
}

/** A Debian source package whose orig tarball carries the same upstream release. */
interface DebianSource {
  kind: 'debian';
  /** `apt-get source name=version` */
  name: string;
  version: string;
  /** the orig tarball's file name and sha256 */
  filename: string;
  sha256: string;
}

/**
 * Files of this checkout (package-root-relative paths): the Node binding and
 * the runtime. `sha256` is a content hash over the sorted files, filled in by
 * the engine when it resolves the inputs (scripts/engine/local.ts); a recipe
 * writes ''.
 */
export interface LocalSource {
  kind: 'local';
  paths: string[];
  /** directory name in the cache and the build tree */
  filename: string;
  sha256: string;
}

export type Source = UrlSource | DebianSource | LocalSource;

export interface VersionEntry {
  version: string;
  /** tried in this order after --mirror entries */
  sources: Source[];
  default?: true;
}

/** One version-dependent fact: applies to versions in `range`; `why` says where it comes from. */
export interface Ranged<T> {
  range: string;
  value: T;
  why: string;
}

/** Every entry whose range holds `version`, in table order (additive flags). */
export function pickAll<T>(table: readonly Ranged<T>[], version: string): T[] {
  return table.filter((r) => semver.satisfies(version, r.range)).map((r) => r.value);
}

/** The value of the first entry whose range holds `version` (a fact that has exactly one value per version). */
export function pick<T>(table: readonly Ranged<T>[], version: string, what: string): T {
  const hit = table.find((r) => semver.satisfies(version, r.range));
  if (!hit) throw new RecipeError(`no ${what} entry for version ${version} (ranges: ${table.map((r) => r.range).join(', ')})`);
  return hit.value;
}

/** How a shell command runs: always an explicit cwd and environment. */
export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** also capture stdout and return it (it still goes to the log) */
  capture?: boolean;
  /** kill the process group after this many ms */
  timeoutMs?: number;
  input?: string;
}

/**
 * The one way a hook runs an external command (the engine's
 * scripts/engine/shell.ts): output appended to the phase's log, a failure as
 * one error carrying the command, its exit status and the log's last lines.
 */
export interface Shell {
  readonly recipe: string;
  readonly phase: string;
  readonly logPath: string;
  run(cmd: string, args: string[], opts: RunOptions): Promise<string>;
}

/** Where the build directory appears in debug info and __FILE__: the engine's compiler shims map it here (-ffile-prefix-map). */
export const MAPPED_BUILD_DIR = '/usr/src/mpistack';

/** `text` with every occurrence of the build directory replaced by MAPPED_BUILD_DIR (what the compiler shims do to debug info). */
export function mapBuildDir(text: string, buildDir: string): string {
  return text.split(buildDir.replace(/\/+$/, '')).join(MAPPED_BUILD_DIR);
}

/** What the hooks know about one build. Paths are absolute. */
export interface BuildContext {
  recipe: string;
  version: string;
  /** final install prefix */
  prefix: string;
  /** the unpacked source tree (top directory) */
  srcDir: string;
  /** the build's own directory (srcDir is below it); compilers see it as MAPPED_BUILD_DIR */
  buildDir: string;
  /** DESTDIR: the install lands in `${stageDir}${prefix}` */
  stageDir: string;
  /** `${stageDir}${prefix}` */
  stagedPrefix: string;
  jobs: number;
  configureArgs: string[];
  env: NodeJS.ProcessEnv;
  /** runs commands with the phase's log file */
  shell: Shell;
}

/** A build system: the phases between an unpacked tree and a staged install. */
export interface Builder {
  name: string;
  // `this: void`: a phase is a plain function (no builder object state); the engine and the cache key take them as values
  prepare?(this: void, ctx: BuildContext): Promise<void>;
  configure(this: void, ctx: BuildContext): Promise<void>;
  build(this: void, ctx: BuildContext): Promise<void>;
  install(this: void, ctx: BuildContext): Promise<void>;
}

/** Sanity checks run against the staged tree (`root` = staged prefix) before the move. */
export interface CheckContext extends BuildContext {
  /** where the installed files are now (staged prefix) */
  root: string;
  /** environment that makes programs in `root` use `root`'s libraries */
  runEnv: NodeJS.ProcessEnv;
  /** scratch directory for test programs */
  workDir: string;
}

export interface Recipe {
  name: string;
  description: string;
  versions: readonly VersionEntry[];
  /** names of recipes that must be installed into the same prefix first */
  dependencies: readonly string[];
  builder: Builder;
  /** pure: the configure arguments for a version and prefix */
  configureArgs(this: void, version: string, prefix: string): string[];
  /** pure: extra build environment (default none) */
  buildEnv?(this: void, version: string, prefix: string): Record<string, string>;
  /** environment under which the staged tree's programs run (e.g. OPAL_PREFIX) */
  runEnv?(this: void, root: string, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** sanity checks; throw (via ctx.shell or SanityError) when one fails */
  check(this: void, ctx: CheckContext): Promise<void>;
  /**
   * Package-root-relative files the hooks read at run time (check programs
   * under recipes/files/<recipe>/): their bytes enter the build cache key, as
   * the hooks' source text does, so changing one rebuilds the recipe.
   */
  files?: readonly string[];
  /**
   * Source patches, as data: each a package-root-relative `.patch` file
   * (recipes/files/<recipe>/patches/) with the versions it applies to and why.
   * The engine applies the version's patches in order with `patch -p1` in the
   * prepare phase, before the builder's own prepare; each one's sha256 enters
   * the resolved inputs, so the cache key and the lock.
   */
  patches?: readonly Ranged<string>[];
  /**
   * The installed files do not depend on the prefix (no paths baked in), so a
   * build cache entry made for one prefix may be restored into another.
   */
  prefixIndependent?: true;
}

/** Everything that determines a build's output: the key a build cache hashes. */
export interface ResolvedInputs {
  recipe: string;
  version: string;
  builder: string;
  prefix: string;
  sources: Source[];
  configureArgs: string[];
  env: Record<string, string>;
  dependencies: string[];
  /** the source patches applied in prepare (Recipe.patches for this version), in order; absent when none */
  patches?: PatchInput[];
}

/** A patch as the inputs name it: its package-root-relative file and the sha256 of its bytes. */
export interface PatchInput {
  file: string;
  sha256: string;
}

/** The versions-table entry of `version` (default: the recipe's default version, else its first). */
export function findVersion(recipe: Recipe, version?: string): VersionEntry {
  const want = version ?? recipe.versions.find((v) => v.default)?.version ?? recipe.versions[0]?.version;
  const hit = recipe.versions.find((v) => v.version === want);
  if (!hit) throw new RecipeError(`${recipe.name} has no version ${want} (known: ${recipe.versions.map((v) => v.version).join(', ')})`);
  return hit;
}
