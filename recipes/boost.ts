// Boost.MPI (seed section 4.3): Boost's MPI and serialization libraries built
// with b2 against the stack's own Open MPI wrapper.
//
// Data first: the versions table, then every version-dependent fact as a
// semver range with the reason. The b2 builder (builders/b2.ts) runs the
// phases; this file only says what differs for Boost.
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { b2Builder, planArgs, type B2Plan, type Grammar, type UserConfigPlace } from './builders/b2.js';
import {
  cleanEnv,
  copyRecipeFiles,
  mpirunEnv,
  parseLdd,
  pick,
  pickAll,
  recipeFiles,
  requireFiles,
  runRanks,
  SanityError,
  type CheckContext,
  type Ranged,
  type Recipe,
  type Shell,
  type VersionEntry,
  urlSource,
} from './kit/index.js';

// sha256 of the upstream .tar.bz2 release archives (the values Spack's boost
// package lists; 1.81.0 and 1.83.0 agree with other independent packagers).
export const versions: readonly VersionEntry[] = [
  // the seed's version (built there with a separately installed bjam 3.1.18); upstream only
  {
    version: '1.41.0',
    sources: [
      urlSource(
        'https://downloads.sourceforge.net/project/boost/boost/1.41.0/boost_1_41_0.tar.bz2',
        '1ef94e6749eaf13318284b4f629be063544c7015b45e38113b975ac1945cc726',
      ),
    ],
  },
  {
    version: '1.81.0',
    default: true,
    sources: [
      urlSource('https://archives.boost.io/release/1.81.0/source/boost_1_81_0.tar.bz2', '71feeed900fbccca04a3b4f2f84a7c217186f28a940ed8b7ed4725986baf99fa'),
      // Debian 12's boost1.81; its orig tarball is a git export (top directory
      // `boost`, no generated b2 grammar: see `grammar` below)
      {
        kind: 'debian',
        name: 'boost1.81',
        version: '1.81.0-5+deb12u1',
        filename: 'boost1.81_1.81.0.orig.tar.xz',
        sha256: '449afecf5ef98edc0a46826cde6af98d1fb95c2e92962fa8c9e3eb1e8a2928ec',
      },
    ],
  },
  {
    version: '1.83.0',
    sources: [
      urlSource('https://archives.boost.io/release/1.83.0/source/boost_1_83_0.tar.bz2', '6478edfe2f3305127cffe8caf73ea0176c53769f4bf1585be237eb30798c3b8e'),
    ],
  },
];

export const defaultVersion = versions.find((v) => v.default)!.version;

/** Compiled libraries built; everything else stays header-only or unbuilt. */
const libraries = ['mpi', 'serialization'] as const;

interface BoostRanges {
  tool: Ranged<'b2' | 'bjam'>[];
  userConfig: Ranged<UserConfigPlace>[];
  grammar: Ranged<Grammar>[];
  b2Flags: Ranged<string[]>[];
  bootstrapFlags: Ranged<string[]>[];
  cmakeConfigs: Ranged<boolean>[];
}

