// The setuptools builder (the phases the mpi4py recipe runs) on a small real
// package with a C extension compiled by the MPICC the recipe sets: configure
// probes the interpreter and the prefix's mpicc, build and install stage the
// package under <stage><prefix>/lib/python3.X/site-packages without bytecode,
// and the staged extension runs under mpirun at 2 ranks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEnvOf, DEFAULT_PYTHON, defaultVersion, probePython, setuptoolsBuilder, sitePackages } from '../../recipes/mpi4py.js';
import { makeShell } from '../../scripts/engine/shell.js';
import { mpirunEnv, runLimited } from '../helpers/mpi.js';
import { type BuildContext } from '../../recipes/kit/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'mpistack-setuptools-'));
// the mpi4py version the builder plans for: configure holds the interpreter to that version's Python range
const MPI4PY_VERSION = defaultVersion;
const py = probePython(DEFAULT_PYTHON);
const prefix = join(tmp, 'prefix');
const srcDir = join(tmp, 'src');
const stageDir = join(tmp, 'stage');

const SETUP_PY = `import os
from setuptools import setup, Extension
try:
    from setuptools.command.build import build
except ImportError:
    from distutils.command.build import build
class Build(build):
    # 'setup.py build --mpicc=...', as mpi4py's own setup takes it (the recipe passes it from 1.3 on)
    user_options = build.user_options + [("mpicc=", None, "the MPI C compiler wrapper")]
    def initialize_options(self):
        super().initialize_options()
        self.mpicc = None
# the recipe's MPICC is the only compiler (as mpi4py's own setup does)
os.environ["CC"] = os.environ["MPICC"]
os.environ["LDSHARED"] = os.environ["MPICC"] + " -shared"
setup(name="mpifix", version="0.1.0", packages=["mpifix"], package_dir={"": "lib"},
      ext_modules=[Extension("mpifix._ring", ["ring.c"])], cmdclass={"build": Build})
`;
const RING_C = `#include <Python.h>
#include <mpi.h>
static PyObject *run(PyObject *self, PyObject *args) {
  int provided, rank, size, sum = 0;
  MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  MPI_Finalize();
  return Py_BuildValue("(iiii)", rank, size, provided == MPI_THREAD_MULTIPLE, sum);
}
static PyMethodDef methods[] = {{"run", run, METH_NOARGS, "ring"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_ring", NULL, -1, methods};
PyMODINIT_FUNC PyInit__ring(void) { return PyModule_Create(&mod); }
`;

test('configure, build, install: staged under lib/python3.X/site-packages, no bytecode, runs at 2 ranks', async () => {
  mkdirSync(join(prefix, 'bin'), { recursive: true });
  // the "prefix's" wrappers: Debian's Open MPI here (the e2e suite uses the stack's)
  symlinkSync('/usr/bin/mpicc', join(prefix, 'bin', 'mpicc'));
  symlinkSync('/usr/bin/mpicxx', join(prefix, 'bin', 'mpicxx'));
  mkdirSync(join(srcDir, 'lib', 'mpifix'), { recursive: true });
  writeFileSync(join(srcDir, 'setup.py'), SETUP_PY);
  writeFileSync(join(srcDir, 'ring.c'), RING_C);
  writeFileSync(join(srcDir, 'lib', 'mpifix', '__init__.py'), 'from ._ring import run\n');
  const stagedPrefix = join(stageDir, prefix);
  const ctx = (phase: string): BuildContext => ({
    recipe: 'mpifix',
    version: MPI4PY_VERSION,
    prefix,
    srcDir,
    buildDir: tmp,
    stageDir,
    stagedPrefix,
    jobs: 2,
    configureArgs: [],
    env: { ...process.env, PYTHONPATH: '/nonexistent-user-setting', ...buildEnvOf(prefix, py) },
    shell: makeShell('mpifix', phase, join(tmp, `${phase}.log`)),
  });
  const b = setuptoolsBuilder(py);
  await b.configure(ctx('configure'));
  await b.build(ctx('build'));
  await b.install(ctx('install'));

  const site = join(stagedPrefix, sitePackages(py.version));
  assert.ok(existsSync(join(site, 'mpifix', '__init__.py')), `no package in ${site}`);
  const ext = readdirSync(join(site, 'mpifix')).find((f) => /^_ring\..*so$/.test(f));
  assert.ok(ext, readdirSync(join(site, 'mpifix')).join(' '));
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [join(d, e.name), ...walk(join(d, e.name))] : [join(d, e.name)]));
  assert.equal(
    walk(stageDir).filter((p) => /__pycache__|\.pyc$|\.egg$/.test(p)),
    [],
    'no bytecode or egg staged',
  );
  assert.not.ok(
    walk(stageDir).some((p) => p.startsWith(join(stageDir, 'usr'))),
    'nothing outside the prefix',
  );

  // each rank writes its own file: lines of two ranks can interleave on mpirun's output
  const outDir = join(tmp, 'ranks');
  mkdirSync(outDir);
  const r = await runLimited(
    'mpirun',
    [
      '-n',
      '2',
      py.path,
      '-c',
      'import mpifix, sys; v = mpifix.run(); open("%s/ring.%d" % (sys.argv[1], v[0]), "w").write(" ".join(map(str, ("ring",) + v + (mpifix.__file__,))))',
      outDir,
    ],
    {
      env: mpirunEnv({ PYTHONPATH: site, PYTHONDONTWRITEBYTECODE: '1' }),
      timeoutMs: 120_000,
    },
  );
  assert.is(r.code, 0, r.stdout + r.stderr);
  const lines = readdirSync(outDir)
    .sort()
    .map((f) => readFileSync(join(outDir, f), 'utf8'));
  assert.equal(lines, [`ring 0 2 1 1 ${site}/mpifix/__init__.py`, `ring 1 2 1 1 ${site}/mpifix/__init__.py`]);
});

test('configure refuses a prefix without mpicc, naming it', async () => {
  const bare = join(tmp, 'bare');
  mkdirSync(bare, { recursive: true });
  const ctx: BuildContext = {
    recipe: 'mpifix',
    version: MPI4PY_VERSION,
    prefix: bare,
    srcDir,
    buildDir: tmp,
    stageDir,
    stagedPrefix: join(stageDir, bare),
    jobs: 1,
    configureArgs: [],
    env: process.env,
    shell: makeShell('mpifix', 'configure', join(tmp, 'bare.log')),
  };
  try {
    await setuptoolsBuilder(py).configure(ctx);
    assert.unreachable('configure passed');
  } catch (e) {
    assert.match((e as Error).message, new RegExp(`${bare}/bin/mpicc is missing: build openmpi into ${bare} first`));
  }
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
