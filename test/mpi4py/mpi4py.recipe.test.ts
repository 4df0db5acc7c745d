// mpi4py recipe data and options: the versions table, the pure build/install
// arguments and environment, `--with`/`--python` parsing with clear errors,
// the optional pieces added to the stack, and when the prepare hook runs Cython.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allRecipes, stackRecipes } from '../../recipes/index.js';
import {
  buildArgs,
  buildEnvOf,
  cythonizeCommand,
  DEFAULT_PYTHON,
  defaultVersion,
  installArgs,
  mpi4pyRecipe,
  probePython,
  PythonError,
  ranges,
  setuptoolsBuilder,
  sitePackages,
  versions,
} from '../../recipes/mpi4py.js';
import { pythonOption } from '../../scripts/commands/_options.js';
import { parseBuildArgs } from '../../scripts/commands/build.js';
import { type BuildContext } from '../../recipes/kit/index.js';
import { plan, resolveInputs, selectRecipes } from '../../scripts/engine/plan.js';
import { UsageError } from '../../scripts/foundation/errors.js';

const prefix = '/stack/prefix';
const py = probePython(DEFAULT_PYTHON);
const tmp = mkdtempSync(join(tmpdir(), 'mpistack-mpi4py-'));

test("versions: 1.3.1 (the seed's: its download and the tag archive) and 3.1.4 (default, upstream + Debian 12's source package)", () => {
  assert.equal(
    versions.map((v) => v.version),
    ['1.3.1', '3.1.4'],
  );
  assert.is(defaultVersion, '3.1.4');
  assert.equal(
    versions[0].sources.map((s) => s.kind),
    ['url', 'url'],
  );
  assert.is(versions[0].sources[1].filename, 'mpi4py-1.3.1-tag.tar.gz');
  const [up, deb] = versions[1].sources;
  assert.is(up.kind, 'url');
  assert.is(up.filename, 'mpi4py-3.1.4.tar.gz');
  assert.equal(deb, {
    kind: 'debian',
    name: 'mpi4py',
    version: '3.1.4-2',
    filename: 'mpi4py_3.1.4.orig.tar.gz',
    sha256: '0ac7cc1fbd1d026b519c4f439ffc15d8776e5615c262dd233a418d73539c352b',
  });
  const all = versions.flatMap((v) => v.sources.map((s) => s.sha256));
  for (const s of all) assert.match(s, /^[0-9a-f]{64}$/);
  assert.is(new Set(all).size, all.length, 'no copy-pasted checksum');
});

test("the prefix's mpicc only: MPICC in the environment and --mpicc on setup.py build", () => {
  assert.equal(buildArgs('3.1.4', prefix), [`--mpicc=${prefix}/bin/mpicc`]);
  const env = buildEnvOf(prefix, py);
  assert.is(env.MPICC, `${prefix}/bin/mpicc`);
  assert.is(env.MPICXX, `${prefix}/bin/mpicxx`);
  assert.is(env.MPISTACK_PYTHON, DEFAULT_PYTHON, 'the interpreter is part of the build inputs (cache key)');
  assert.match(env.MPISTACK_PYTHON_VERSION, /^3\.\d+$/);
});

test('installed under lib/python3.X/site-packages of the prefix, staged with --root, no bytecode', () => {
  assert.is(sitePackages('3.11'), 'lib/python3.11/site-packages');
  assert.equal(installArgs(prefix, '/stage', { path: '/x/python3', version: '3.11', include: '/x' }), [
    'install',
    '--root=/stage',
    `--prefix=${prefix}`,
    `--install-lib=${prefix}/lib/python3.11/site-packages`,
    '--no-compile',
  ]);
});

test('--python: the interpreter is probed; clear errors for a relative path, a missing file, a non-Python', () => {
  assert.is(py.path, DEFAULT_PYTHON);
  assert.match(py.version, /^3\.\d+$/);
  // the option is a usage error (exit 2); the recipe's own probe says what is wrong as a recipe error, never a UsageError
  assert.throws(
    () => pythonOption('python3'),
    (e: Error) => e instanceof UsageError && /absolute path/.test(e.message),
  );
  assert.throws(
    () => pythonOption('/nonexistent/python3'),
    (e: Error) => e instanceof UsageError && /no such file/.test(e.message),
  );
  assert.throws(
    () => pythonOption('/bin/false'),
    (e: Error) => e instanceof UsageError && /cannot run it as Python/.test(e.message),
  );
  assert.throws(
    () => probePython('python3'),
    (e: Error) => e instanceof PythonError && !(e instanceof UsageError) && e.path === 'python3',
  );
});

