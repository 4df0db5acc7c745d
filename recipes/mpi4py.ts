// mpi4py (seed 4.2): the Python MPI binding, built with the Python the user
// names (--python, default the distribution's python3) against the prefix's
// own mpicc only, installed under lib/python3.X/site-packages. Optional in the
// stack: `mpistack build --with mpi4py`.
//
// Data first: the versions table and the version-dependent facts; the
// setuptools builder below only turns them into `setup.py` commands.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import semver from 'semver';
import {
  canonicalJson,
  copyRecipeFiles,
  mpirunEnv,
  pick,
  pickAll,
  recipeFiles,
  RecipeError,
  runRanks,
  SanityError,
  type BuildContext,
  type Builder,
  type CheckContext,
  type Ranged,
  type Recipe,
  type Shell,
  type VersionEntry,
  urlSource,
} from './kit/index.js';

// sha256 of the upstream sdists (the values Spack's py-mpi4py lists); the
// Debian entry is the orig tarball of bookworm's mpi4py 3.1.4-2 (its .dsc).
export const versions: readonly VersionEntry[] = [
  // the seed's version (4.2.1: mpi4py.googlecode.com/files; Google Code's download archive keeps the same file),
  // then the 1.3.1 tag as a git export (../shared/mirror serves it). Builds only on Python < 3.10: see `python`
  {
    version: '1.3.1',
    sources: [
      urlSource(
        'https://storage.googleapis.com/google-code-archive-downloads/v2/code.google.com/mpi4py/mpi4py-1.3.1.tar.gz',
        'e7bd2044aaac5a6ea87a87b2ecc73b310bb6efe5026031e33067ea3c2efc3507',
      ),
      {
        kind: 'url',
        url: 'https://github.com/mpi4py/mpi4py/archive/refs/tags/1.3.1.tar.gz',
        filename: 'mpi4py-1.3.1-tag.tar.gz',
        sha256: '1380cadc0391c69b3ba7e8a2498f11848793c7f7387d3d7d44c282ed720f5d7d',
      },
    ],
  },
  {
    version: '3.1.4',
    default: true,
    sources: [
      urlSource(
        'https://github.com/mpi4py/mpi4py/releases/download/3.1.4/mpi4py-3.1.4.tar.gz',
        '17858f2ebc623220d0120d1fa8d428d033dde749c4bc35b33d81a66ad7f93480',
      ),
      // Debian 12's mpi4py; a git export without the generated C (see `cythonize`)
      {
        kind: 'debian',
        name: 'mpi4py',
        version: '3.1.4-2',
        filename: 'mpi4py_3.1.4.orig.tar.gz',
        sha256: '0ac7cc1fbd1d026b519c4f439ffc15d8776e5615c262dd233a418d73539c352b',
      },
    ],
  },
];

export const defaultVersion = versions.find((v) => v.default)!.version;

interface Mpi4pyRanges {
  /** the Cython output the build compiles (relative to the source root) */
  generatedC: Ranged<string>[];
  /** the script that regenerates it when the tree lacks it */
  cythonize: Ranged<string>[];
  /** the Python versions a release builds on (semver range on major.minor.0) */
  python: Ranged<string>[];
  /** extra `setup.py build` arguments */
  buildArgs: Ranged<string[]>[];
}

export const ranges: Mpi4pyRanges = {
  python: [
    {
      range: '<2.0.0',
      value: '<3.10.0',
      why:
        '1.x calls the old buffer API (PyObject_AsReadBuffer/AsWriteBuffer), removed in Python 3.10: ' +
        'tried on 3.11, Cython 0.29 regenerates the C but it does not compile',
    },
    { range: '>=2.0.0', value: '>=3.0.0', why: "the new buffer protocol; 3.1.4 is Debian 12's, built for its Python 3.11" },
  ],
  generatedC: [{ range: '*', value: 'src/mpi4py.MPI.c', why: 'setup.py compiles src/mpi4py.MPI.c (1.x-3.x layout); sdists ship it, git exports do not' }],
  cythonize: [
    { range: '>=3.0.0 <4.0.0', value: 'conf/cythonize.py', why: "the 3.x tree's own Cython driver; needs Cython 0.27-0.29 (Debian 12's cython3 is 0.29.32)" },
  ],
  buildArgs: [
    { range: '*', value: [], why: "MPICC in the environment names the prefix's wrapper (read by mpi4py's mpidistutils for every version)" },
    {
      range: '>=1.3.0',
      value: ['--mpicc=MPICC'],
      why: '`setup.py build --mpicc=` as well (install docs since 1.3): an mpi.cfg in the tree cannot pick another MPI',
    },
  ],
};

