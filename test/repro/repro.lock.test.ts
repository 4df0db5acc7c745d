// stack.lock.json: written with @PREFIX@ paths, every input compared, a
// build whose inputs differ refused before anything runs (and allowed with
// --update-lock), sources narrowed to the locked one, the toolchain a
// warning. The committed lock matches the recipes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { allRecipes, STACKS, stackBase, stackRecipes } from '../../recipes/index.js';
import { DEFAULT_PYTHON, probePython } from '../../recipes/mpi4py.js';
import { openmpi } from '../../recipes/openmpi.js';
import {
  LOCK_FILE,
  applyLock,
  currentLock,
  lockDifferences,
  lockEntry,
  pinSources,
  readLock,
  selectStack,
  toolchainDifferences,
  writeLock,
  type StackLock,
} from '../../scripts/engine/lock.js';
import { UsageError } from '../../scripts/foundation/errors.js';
import { packageRoot } from '../../scripts/foundation/package.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'cli.js');
const TC = { gcc: 'gcc 12', 'g++': 'g++ 12', gfortran: 'gf 12', make: 'make 4', ld: 'ld 2.40', glibc: 'glibc 2.36', node: 'v20' };
const tmp = () => mkdtempSync(join(tmpdir(), 'mpistack-lock-'));
const debian = openmpi.versions.find((v) => v.version === '4.1.4')!.sources.find((s) => s.kind === 'debian')!;

async function lockFor(sde = 315532800, versions?: Record<string, string>, existing?: StackLock): Promise<StackLock> {
  return currentLock(allRecipes, { versions, sourceDateEpoch: sde, cacheDir: tmp(), toolchain: TC, existing });
}

test('entries: @PREFIX@ for the prefix, the determinism env, the source by origin', async () => {
  const boost = allRecipes.find((r) => r.name === 'boost')!;
  const e = lockEntry(boost, undefined, boost.versions.find((v) => v.default)!.sources[1], 1);
  assert.ok(e.configureArgs.includes('user-config.jam: using mpi : @PREFIX@/bin/mpicxx ;'));
  assert.ok(e.configureArgs.includes('b2 dll-path=@PREFIX@/lib'));
  assert.is(e.source.origin, 'debian');
  assert.is(e.env.SOURCE_DATE_EPOCH, '1');
  assert.is(e.env.HOSTNAME, 'mpistack-build');
  const l = await lockFor();
  assert.equal(l.recipes['node-mpi'].source, { origin: 'local', filename: 'node-mpi' });
  assert.is(l.recipes['node-mpi'].env.MPICC, '@PREFIX@/bin/mpicc');
  assert.equal(Object.keys(l.toolchain).sort(), ['binutils', 'g++', 'gcc', 'gfortran', 'glibc', 'node']);
  assert.is(l.toolchain.binutils, 'ld 2.40');
});

test('differences: version, source, arguments, SOURCE_DATE_EPOCH; the locked source is kept while the table has it', async () => {
  const base = await lockFor();
  base.recipes.openmpi.source = { origin: 'debian', filename: debian.filename, sha256: debian.sha256 };
  assert.equal(lockDifferences(base, await lockFor(315532800, undefined, base)), []);
  const d = lockDifferences(base, await lockFor(7, { openmpi: '4.1.6' }, base));
  assert.ok(d.includes('SOURCE_DATE_EPOCH: locked 315532800, now 7'), d.join('\n'));
  assert.ok(d.includes('openmpi: version locked 4.1.4, now 4.1.6'), d.join('\n'));
  assert.ok(
    d.some((l) => l.startsWith('openmpi: source locked debian openmpi_4.1.4.orig.tar.xz')),
    d.join('\n'),
  );
  const changed = structuredClone(base);
  changed.recipes.openmpi.configureArgs = changed.recipes.openmpi.configureArgs.filter((a) => a !== '--without-cuda');
  assert.equal(lockDifferences(changed, base), ['openmpi: configure arguments differ (now only: --without-cuda)']);
  assert.equal(toolchainDifferences(base.toolchain, { ...base.toolchain, gcc: 'gcc 13' }), ["gcc: locked 'gcc 12', here 'gcc 13'"]);
});

