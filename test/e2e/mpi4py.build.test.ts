// e2e: mpi4py built into the stack prefix with the engine (--with mpi4py),
// then the seed's check from outside the engine (rank 0 sends a dictionary to
// rank 1 under the prefix's mpirun; THREAD_MULTIPLE; get_config() names the
// prefix's mpicc; mpi4py and libmpi come from the prefix, although Debian's
// python3-mpi4py is installed too), then from a packed tree unpacked
// elsewhere with the build prefix hidden.
//
// Source: MPISTACK_E2E_MIRROR (a directory or URL holding mpi4py-3.1.4.tar.gz
// or mpi4py_3.1.4.orig.tar.gz; .ci/run passes ../shared/mirror). The fault
// case is made for real: an empty cache and no mirror, where neither upstream
// nor Debian's mpi4py source files can be reached, fails with a NoSourceError
// naming every source tried and leaves the installed mpi4py as it was.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stackRecipes } from '../../recipes/index.js';
import { recipeFile } from '../../recipes/kit/index.js';
import { CHECK_DICT, CHECK_PROGRAM, checkArgs, checkMpi4py, DEFAULT_PYTHON, judgeCheck, probePython, sitePackages } from '../../recipes/mpi4py.js';
import { buildStack } from '../../scripts/engine/engine.js';
import { NoSourceError, PhaseError } from '../../scripts/engine/errors.js';
import { makeShell } from '../../scripts/engine/shell.js';
import { install } from '../../scripts/pack/install.js';
import { pack, readBuildInfo } from '../../scripts/pack/pack.js';
import { mpirunEnv, runLimited } from '../helpers/mpi.js';
import { manifestPath } from '../../scripts/foundation/layout.js';
import { readManifest } from '../../scripts/foundation/manifest.js';

const prefixEnv = process.env.MPISTACK_E2E_PREFIX;
if (!prefixEnv || !existsSync(join(prefixEnv, 'bin/mpicc'))) {
  console.error(
    `mpi4py e2e: MPISTACK_E2E_PREFIX must name a built stack prefix with bin/mpicc (got ${JSON.stringify(prefixEnv ?? null)}); build one with npm run build-stack.`,
  );
  process.exit(1);
}
const prefix = realpathSync(prefixEnv);
const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'mpistack-e2e-mpi4py-')));
const cacheDir = process.env.MPISTACK_E2E_CACHE ?? join(tmp, 'cache');
const py = probePython(process.env.MPISTACK_E2E_PYTHON ?? DEFAULT_PYTHON);
const site = join(prefix, sitePackages(py.version));

const mirror = process.env.MPISTACK_E2E_MIRROR;