/** The distribution's interpreter: PATH may name a pyenv/conda python without matching headers. */
export const DEFAULT_PYTHON = '/usr/bin/python3';

export interface PythonInfo {
  /** absolute path of the interpreter */
  path: string;
  /** major.minor, e.g. 3.11 */
  version: string;
  /** its C headers directory (Python.h) */
  include: string;
}

/** An interpreter that is no usable Python 3 with headers: `path` and what is wrong with it (the build command turns it into a UsageError). */
export class PythonError extends RecipeError {
  override name = 'PythonError';
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

/** Ask an interpreter what it is; PythonError when it is no usable Python 3 with headers. */
export function probePython(path: string): PythonInfo {
  if (!path.startsWith('/')) throw new PythonError(path, 'not an absolute path to a python3 interpreter');
  if (!existsSync(path)) throw new PythonError(path, `no such file; name an installed python3 (default ${DEFAULT_PYTHON}: apt-get install python3-dev)`);
  let out: string;
  try {
    const script = 'import sys, sysconfig; print("%d.%d" % sys.version_info[:2]); print(sysconfig.get_paths()["include"])';
    out = execFileSync(path, ['-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  } catch (e) {
    throw new PythonError(path, `cannot run it as Python (${(e as Error).message.split('\n')[0]}); name a python3 interpreter`);
  }
  const [version = '', include = ''] = out.trim().split('\n');
  if (!/^3\.\d+$/.test(version)) throw new PythonError(path, `is Python ${version}, mpistack builds for Python 3`);
  if (!existsSync(join(include, 'Python.h'))) {
    throw new PythonError(path, `no Python.h in ${include}; install its development headers (for the system python3: apt-get install python3-dev)`);
  }
  return { path, version, include };
}

/** Where the package lands, relative to the prefix. */
export function sitePackages(pyVersion: string): string {
  return `lib/python${pyVersion}/site-packages`;
}

function mpiccOf(prefix: string): string {
  return join(prefix, 'bin', 'mpicc');
}

/** Pure: `setup.py build` arguments for a version and prefix. */
export function buildArgs(version: string, prefix: string): string[] {
  return pickAll(ranges.buildArgs, version)
    .flat()
    .map((a) => a.replace('MPICC', mpiccOf(prefix)));
}

/** Pure: `setup.py install` arguments (staged with --root, no bytecode: it would name the build path). */
export function installArgs(prefix: string, stageDir: string, py: PythonInfo): string[] {
  return ['install', `--root=${stageDir}`, `--prefix=${prefix}`, `--install-lib=${join(prefix, sitePackages(py.version))}`, '--no-compile'];
}

/** Pure: the build environment: the prefix's wrappers, and nothing that could pick another MPI or Python path. */
export function buildEnvOf(prefix: string, py: PythonInfo): Record<string, string> {
  return { MPICC: mpiccOf(prefix), MPICXX: join(prefix, 'bin', 'mpicxx'), MPISTACK_PYTHON: py.path, MPISTACK_PYTHON_VERSION: py.version };
}

/** The environment a setup.py command runs in: user Python settings dropped. */
function pyEnv(ctx: BuildContext): NodeJS.ProcessEnv {
  const env = { ...ctx.env };
  for (const k of ['PYTHONPATH', 'PYTHONHOME', 'PYTHONUSERBASE', 'PYTHONSTARTUP', 'CFLAGS', 'LDSHARED', 'OPAL_PREFIX']) delete env[k];
  return { ...env, PYTHONNOUSERSITE: '1', PYTHONDONTWRITEBYTECODE: '1' };
}

/** The Cython command to run, or null when the tree ships the generated C (sdists). */
export function cythonizeCommand(version: string, srcDir: string): { cmd: string; args: string[] } | null {
  if (existsSync(join(srcDir, pick(ranges.generatedC, version, 'generated C')))) return null;
  const script = pickAll(ranges.cythonize, version)[0];
  if (!script)
    throw new RecipeError(
      `mpi4py ${version}: the tree lacks ${pick(ranges.generatedC, version, 'generated C')} and this version has no Cython driver in the recipe; use its sdist`,
    );
  return { cmd: cythonPython(), args: [script] };
}

/** The interpreter Debian's cython3 runs on (the one with the Cython module), from the script's shebang. */
function cythonPython(): string {
  let which: string;
  try {
    which = execFileSync('sh', ['-c', 'command -v cython3'], { encoding: 'utf8' }).trim();
  } catch {
    throw new RecipeError('the tree has no generated C and cython3 is not installed (apt-get install cython3, see scripts/install-prereqs.sh)');
  }
  const m = /^#!\s*(\S+)/.exec(execFileSync('head', ['-n1', which], { encoding: 'utf8' }));
  return m?.[1] ?? DEFAULT_PYTHON;
}

/**
 * `python setup.py` phases. `pythonRanges`, when given, names the Python
 * versions each release of the package builds on (mpi4py's `ranges.python`):
 * configure refuses another interpreter with the reason.
 */
export function setuptoolsBuilder(py: PythonInfo, pythonRanges?: Ranged<string>[]): Builder {
  return {
    name: 'setuptools',
    async prepare(ctx) {
      const c = cythonizeCommand(ctx.version, ctx.srcDir);
      if (!c) return;
      await ctx.shell.run(c.cmd, c.args, { cwd: ctx.srcDir, env: pyEnv(ctx) });
      const out = pick(ranges.generatedC, ctx.version, 'generated C');
      if (!existsSync(join(ctx.srcDir, out))) throw new RecipeError(`Cython ran but ${out} is still missing`);
    },
    async configure(ctx) {
      // nothing probed silently: the interpreter must be the one the inputs name
      const info = probePython(py.path);
      if (info.version !== py.version) throw new RecipeError(`${py.path} is now Python ${info.version}, the build was planned for ${py.version}`);
      const supported = pythonRanges ? pick(pythonRanges, ctx.version, 'python') : undefined;
      if (supported && !semver.satisfies(`${py.version}.0`, supported)) {
        const why = pythonRanges?.find((r) => r.value === supported)?.why ?? '';
        throw new RecipeError(
          `${ctx.recipe} ${ctx.version} builds on Python ${supported}, not ${py.version} (${why}); ` +
            `use mpi4py ${defaultVersion}, or --python an older interpreter`,
        );
      }
      if (!existsSync(mpiccOf(ctx.prefix))) throw new RecipeError(`${mpiccOf(ctx.prefix)} is missing: build openmpi into ${ctx.prefix} first`);
    },
    async build(ctx) {
      await ctx.shell.run(py.path, ['setup.py', 'build', ...buildArgs(ctx.version, ctx.prefix)], { cwd: ctx.srcDir, env: pyEnv(ctx) });
    },
    async install(ctx) {
      await ctx.shell.run(py.path, ['setup.py', ...installArgs(ctx.prefix, ctx.stageDir, py)], { cwd: ctx.srcDir, env: pyEnv(ctx) });
    },
  };
}

// ---------------------------------------------------------------------------
// Sanity check: the seed's 4.2.4-4.2.5 (rank 0 sends a dictionary, rank 1
// prints it), plus the thread level, get_config()'s mpicc, where mpi4py was
// imported from and which libmpi the process mapped.

export const CHECK_DICT = { answer: 42, greeting: 'hello from rank 0', squares: [0, 1, 4, 9] };

/** The check program (recipes/files/mpi4py/): sends CHECK_DICT (given as JSON in argv[1]) from rank 0 to rank 1 and reports every rank. */
export const CHECK_PROGRAM = 'mpi4py_check.py';

/** `python mpi4py_check.py <these>`: the program's arguments. */
export function checkArgs(): string[] {
  return [JSON.stringify(CHECK_DICT)];
}

interface Mpi4pyReport {
  received: unknown;
  infos: { rank: number; size: number; file: string; thread_multiple: boolean; mpicc: string; libmpi: string[] }[];
}

/** Parse the check's output; list every problem (empty: good). */
export function judgeCheck(out: string, o: { siteDir: string; libDir: string; mpicc: string; ranks: number }): { report: Mpi4pyReport; problems: string[] } {
  const problems: string[] = [];
  const recv = /^mpi4py-recv (.*)$/m.exec(out)?.[1];
  const received: unknown = recv ? JSON.parse(recv) : undefined;
  if (canonicalJson(received) !== canonicalJson(CHECK_DICT)) {
    problems.push(`rank 1 printed ${recv ?? 'nothing'}, expected ${JSON.stringify(CHECK_DICT)}`);
  }
  const line = /^mpi4py-infos (.*)$/m.exec(out)?.[1];
  const infos = line ? (JSON.parse(line) as Mpi4pyReport['infos']) : [];
  if (infos.length !== o.ranks) problems.push(`${infos.length} of ${o.ranks} ranks reported`);
  for (const i of infos) {
    if (!i.file.startsWith(o.siteDir + '/')) problems.push(`rank ${i.rank} imported mpi4py from ${i.file}, not ${o.siteDir}`);
    if (!i.thread_multiple) problems.push(`rank ${i.rank}: MPI.Query_thread() is not MPI_THREAD_MULTIPLE`);
    if (i.mpicc !== o.mpicc) problems.push(`rank ${i.rank}: mpi4py.get_config()['mpicc'] is ${i.mpicc}, not ${o.mpicc}`);
    if (!i.libmpi.length || i.libmpi.some((p) => !p.startsWith(o.libDir + '/')))
      problems.push(`rank ${i.rank} mapped libmpi ${JSON.stringify(i.libmpi)}, not from ${o.libDir}`);
    if (i.size !== o.ranks) problems.push(`rank ${i.rank} sees size ${i.size}`);
  }
  return { report: { received, infos }, problems };
}

interface Mpi4pyCheck {
  python: string;
  /** site-packages holding mpi4py now (staged during a build) */
  siteDir: string;
  /** the prefix whose mpirun, libmpi and mpicc must be used */
  mpiPrefix: string;
  /** what get_config()['mpicc'] must say (default: the prefix's mpicc) */
  mpicc?: string;
  /** where the ranks' libmpi must come from (default: the prefix's lib) */
  libDir?: string;
  workDir: string;
  shell: Shell;
  env: NodeJS.ProcessEnv;
  /** also import Boost.MPI's Python module from this directory (holding boost/) */
  boostPythonDir?: string;
}

/** Run the check at 2 ranks under the prefix's mpirun; throws SanityError. */
export async function checkMpi4py(c: Mpi4pyCheck): Promise<Mpi4pyReport> {
  const [script = ''] = await copyRecipeFiles('mpi4py', [CHECK_PROGRAM], c.workDir);
  const env = mpirunEnv({ ...c.env, PYTHONPATH: [c.siteDir, c.boostPythonDir].filter(Boolean).join(':'), PYTHONNOUSERSITE: '1', PYTHONDONTWRITEBYTECODE: '1' });
  delete env.PYTHONHOME;
  const out = await runRanks(c.shell, join(c.mpiPrefix, 'bin', 'mpirun'), 2, [c.python, script, ...checkArgs()], { cwd: c.workDir, env, timeoutMs: 180_000 });
  const { report, problems } = judgeCheck(out, {
    siteDir: c.siteDir,
    libDir: c.libDir ?? join(c.mpiPrefix, 'lib'),
    mpicc: c.mpicc ?? mpiccOf(c.mpiPrefix),
    ranks: 2,
  });
  if (problems.length) throw new SanityError('mpi4py', 'dictionary from rank 0 to rank 1 at 2 ranks', `${problems.join('; ')}\n${out}`);
  if (c.boostPythonDir) {
    const b = await c.shell.run(c.python, ['-c', 'import boost.mpi as m; print("boost.mpi", m.__file__, m.world.size)'], {
      cwd: c.workDir,
      env,
      capture: true,
      timeoutMs: 60_000,
    });
    if (!/^boost\.mpi \S+ 1$/m.test(b)) throw new SanityError('mpi4py', 'import boost.mpi', b);
  }
  return report;
}

interface Mpi4pyOptions {
  python: PythonInfo;
  /**
   * Boost was built with `using python` for this interpreter: import boost.mpi in the check too,
   * from the directory this gives (the boost recipe's boostPythonPackageDir, passed in by the
   * catalogue: a recipe never imports another)
   */
  boostPython?: (prefix: string, workDir: string) => Promise<string>;
}

export function mpi4pyRecipe(o: Mpi4pyOptions): Recipe {
  const py = o.python;
  return {
    name: 'mpi4py',
    description: `mpi4py for ${py.path} (Python ${py.version}) against the stack's Open MPI`,
    versions,
    // with boost-python, after Boost: the check imports boost.mpi from the prefix
    dependencies: o.boostPython ? ['openmpi', 'boost'] : ['openmpi'],
    builder: setuptoolsBuilder(py, ranges.python),
    configureArgs: (version, prefix) => buildArgs(version, prefix),
    buildEnv: (_v, prefix) => buildEnvOf(prefix, py),
    runEnv: (_root, base) => base,
    async check(ctx: CheckContext) {
      const boostPythonDir = o.boostPython ? await o.boostPython(ctx.prefix, ctx.workDir) : undefined;
      const siteDir = join(ctx.root, sitePackages(py.version));
      if (!existsSync(join(siteDir, 'mpi4py', '__init__.py'))) throw new SanityError('mpi4py', 'files', `no mpi4py package in ${siteDir}`);
      const cfg = join(siteDir, 'mpi4py', 'mpi.cfg');
      if (existsSync(cfg) && !(await readFile(cfg, 'utf8')).includes(mpiccOf(ctx.prefix)))
        throw new SanityError('mpi4py', 'mpi.cfg', `${cfg} does not name ${mpiccOf(ctx.prefix)}`);
      await checkMpi4py({ python: py.path, siteDir, mpiPrefix: ctx.prefix, workDir: ctx.workDir, shell: ctx.shell, env: ctx.runEnv, boostPythonDir });
    },
    files: recipeFiles('mpi4py', [CHECK_PROGRAM]),
  };
}