test('build options: --with mpi4py adds the recipe after openmpi, for the system python3 by default', () => {
  const o = parseBuildArgs(['--prefix=/p', '--with', 'mpi4py']);
  assert.equal(o.with, ['mpi4py']);
  const names = selectRecipes(o.recipes).map((r) => r.name);
  assert.equal(names, ['ucx', 'libfabric', 'openmpi', 'boost', 'node-mpi', 'runtime', 'toolchain', 'mpi4py']);
  const m = o.recipes.find((r) => r.name === 'mpi4py')!;
  assert.equal(m.dependencies, ['openmpi']);
  assert.is(resolveInputs(m, '/p').env.MPISTACK_PYTHON, DEFAULT_PYTHON);
  assert.match(plan(o.recipes, o), /mpi4py 3\.1\.4 \(builder setuptools, after openmpi\)/);
  assert.match(plan(o.recipes, o), /debian source mpi4py=3\.1\.4-2/);
  // the default stack has no Python piece
  assert.equal(
    parseBuildArgs(['--prefix=/p']).recipes.map((r) => r.name),
    allRecipes.map((r) => r.name),
  );
});

test('build options: --with boost-python builds Boost with `using python` for --python; mpi4py then imports boost.mpi after Boost', () => {
  const o = parseBuildArgs(['--prefix=/p', '--with=mpi4py,boost-python', `--python=${DEFAULT_PYTHON}`]);
  const boost = o.recipes.find((r) => r.name === 'boost')!;
  const args = boost.configureArgs('1.81.0', '/p');
  assert.ok(
    args.some((a) => a.includes(`using python : : ${DEFAULT_PYTHON} ;`)),
    args.join('\n'),
  );
  assert.ok(
    args.some((a) => a.includes('--with-libraries=mpi,serialization,python')),
    args.join('\n'),
  );
  assert.equal(o.recipes.find((r) => r.name === 'mpi4py')!.dependencies, ['openmpi', 'boost']);
  // without boost-python, Boost's arguments are the default stack's
  assert.not.ok(
    parseBuildArgs(['--prefix=/p', '--with', 'mpi4py'])
      .recipes.find((r) => r.name === 'boost')!
      .configureArgs('1.81.0', '/p')
      .some((a) => a.includes('python')),
  );
});

test('build options: unknown piece, --python without --with, and a bad interpreter are usage errors', () => {
  assert.throws(
    () => parseBuildArgs(['--prefix=/p', '--with', 'petsc4py']),
    (e: Error) => e instanceof UsageError && /unknown piece.*mpi4py, boost-python/.test(e.message),
  );
  assert.throws(
    () => parseBuildArgs(['--prefix=/p', `--python=${DEFAULT_PYTHON}`]),
    (e: Error) => e instanceof UsageError && /only with --with/.test(e.message),
  );
  assert.throws(
    () => parseBuildArgs(['--prefix=/p', '--with', 'mpi4py', '--python', '/nonexistent/python3']),
    (e: Error) => e instanceof UsageError && /no such file/.test(e.message),
  );
  assert.throws(() => stackRecipes({ with: ['mpi4py'] }), /needs a Python interpreter/);
});

test("prepare: Cython runs only when the tree lacks the generated C, with the interpreter Debian's cython3 uses", () => {
  const withC = join(tmp, 'sdist');
  mkdirSync(join(withC, 'src'), { recursive: true });
  writeFileSync(join(withC, 'src', 'mpi4py.MPI.c'), '/* generated */\n');
  assert.is(cythonizeCommand('3.1.4', withC), null);
  const bare = join(tmp, 'git-export');
  mkdirSync(join(bare, 'src'), { recursive: true });
  const c = cythonizeCommand('3.1.4', bare)!;
  assert.equal(c.args, ['conf/cythonize.py']);
  assert.match(c.cmd, /^\/\S*python3/);
  assert.throws(() => cythonizeCommand('1.3.1', bare), /no Cython driver/);
});

test('mpi4py 1.3.1 on Python 3.10+ is refused at configure with the reason and the way out', async () => {
  const py = probePython(DEFAULT_PYTHON);
  const b = setuptoolsBuilder(py, ranges.python);
  const ctx = { recipe: 'mpi4py', version: '1.3.1', prefix: '/nonexistent', srcDir: '/nonexistent', env: {} } as unknown as BuildContext;
  const err = await b.configure(ctx).then(
    () => null,
    (e: Error) => e,
  );
  assert.ok(err, 'refused');
  assert.match(
    err.message,
    new RegExp(`mpi4py 1\\.3\\.1 builds on Python <3\\.10\\.0, not ${py.version.replace('.', '\\.')} \\(1\\.x calls the old buffer API`),
  );
  assert.match(err.message, /use mpi4py 3\.1\.4, or --python an older interpreter/);
  // 3.1.4 passes that check and stops at the next one (no mpicc under the prefix)
  const err2 = await b.configure({ ...ctx, version: '3.1.4' }).then(
    () => null,
    (e: Error) => e,
  );
  assert.match(err2!.message, /\/nonexistent\/bin\/mpicc is missing/);
});

test('recipe description names the interpreter', () => {
  assert.match(mpi4pyRecipe({ python: py }).description, new RegExp(`for ${DEFAULT_PYTHON} \\(Python 3\\.\\d+\\)`));
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