test("mpi4py built into the prefix (from the mirror) passes the seed's check there and from a packed tree", async () => {
  assert.ok(mirror, 'MPISTACK_E2E_MIRROR must name a directory or URL holding mpi4py_3.1.4.orig.tar.gz (.ci/run passes ../shared/mirror)');
  const started = Date.now();
  const results = await buildStack(stackRecipes({ with: ['mpi4py'], python: py }), {
    prefix,
    jobs: 2,
    cacheDir,
    mirrors: [mirror],
    offline: false,
    render: 'silent',
    only: 'mpi4py',
    fetch: { timeoutMs: 20_000, attempts: 2, backoffMs: 500 },
  });
  console.log(
    `[mpi4py e2e] built ${results.map((r) => `${r.inputs.recipe} ${r.inputs.version} (from ${r.fetched.from}, ${r.outcome})`).join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  const m = readManifest(prefix);
  assert.is(m.recipes.mpi4py.builder, 'setuptools');
  assert.is(m.recipes.mpi4py.env.MPICC, join(prefix, 'bin', 'mpicc'));
  assert.is(m.recipes.mpi4py.env.MPISTACK_PYTHON, py.path);
  await seedCheck();
  await packedCheck();
});

test('with no source obtainable (empty cache, no mirror, upstream and Debian unreachable) the build fails cleanly and the installed mpi4py stays', async () => {
  const before = readFileSync(manifestPath(prefix), 'utf8');
  const installed = readFileSync(join(site, 'mpi4py', '__init__.py'), 'utf8');
  const err = await buildStack(stackRecipes({ with: ['mpi4py'], python: py }), {
    prefix,
    jobs: 2,
    cacheDir: join(tmp, 'empty-cache'),
    mirrors: [],
    offline: false,
    render: 'silent',
    only: 'mpi4py',
    fetch: { timeoutMs: 10_000, attempts: 1, backoffMs: 100 },
  }).then(
    () => null,
    (e: unknown) => e,
  );
  const cause = err instanceof PhaseError ? err.cause : err;
  assert.instance(cause, NoSourceError, String(err));
  const nse = cause as NoSourceError;
  assert.ok(
    nse.attempts.some((a) => a.source.includes('mpi4py-3.1.4.tar.gz')),
    'upstream tried',
  );
  assert.ok(
    nse.attempts.some((a) => a.source === 'debian source mpi4py=3.1.4-2'),
    'Debian source package tried',
  );
  assert.is(readFileSync(manifestPath(prefix), 'utf8'), before, 'the prefix manifest is unchanged');
  assert.is(readFileSync(join(site, 'mpi4py', '__init__.py'), 'utf8'), installed, 'the installed mpi4py is untouched');
});

/** The seed's check from outside the engine: under the prefix's mpirun, from the prefix, with its libmpi and mpicc. */
async function seedCheck(): Promise<void> {
  const work = join(tmp, 'check');
  mkdirSync(work, { recursive: true });
  const report = await checkMpi4py({
    python: py.path,
    siteDir: site,
    mpiPrefix: prefix,
    workDir: work,
    shell: makeShell('mpi4py', 'e2e', join(tmp, 'check.log')),
    env: process.env,
  });
  assert.equal(report.received, CHECK_DICT);
  assert.is(report.infos.length, 2);
  for (const i of report.infos) {
    assert.ok(i.thread_multiple);
    assert.is(i.mpicc, join(prefix, 'bin', 'mpicc'));
    assert.ok(i.file.startsWith(`${site}/mpi4py/`), i.file);
  }
}

/** From a packed tree elsewhere, build prefix hidden: env.sh puts mpi4py on PYTHONPATH and it runs at 2 ranks. */
async function packedCheck(): Promise<void> {
  const buildPrefix = readBuildInfo(prefix).prefix ?? prefix;
  const out = await pack({ prefix, buildPrefix, out: join(tmp, 'out'), version: 'e2e' });
  const root = join(tmp, 'moved', 'mpistack');
  mkdirSync(join(tmp, 'moved'), { recursive: true });
  renameSync((await install({ tarball: out.tarball, dest: join(tmp, 'dest') })).root, root);
  copyFileSync(recipeFile('mpi4py', CHECK_PROGRAM), join(tmp, 'check.py'));
  const hide = [...new Set([buildPrefix, prefix])].filter((h) => existsSync(h));
  writeFileSync(
    join(tmp, 'moved.sh'),
    [
      ...hide.map((h) => `mount -t tmpfs -o size=1m mpistack-hidden '${h}' || exit 90`),
      'unset LD_LIBRARY_PATH OPAL_PREFIX PYTHONPATH',
      `. '${root}/env.sh'`,
      `'${py.path}' -c 'from mpi4py import MPI; print("import-ok", MPI.get_vendor()[0])'`,
      `timeout 300 mpirun -n 2 '${py.path}' '${join(tmp, 'check.py')}' ${checkArgs()
        .map((a) => `'${a}'`)
        .join(' ')}`,
    ].join('\n'),
  );
  const r = await runLimited('unshare', ['-m', '--propagation', 'private', 'bash', join(tmp, 'moved.sh')], {
    env: mpirunEnv({ PATH: '/usr/local/bin:/usr/bin:/bin', HOME: process.env.HOME, PYTHONDONTWRITEBYTECODE: '1' }),
    timeoutMs: 10 * 60_000,
  });
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^import-ok Open MPI/m);
  // get_config names the wrapper bare in a packed tree (mpi.cfg rule): PATH finds the tree's
  const j = judgeCheck(r.stdout, { siteDir: join(root, sitePackages(py.version)), libDir: join(root, 'lib'), mpicc: 'mpicc', ranks: 2 });
  assert.equal(j.problems, [], r.stdout);
}

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
