// e2e: the real Boost.MPI build against a real Open MPI prefix, then every
// sanity check from outside the engine.
//
// Prefix: MPISTACK_E2E_PREFIX when set (CI's main job built the stack there
// and passes it on; when its Boost was restored from the build cache rather
// than built, this test rebuilds it with --fresh, so that a real b2 build made
// what is checked). Otherwise the engine builds openmpi then boost into a
// fresh temporary prefix.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkInstall, defaultVersion, libmpiProblem } from '../../recipes/boost.js';
import { allRecipes } from '../../recipes/index.js';
import { buildStack } from '../../scripts/engine/engine.js';
import { makeShell } from '../../scripts/engine/shell.js';
import { runLimited } from '../helpers/mpi.js';
import { builtStack } from '../helpers/stack.js';
import { cleanEnv, mpirunEnv, parseLdd } from '../../recipes/kit/index.js';
import { manifestPath } from '../../scripts/foundation/layout.js';
import { type Manifest } from '../../scripts/foundation/manifest.js';

const given = process.env.MPISTACK_E2E_PREFIX;
const prefix = given ?? mkdtempSync(join(tmpdir(), 'mpistack-e2e-boost-'));
const scratch = mkdtempSync(join(tmpdir(), 'mpistack-e2e-boost-check-'));
const cacheDir = process.env.MPISTACK_E2E_CACHE ?? join(scratch, 'cache');

// checks run through the engine's shell helper; its log is printed on failure
const shell = makeShell('boost', 'e2e-check', join(scratch, 'check.log'));
const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = cleanEnv()) =>
  shell.run(cmd, args, { cwd: scratch, env, capture: true, timeoutMs: 300_000 });

test.after(() => {
  rmSync(scratch, { recursive: true, force: true });
  if (!given && !process.env.MPISTACK_E2E_KEEP) rmSync(prefix, { recursive: true, force: true });
});

test('build boost (after openmpi) into the prefix with the engine', async () => {
  // the whole default stack (openmpi then boost), or boost alone on top of CI's Open MPI prefix
  // a real b2 build must have made what is checked below: the main job's own (manifest origin 'built'),
  // else (restored from the build cache, or absent) this test builds it again with --fresh
  const before = given && existsSync(manifestPath(prefix)) ? (JSON.parse(readFileSync(manifestPath(prefix), 'utf8')) as Manifest).recipes.boost : undefined;
  const fresh = before?.origin !== 'built';
  const started = Date.now();
  const results = await buildStack(allRecipes, {
    prefix,
    jobs: 2,
    cacheDir,
    mirrors: [],
    offline: false,
    render: 'silent',
    only: given ? 'boost' : undefined,
    fresh,
    fetch: { timeoutMs: 20_000, attempts: 2, backoffMs: 500 },
  });
  console.log(
    `[boost e2e] ${results.map((r) => `${r.inputs.recipe} ${r.inputs.version} ${r.outcome} (from ${r.fetched.from})`).join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  assert.is(results.at(-1)!.outcome, fresh ? 'built' : 'installed');
  assert.equal(
    results.map((r) => r.inputs.recipe),
    given ? ['boost'] : ['openmpi', 'boost'],
  );
  const b = results.at(-1)!;
  assert.is(b.inputs.version, defaultVersion);
  const src = b.inputs.sources.find((s) => s.filename === b.fetched.filename);
  assert.ok(src, `fetched ${b.fetched.filename} is one of the recipe's sources`);
  assert.is(b.fetched.sha256, src.sha256);
  assert.ok(existsSync(join(prefix, 'bin', 'mpicxx')), 'the prefix has the stack Open MPI');
  const m = JSON.parse(readFileSync(manifestPath(prefix), 'utf8')) as Manifest;
  assert.ok(m.recipes.openmpi, 'manifest lists openmpi');
  assert.is(m.recipes.boost.builder, 'b2');
  assert.is(m.recipes.boost.origin, 'built', 'the files checked here come from a b2 build in this prefix');
  assert.ok(m.recipes.boost.configureArgs.includes(`user-config.jam: using mpi : ${join(prefix, 'bin', 'mpicxx')} ;`));
  for (const p of ['prepare', 'configure', 'build', 'install', 'check']) assert.ok(existsSync(join(prefix, 'share/mpistack/logs/boost', `${p}.log`)), p);
  // the b2 log shows it took the stack's wrapper
  assert.match(
    readFileSync(join(prefix, 'share/mpistack/logs/boost/build.log'), 'utf8'),
    new RegExp(`Open MPI wrapper compiler: ${join(prefix, 'bin', 'mpicxx')}`),
  );
});

test('libboost_mpi and libboost_serialization installed, versioned, with the CMake configs', () => {
  const libs = readdirSync(join(prefix, 'lib'));
  assert.ok(libs.includes(`libboost_mpi.so.${defaultVersion}`), libs.join(' '));
  assert.ok(libs.includes(`libboost_serialization.so.${defaultVersion}`), libs.join(' '));
  assert.ok(existsSync(join(prefix, 'lib', 'cmake', `Boost-${defaultVersion}`, 'BoostConfig.cmake')));
  for (const name of readdirSync(join(prefix, 'lib', 'cmake')).filter((n) => n.startsWith('boost_'))) {
    const dir = join(prefix, 'lib', 'cmake', name);
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.cmake'))) {
      const text = readFileSync(join(dir, f), 'utf8');
      for (const m of text.matchAll(/"(\/[^"$]*)"/g)) assert.ok(m[1].startsWith(prefix), `${name}/${f} names ${m[1]} outside the prefix (staging leak)`);
    }
  }
});