export const ranges: BoostRanges = {
  tool: [
    {
      range: '<1.47.0',
      value: 'bjam',
      why: 'bootstrap.sh of this era builds ./bjam (the seed runs bjam); b2 is the engine name from 1.47.0, when Boost.Jam merged into Boost.Build',
    },
    { range: '>=1.47.0', value: 'b2', why: 'bootstrap.sh builds ./b2' },
  ],

  userConfig: [
    {
      range: '<1.47.0',
      value: { path: 'tools/build/v2/user-config.jam', mode: 'append', passFlag: false },
      why: "seed 4.3.3: add `using mpi` to the tree's own tools/build/v2/user-config.jam, which bjam reads through the tree's boost-build.jam",
    },
    {
      range: '>=1.47.0',
      value: { path: 'user-config.jam', mode: 'write', passFlag: true },
      why: 'a private file named with --user-config=, so a ~/user-config.jam cannot change the build',
    },
  ],

  grammar: [
    {
      range: '>=1.81.0',
      value: { dir: 'tools/build/src/engine', input: 'jamgram.y', output: 'jamgram.cpp' },
      why: "git exports (Debian's orig tarball) lack the bison output that release tarballs ship; bootstrap.sh does not generate it",
    },
  ],

  // additive b2 flags
  b2Flags: [
    {
      range: '*',
      value: ['link=shared', 'threading=multi', 'variant=release'],
      why: 'shared, thread-safe release libraries: the stack runs MPI_THREAD_MULTIPLE',
    },
    { range: '*', value: ['--layout=system'], why: 'plain libboost_<name>.so names, said explicitly rather than left to the per-version default' },
    { range: '*', value: ['--debug-configuration'], why: 'the log shows which mpicxx and flags b2 took (seed 4.3.4 also used it)' },
    {
      range: '>=1.81.0',
      value: ['--ignore-site-config'],
      why: 'an /etc/site-config.jam must not change the build (checked on the b2 of 1.81/1.83; not verified on older trees)',
    },
  ],

  // additive bootstrap.sh flags
  bootstrapFlags: [
    {
      range: '*',
      value: ['--with-toolset=gcc', '--without-icu'],
      why: 'nothing probed silently: gcc, and no ICU (only Boost.Regex/Locale use it, neither is built)',
    },
  ],

  cmakeConfigs: [
    { range: '>=1.70.0', value: true, why: 'BoostConfig.cmake and boost_<lib>-config.cmake are installed since 1.70.0' },
    { range: '<1.70.0', value: false, why: 'older releases install no CMake package configs (FindBoost module only)' },
  ],
};

interface BoostOptions {
  /** the stack prefix (final location): its bin/mpicxx is the MPI used */
  prefix: string;
  /** build Boost.Python and Boost.MPI's Python module with this interpreter (seed 4.3.3 `using python`) */
  python?: string;
}

/** The stack's own MPI C++ wrapper: an absolute path into the prefix, never a system MPI. */
function mpicxxOf(prefix: string): string {
  return join(prefix, 'bin', 'mpicxx');
}

/** Resolve the tables for one version into what the b2 builder runs. */
export function plan(version: string, opts: BoostOptions): B2Plan {
  const libs: string[] = [...libraries];
  const bootstrapArgs = [`--with-libraries=${[...libs, ...(opts.python ? ['python'] : [])].join(',')}`, ...pickAll(ranges.bootstrapFlags, version).flat()];
  if (opts.python) bootstrapArgs.push(`--with-python=${opts.python}`);
  // recorded in project-config.jam; the build phase passes the staging prefix explicitly
  bootstrapArgs.push(`--prefix=${opts.prefix}`);

  const userConfigLines = [`using mpi : ${mpicxxOf(opts.prefix)} ;`];
  // version left empty: b2 asks the named interpreter
  if (opts.python) userConfigLines.push(`using python : : ${opts.python} ;`);

  return {
    tool: pick(ranges.tool, version, 'b2 tool'),
    bootstrapArgs,
    userConfig: pick(ranges.userConfig, version, 'user-config place'),
    userConfigLines,
    // RPATH to the prefix lib dir: libboost_mpi finds the prefix's libmpi and
    // libboost_serialization without LD_LIBRARY_PATH
    b2Args: [...pickAll(ranges.b2Flags, version).flat(), `dll-path=${join(opts.prefix, 'lib')}`],
    grammar: pickAll(ranges.grammar, version)[0],
    cmakeConfigs: pick(ranges.cmakeConfigs, version, 'cmake configs'),
  };
}

// ---------------------------------------------------------------------------
// Sanity check (the seed's point: STL containers cross ranks without hand
// serialization).