test('pinning: the locked version fetches only the locked source', async () => {
  const l = await lockFor();
  l.recipes.openmpi.source = { origin: 'debian', filename: debian.filename, sha256: debian.sha256 };
  const pinned = pinSources(allRecipes, l).find((r) => r.name === 'openmpi')!;
  assert.equal(pinned.versions.find((v) => v.version === '4.1.4')!.sources, [debian]);
  assert.is(pinned.versions.find((v) => v.version === '4.1.6')!.sources.length, 1, 'other versions untouched');
});

test('applyLock: refuses differing inputs with every difference named; --update-lock and --dry-run go on; no lock: a note', async () => {
  const dir = tmp();
  const path = join(dir, LOCK_FILE);
  const none = await applyLock(allRecipes, { path, cacheDir: dir, toolchain: TC, env: {} });
  assert.match(none.warnings[0], /building unpinned/);
  await writeLock(path, await lockFor());
  const ok = await applyLock(allRecipes, { path, cacheDir: dir, toolchain: { ...TC, gcc: 'gcc 13' }, env: {} });
  assert.equal(ok.differences, []);
  assert.is(ok.sourceDateEpoch, 315532800);
  assert.match(ok.warnings.join('\n'), /toolchain differs .*gcc: locked 'gcc 12', here 'gcc 13'/);
  const err = await applyLock(allRecipes, { path, cacheDir: dir, toolchain: TC, env: { SOURCE_DATE_EPOCH: '99' }, versions: { openmpi: '4.1.6' } }).then(
    () => null,
    (e: Error) => e,
  );
  assert.instance(err, UsageError);
  assert.match(err!.message, /SOURCE_DATE_EPOCH: locked 315532800, now 99/);
  assert.match(err!.message, /openmpi: version locked 4\.1\.4, now 4\.1\.6/);
  assert.match(err!.message, /--update-lock/);
  const upd = await applyLock(allRecipes, { path, cacheDir: dir, toolchain: TC, env: { SOURCE_DATE_EPOCH: '99' }, update: true });
  assert.is(upd.sourceDateEpoch, 99);
  assert.is(upd.differences.length, 1);
});

test('a malformed lock is a clear error naming the file and the fix', async () => {
  const dir = tmp();
  writeFileSync(join(dir, 'bad.json'), '{ nope');
  const e1 = await readLock(join(dir, 'bad.json')).then(
    () => null,
    (e: Error) => e,
  );
  assert.match(e1!.message, /bad\.json is not valid JSON .*mpistack lock/);
  writeFileSync(join(dir, 'old.json'), '{"format": 0}');
  const e2 = await readLock(join(dir, 'old.json')).then(
    () => null,
    (e: Error) => e,
  );
  assert.match(e2!.message, /not a format 1 stack lock/);
});

test('mpistack build refuses a differing input before building; mpistack lock writes, --check compares', () => {
  const dir = tmp();
  const lock = join(dir, LOCK_FILE);
  const run = (...a: string[]) => spawnSync(process.execPath, [cli, ...a], { encoding: 'utf8', env: { ...process.env, CI: 'true', SOURCE_DATE_EPOCH: '' } });
  let r = run('lock', `--lock=${lock}`, `--cache=${join(dir, 'c')}`);
  assert.is(r.status, 0, r.stderr);
  assert.ok(existsSync(lock));
  r = run('lock', '--check', `--lock=${lock}`);
  assert.is(r.status, 0, r.stdout + r.stderr);
  r = run('lock', '--check', `--lock=${lock}`, '--openmpi', '4.1.6');
  assert.is(r.status, 1);
  assert.match(r.stdout, /openmpi: version locked 4\.1\.4, now 4\.1\.6/);
  r = run('build', `--prefix=${join(dir, 'p')}`, `--cache=${join(dir, 'c')}`, `--lock=${lock}`, '--openmpi', '4.1.6', '--offline');
  assert.is(r.status, 2, 'refused as a UsageError: exit 2 (issue 16)');
  assert.match(r.stderr, /inputs differ from .*stack\.lock\.json:\n {2}openmpi: version locked 4\.1\.4, now 4\.1\.6/);
  assert.not.ok(existsSync(join(dir, 'p')), 'nothing was built');
  r = run('build', '--dry-run', `--prefix=${join(dir, 'p')}`, `--lock=${lock}`, '--openmpi', '1.6.5');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /lock: differs from .*openmpi: version locked 4\.1\.4, now 1\.6\.5/);
});