test('libboost_mpi: RPATH to the prefix, libmpi from the prefix and never the system one', async () => {
  const lib = join(prefix, 'lib', 'libboost_mpi.so');
  const dyn = await run('readelf', ['-d', lib]);
  assert.match(dyn, new RegExp(`(RPATH|RUNPATH).*\\[[^\\]]*${join(prefix, 'lib').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const ldd = parseLdd(await run('ldd', [lib]));
  assert.is(libmpiProblem(ldd, prefix), null);
  for (const [name, path] of ldd) {
    if (/^lib(mpi|open-rte|open-pal)\b/.test(name)) assert.ok(path.startsWith(join(prefix, 'lib') + '/'), `${name} => ${path}`);
    assert.not.ok(path.startsWith('/usr/lib/x86_64-linux-gnu/libmpi'), `${name} => ${path}`);
  }
});

test('sanity check: STL exchange at 1, 2 and 4 ranks with the prefix mpicxx/mpirun; find_package(Boost COMPONENTS mpi)', async () => {
  // against the final prefix with a clean environment: no LD_LIBRARY_PATH, so the RPATH has to do it
  const report = await checkInstall({
    version: defaultVersion,
    root: prefix,
    mpiPrefix: prefix,
    workDir: join(scratch, 'check'),
    shell,
    env: cleanEnv(),
    ranks: [1, 2, 4],
  });
  assert.is(report.libmpi, join(prefix, 'lib', builtStack(prefix).libmpi));
  assert.equal(
    report.runs.map((r) => r.line),
    ['boost-mpi-stl 0/0 ranks=1', 'boost-mpi-stl 1/1 ranks=2', 'boost-mpi-stl 3/3 ranks=4'],
  );
  assert.is(report.cmake?.boostDir, join(prefix, 'lib', 'cmake', `Boost-${defaultVersion}`));
  assert.is(report.cmake?.mpiLibrary, join(prefix, 'lib', `libboost_mpi.so.${defaultVersion}`));
  // the CMake-built program runs too
  const r = await runLimited(join(prefix, 'bin', 'mpirun'), ['-n', '2', join(scratch, 'check', 'cmake-probe', 'build', 'stl_exchange')], {
    env: mpirunEnv(cleanEnv()),
    timeoutMs: 120_000,
  });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /boost-mpi-stl 1\/1 ranks=2/);
});

test.run();