/** Files a good install has (relative to the prefix). */
export function expectedFiles(version: string): string[] {
  const files = ['include/boost/mpi.hpp', 'include/boost/serialization/map.hpp', 'lib/libboost_mpi.so', 'lib/libboost_serialization.so'];
  if (pick(ranges.cmakeConfigs, version, 'cmake configs')) {
    files.push(`lib/cmake/Boost-${version}/BoostConfig.cmake`, `lib/cmake/boost_mpi-${version}/boost_mpi-config.cmake`);
  }
  return files;
}

/**
 * The check programs (recipes/files/boost/): stl_exchange.cpp (rank 0 sends each rank a
 * std::map<std::string, std::vector<int>> and a std::string; each answers) and a CMake project
 * around it that must find Boost (the version being built) and Boost::mpi in the prefix alone.
 */
export const CHECK_PROGRAM = 'stl_exchange.cpp';
const CMAKE_PROBE = 'cmake-probe/CMakeLists.txt';

/** What a successful run at n ranks prints. */
export function stlExchangeExpected(n: number): string {
  return `boost-mpi-stl ${n - 1}/${n - 1} ranks=${n}`;
}

/** CMake arguments that make the prefix the only place Boost (at `version`) and MPI can come from. */
function cmakeArgs(version: string, prefix: string, mpiPrefix: string, srcDir: string, buildDir: string): string[] {
  return [
    '-S',
    srcDir,
    '-B',
    buildDir,
    `-DMPISTACK_BOOST_VERSION=${version}`,
    `-DCMAKE_PREFIX_PATH=${[...new Set([prefix, mpiPrefix])].join(';')}`,
    `-DCMAKE_CXX_COMPILER=${mpicxxOf(mpiPrefix)}`,
    `-DMPI_HOME=${mpiPrefix}`,
    `-DMPI_CXX_COMPILER=${mpicxxOf(mpiPrefix)}`,
    '-DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON',
    '-DCMAKE_FIND_PACKAGE_NO_SYSTEM_PACKAGE_REGISTRY=ON',
    '-DBoost_NO_SYSTEM_PATHS=ON',
  ];
}

interface BoostCheck {
  version: string;
  /** where Boost is installed now (the staged prefix during a build) */
  root: string;
  /** the stack prefix whose Open MPI Boost was built against */
  mpiPrefix: string;
  /** an empty scratch directory */
  workDir: string;
  shell: Shell;
  /**
   * base environment for every command. During a build it adds the staged
   * lib dir to LD_LIBRARY_PATH (the RPATH names the final prefix, where the
   * staged Boost libraries are not yet); against the final prefix it is clean.
   */
  env: NodeJS.ProcessEnv;
  /** ranks to run the exchange program at */
  ranks?: number[];
}

interface CheckReport {
  files: string[];
  /** what libboost_mpi's libmpi resolves to */
  libmpi: string;
  runs: { ranks: number; line: string }[];
  cmake?: { boostDir: string; mpiLibrary: string };
}

function resolvedLibmpi(ldd: ReadonlyMap<string, string>): string {
  const name = [...ldd.keys()].find((k) => /^libmpi\.so/.test(k));
  return (name && ldd.get(name)) ?? 'not linked';
}

/** Why libboost_mpi's libmpi is not the stack's own (null when it is). */
export function libmpiProblem(ldd: ReadonlyMap<string, string>, mpiPrefix: string): string | null {
  const libmpi = resolvedLibmpi(ldd);
  if (libmpi.startsWith(join(mpiPrefix, 'lib') + '/')) return null;
  return `libboost_mpi resolves libmpi to '${libmpi}', not the stack's ${join(mpiPrefix, 'lib')} (a system MPI, or a missing RPATH)`;
}

/**
 * The sanity check: installed files, libboost_mpi resolving the prefix's
 * libmpi by RPATH, the STL exchange program at 1, 2 and 4 ranks with the
 * prefix's mpicxx and mpirun, and find_package(Boost COMPONENTS mpi).
 * Throws a SanityError saying what is wrong; returns what it saw.
 */
