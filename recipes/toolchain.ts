// The CMake toolchain file (seed 4.4): share/mpistack/toolchain.cmake sets the
// C, C++ and Fortran compilers to the stack's wrappers and points MPI_HOME and
// Boost_ROOT at the tree, computed from the file's own location, so it needs
// no pack rule and works in a moved tree. The file itself is
// recipes/files/toolchain.cmake (a local source, hashed like the runtime's; its check's
// probe project is in recipes/files/toolchain/probe/).
//
// The sanity check builds a throwaway project (find_package(MPI) and
// find_package(Boost COMPONENTS mpi)) with it and runs it at 2 ranks; the e2e
// test (test/e2e/toolchain.cmake.test.ts) runs the same project against the
// installed prefix and an unpacked packed tree.
import { cp, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  cleanEnv,
  copyRecipeFiles,
  mpirunEnv,
  packageVersion,
  parseLdd,
  recipeFiles,
  requireFiles,
  resolvedElsewhere,
  SanityError,
  type Builder,
  type CheckContext,
  type Recipe,
  type Shell,
} from './kit/index.js';

/** Where the file lands, relative to the prefix. */
export const TOOLCHAIN_FILE = 'share/mpistack/toolchain.cmake';
/** The committed file (package-root-relative). */
export const TOOLCHAIN_SOURCE = 'recipes/files/toolchain.cmake';

/**
 * The probe project (recipes/files/toolchain/probe/): find_package(MPI) and
 * find_package(Boost COMPONENTS mpi) through the toolchain file, and a program
 * in which rank 0 sends rank 1 a std::map through Boost.MPI; rank 1 prints it.
 */
const PROBE_FILES = ['probe/CMakeLists.txt', 'probe/probe.cpp'] as const;

/** Copy the probe project into `dir` (dir/CMakeLists.txt, dir/probe.cpp); the e2e test builds the same project. */
export async function writeProbeProject(dir: string): Promise<void> {
  await copyRecipeFiles('toolchain', PROBE_FILES, dir);
}

/** What the probe prints at n >= 2 ranks. */
export function probeExpected(n: number): string {
  return `cmake-probe rank 1 got answer=42 ranks=${n} thread_multiple=yes`;
}

interface ProbeOptions {
  /** the toolchain file to use */
  toolchainFile: string;
  /** the tree whose libraries the program must load (and only those for MPI and Boost) */
  root: string;
  /** override of the root the file computes (the staged file during a build) */
  rootOverride?: string;
  workDir: string;
  shell: Shell;
  env: NodeJS.ProcessEnv;
  ranks?: number;
}

interface ProbeReport {
  configure: string;
  line: string;
  /** soname -> resolved path of the MPI and Boost libraries of the program */
  libs: Record<string, string>;
}

/** Libraries of the program that must come from the tree. */
export const TREE_LIBS = /^lib(mpi|mpi_cxx|open-pal|open-rte|boost_mpi|boost_serialization)\.so/;

/** Configure, build and run the probe project with the toolchain file; throws SanityError. */
export async function buildProbe(o: ProbeOptions): Promise<ProbeReport> {
  const fail = (check: string, detail: string) => new SanityError('toolchain', check, detail);
  const n = o.ranks ?? 2;
  const proj = join(o.workDir, 'toolchain-probe');
  await writeProbeProject(proj);
  const run = (cmd: string, args: string[], env = o.env) => o.shell.run(cmd, args, { cwd: proj, env, capture: true, timeoutMs: 600_000 });
  const build = join(proj, 'build');
  const args = ['-S', proj, '-B', build, `-DCMAKE_TOOLCHAIN_FILE=${o.toolchainFile}`, '-DCMAKE_BUILD_TYPE=Release'];
  if (o.rootOverride) args.push(`-DMPISTACK_ROOT=${o.rootOverride}`);
  const configure = await run('cmake', args);
  const want = (key: string, value: string) => {
    const got = new RegExp(`mpistack-${key}=(.*)`).exec(configure)?.[1]?.trim() ?? '';
    if (got !== value) throw fail(`configure (${key})`, `got '${got}', expected '${value}'`);
  };
  const root = o.rootOverride ?? o.root;
  want('cxx-compiler', join(root, 'bin', 'mpicxx'));
  want('mpiexec', join(root, 'bin', 'mpiexec'));
  await run('cmake', ['--build', build]);
  const exe = join(build, 'probe');
  const ldd = parseLdd(await run('ldd', [exe]));
  const libs: Record<string, string> = {};
  for (const [soname, path] of ldd) if (TREE_LIBS.test(soname)) libs[soname] = path;
  const [elsewhere] = resolvedElsewhere(ldd, TREE_LIBS, join(o.root, 'lib'));
  if (elsewhere) throw fail('ldd', `${elsewhere}, not ${join(o.root, 'lib')}`);
  for (const need of ['libmpi.so', 'libboost_mpi.so']) {
    if (!Object.keys(libs).some((k) => k.startsWith(need))) throw fail('ldd', `the probe does not link ${need}: ${JSON.stringify(libs)}`);
  }
  const out = await run(join(root, 'bin', 'mpirun'), ['-n', String(n), exe], mpirunEnv(o.env));
  const line = out.split('\n').find((l) => l.startsWith('cmake-probe')) ?? '';
  if (line !== probeExpected(n)) throw fail(`run at ${n} ranks`, `printed '${line}', expected '${probeExpected(n)}'\n${out}`);
  return { configure, line, libs };
}

/** Copies the committed file into place. */
const toolchainInstaller: Builder = {
  name: 'copy',
  async configure() {
    /* a plain file */
  },
  async build() {
    /* idem */
  },
  async install(ctx) {
    await mkdir(join(ctx.stagedPrefix, 'share', 'mpistack'), { recursive: true });
    await cp(join(ctx.srcDir, TOOLCHAIN_SOURCE), join(ctx.stagedPrefix, TOOLCHAIN_FILE));
  },
};

/**
 * The staged file with MPISTACK_ROOT set to the final prefix (the staged tree
 * has no wrappers yet; the location-derived root is covered by the e2e test).
 */
async function checkToolchain(ctx: CheckContext): Promise<void> {
  requireFiles('toolchain', ctx.root, [TOOLCHAIN_FILE]);
  const file = join(ctx.root, TOOLCHAIN_FILE);
  await buildProbe({ toolchainFile: file, root: ctx.prefix, rootOverride: ctx.prefix, workDir: ctx.workDir, shell: ctx.shell, env: cleanEnv(ctx.runEnv) });
}

export const toolchain: Recipe = {
  name: 'toolchain',
  description: "share/mpistack/toolchain.cmake: CMake with the stack's MPI wrappers, MPI and Boost from the prefix",
  versions: [{ version: packageVersion(), default: true, sources: [{ kind: 'local', paths: [TOOLCHAIN_SOURCE], filename: 'toolchain', sha256: '' }] }],
  dependencies: ['boost'],
  builder: toolchainInstaller,
  // one text file that finds its tree from its own location
  prefixIndependent: true,
  configureArgs: () => [],
  check: checkToolchain,
  files: recipeFiles('toolchain', PROBE_FILES),
};