for (const stack of STACKS) {
  test(`the committed ${stack.lockFile} matches the recipes of the ${stack.name} stack, mpi4py included (run \`mpistack lock --stack ${stack.name} --with mpi4py\` after changing one)`, async () => {
    const path = join(packageRoot(), stack.lockFile);
    const committed = await readLock(path);
    assert.ok(committed, `${path} is missing`);
    const mpi4py = stackRecipes({ stack, with: ['mpi4py'], python: probePython(DEFAULT_PYTHON) }).filter((r) => r.name === 'mpi4py');
    const now = await currentLock([...stackBase(stack), ...mpi4py], {
      versions: stack.versions,
      sourceDateEpoch: committed.sourceDateEpoch,
      cacheDir: tmp(),
      toolchain: TC,
      existing: committed,
      optional: ['mpi4py'],
    });
    assert.equal(lockDifferences(committed, now), []);
    assert.ok(committed.recipes.mpi4py?.optional, 'mpi4py is locked as an optional piece');
    for (const [k, v] of Object.entries(stack.versions)) assert.is(committed.recipes[k].version, v);
    // the seed's stack has no fabrics (its Open MPI predates UCX and libfabric); the default's has both
    assert.is('ucx' in committed.recipes && 'libfabric' in committed.recipes, stack.fabrics);
    assert.not.match(readFileSync(path, 'utf8'), /"\/(tmp|root|home|work)\//, 'no absolute path of a machine in the lock');
  });
}

test('stacks: --stack NAME, or the stack an --openmpi version names, else the default; a clash is a usage error', () => {
  assert.is(selectStack(STACKS, allRecipes, { versions: {} }).stack.name, 'default');
  const seed = selectStack(STACKS, allRecipes, { versions: { openmpi: '1.6.5' } });
  assert.is(seed.stack.name, 'seed');
  assert.equal(seed.versions, { openmpi: '1.6.5' });
  assert.is(selectStack(STACKS, allRecipes, { versions: { openmpi: '4.1.4' } }).stack.name, 'default', "the default's own version");
  const other = selectStack(STACKS, allRecipes, { versions: { openmpi: '4.1.6' } });
  assert.is(other.stack.name, 'default', 'no stack has it: the default lock names the difference');
  assert.equal(other.versions, { openmpi: '4.1.6' });
  assert.equal(selectStack(STACKS, allRecipes, { stack: 'seed', versions: {} }).versions, { openmpi: '1.6.5' });
  assert.throws(
    () => selectStack(STACKS, allRecipes, { stack: 'seed', versions: { openmpi: '4.1.4' } }),
    (e: Error) => e instanceof UsageError && /--stack seed builds openmpi 1\.6\.5, not openmpi 4\.1\.4/.test(e.message),
  );
  assert.throws(
    () => selectStack(STACKS, allRecipes, { stack: 'nope', versions: {} }),
    (e: Error) => e instanceof UsageError && /known: default, seed/.test(e.message),
  );
});

test('optional entries: absent from a run is no difference, present is compared, and a rewrite without them keeps them', async () => {
  const mpi4py = stackRecipes({ with: ['mpi4py'], python: probePython(DEFAULT_PYTHON) }).filter((r) => r.name === 'mpi4py');
  const withIt = await currentLock([...allRecipes, ...mpi4py], { sourceDateEpoch: 1, cacheDir: tmp(), toolchain: TC, optional: ['mpi4py'] });
  assert.ok(withIt.recipes.mpi4py.optional);
  const without = await currentLock(allRecipes, { sourceDateEpoch: 1, cacheDir: tmp(), toolchain: TC, existing: withIt });
  assert.equal(without.recipes.mpi4py, withIt.recipes.mpi4py, 'kept from the existing lock');
  const plain = await currentLock(allRecipes, { sourceDateEpoch: 1, cacheDir: tmp(), toolchain: TC });
  assert.equal(lockDifferences(withIt, plain), [], 'a run without mpi4py');
  assert.equal(lockDifferences(plain, withIt), ['mpi4py: not in the lock'], 'a lock without mpi4py, a run with it');
  const changed = structuredClone(withIt);
  changed.recipes.mpi4py.env.MPISTACK_PYTHON = '/opt/python/bin/python3';
  assert.equal(lockDifferences(changed, withIt), ['mpi4py: environment MPISTACK_PYTHON locked /opt/python/bin/python3, now /usr/bin/python3']);
});

test.run();