export async function checkInstall(c: BoostCheck): Promise<CheckReport> {
  const { root, version, shell, workDir, mpiPrefix, env } = c;
  const fail = (check: string, detail: string) => new SanityError('boost', check, detail);
  const lib = join(root, 'lib');
  const run = (cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}) =>
    shell.run(cmd, args, { cwd: opts.cwd ?? workDir, env: opts.env ?? env, capture: true, timeoutMs: opts.timeoutMs ?? 600_000 });

  requireFiles('boost', root, expectedFiles(version));

  await mkdir(workDir, { recursive: true });
  const ldd = parseLdd(await run('ldd', [join(lib, 'libboost_mpi.so')]));
  const bad = libmpiProblem(ldd, mpiPrefix);
  if (bad) throw fail('libmpi of libboost_mpi', bad);
  const ser = ldd.get(`libboost_serialization.so.${version}`);
  if (!ser || !ser.startsWith(lib + '/')) throw fail('libboost_serialization of libboost_mpi', `resolves to '${ser ?? 'nothing'}', not ${lib}`);

  const [src = ''] = await copyRecipeFiles('boost', [CHECK_PROGRAM], workDir);
  const exe = join(workDir, 'stl_exchange');
  await run(mpicxxOf(mpiPrefix), [
    '-O1',
    `-I${join(root, 'include')}`,
    src,
    '-o',
    exe,
    `-L${lib}`,
    '-lboost_mpi',
    '-lboost_serialization',
    `-Wl,-rpath,${lib}`,
  ]);

  const mpirun = join(mpiPrefix, 'bin', 'mpirun');
  const runs: CheckReport['runs'] = [];
  for (const n of c.ranks ?? [1, 2, 4]) {
    const out = await runRanks(shell, mpirun, n, [exe], { cwd: workDir, env: mpirunEnv(env), timeoutMs: 180_000 });
    const line = out.split('\n').find((l) => l.startsWith('boost-mpi-stl')) ?? '';
    if (line !== stlExchangeExpected(n)) throw fail(`STL exchange at ${n} ranks`, `printed '${line}', expected '${stlExchangeExpected(n)}'`);
    runs.push({ ranks: n, line });
  }

  const report: CheckReport = { files: expectedFiles(version), libmpi: ldd.get([...ldd.keys()].find((k) => /^libmpi\.so/.test(k)) ?? '') ?? '', runs };
  if (pick(ranges.cmakeConfigs, version, 'cmake configs')) {
    const proj = join(workDir, 'cmake-probe');
    await copyRecipeFiles('boost', [CMAKE_PROBE, CHECK_PROGRAM], proj);
    const cfg = await run('cmake', cmakeArgs(version, root, mpiPrefix, proj, join(proj, 'build')), { cwd: proj });
    const boostDir = /mpistack-boost-dir=(.*)/.exec(cfg)?.[1]?.trim() ?? '';
    const mpiLibrary = /mpistack-boost-mpi=(.*)/.exec(cfg)?.[1]?.trim() ?? '';
    if (boostDir !== join(lib, 'cmake', `Boost-${version}`)) throw fail('find_package(Boost COMPONENTS mpi)', `found Boost at '${boostDir}', not in ${root}`);
    if (!mpiLibrary.startsWith(lib + '/')) throw fail('find_package(Boost COMPONENTS mpi)', `Boost::mpi is '${mpiLibrary}', not in ${lib}`);
    await run('cmake', ['--build', join(proj, 'build')], { cwd: proj });
    report.cmake = { boostDir, mpiLibrary };
  }
  return report;
}

/** The recipe's check hook: the staged tree, against the Open MPI already in the prefix. */
async function checkBoost(ctx: CheckContext): Promise<void> {
  await checkInstall({ version: ctx.version, root: ctx.root, mpiPrefix: ctx.prefix, workDir: ctx.workDir, shell: ctx.shell, env: ctx.runEnv });
}

/** Boost.MPI's Python extension module (mpi.so or mpi.cpython-*.so) under <prefix>/lib, up to 3 levels down. */
async function findBoostMpiModule(prefix: string): Promise<string | null> {
  const walk = async (dir: string, depth: number): Promise<string | null> => {
    let ents;
    try {
      ents = await readdir(dir, { withFileTypes: true });
    } catch {
      return null;
    }
    for (const e of ents) if (e.isFile() && /^mpi(\.cpython-[^/]*)?\.so$/.test(e.name)) return join(dir, e.name);
    if (depth > 0)
      for (const e of ents)
        if (e.isDirectory()) {
          const hit = await walk(join(dir, e.name), depth - 1);
          if (hit) return hit;
        }
    return null;
  };
  return walk(join(prefix, 'lib'), 3);
}

/** A directory from which `import boost.mpi` finds the prefix's module (a boost/ package made in workDir when b2 installed it bare). */
export async function boostPythonPackageDir(prefix: string, workDir: string): Promise<string> {
  const mod = await findBoostMpiModule(prefix);
  if (!mod) throw new SanityError('boost', 'Boost.MPI Python module', `no mpi*.so under ${join(prefix, 'lib')}: build Boost with --with boost-python`);
  if (basename(dirname(mod)) === 'boost') return dirname(dirname(mod));
  const pkg = join(workDir, 'boost-python', 'boost');
  await mkdir(pkg, { recursive: true });
  await writeFile(join(pkg, '__init__.py'), '');
  await symlink(mod, join(pkg, basename(mod))).catch(() => undefined);
  return dirname(pkg);
}

/** With `using python`: `import boost.mpi` under the prefix's mpirun at 2 ranks (each rank reports rank/size). */
async function checkBoostPython(ctx: CheckContext, python: string): Promise<string> {
  const dir = await boostPythonPackageDir(ctx.root, ctx.workDir);
  const env = mpirunEnv({ ...ctx.runEnv, PYTHONPATH: dir, PYTHONNOUSERSITE: '1', PYTHONDONTWRITEBYTECODE: '1' });
  const out = await ctx.shell.run(
    join(ctx.prefix, 'bin', 'mpirun'),
    ['-n', '2', python, '-c', 'import boost.mpi as m; print("boost.mpi rank %d of %d" % (m.world.rank, m.world.size))'],
    {
      cwd: ctx.workDir,
      env,
      capture: true,
      timeoutMs: 180_000,
    },
  );
  for (const r of [0, 1]) if (!out.includes(`boost.mpi rank ${r} of 2`)) throw new SanityError('boost', 'import boost.mpi at 2 ranks', out);
  return out;
}

/** Where the staged tree's programs run: its own lib dir first (RPATH names the final prefix). */
function boostRunEnv(root: string, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...cleanEnv(base), LD_LIBRARY_PATH: join(root, 'lib') };
}

/** Boost.MPI with the b2 builder; `python` adds Boost.Python (seed 4.3.3 `using python`). */
export function boostRecipe(opts: { python?: string } = {}): Recipe {
  const python = opts.python;
  const planFor = (version: string, prefix: string) => plan(version, { prefix, python });
  return {
    name: 'boost',
    description: "Boost.MPI and Boost.Serialization built against the stack's Open MPI",
    versions,
    dependencies: ['openmpi'],
    builder: b2Builder(planFor),
    configureArgs: (version, prefix) => planArgs(planFor(version, prefix)),
    runEnv: boostRunEnv,
    check: python
      ? async (ctx) => {
          await checkBoost(ctx);
          await checkBoostPython(ctx, python);
        }
      : checkBoost,
    files: recipeFiles('boost', [CHECK_PROGRAM, CMAKE_PROBE]),
  };
}

export const boost: Recipe = boostRecipe();
