// The fabrics as data (issue 18): UCX and libfabric recipes, Open MPI's
// fabric arguments by version, and which stack builds what. Pure: no build.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { knownRecipes, STACKS, stackBase, stackRecipes } from '../../recipes/index.js';
import { packageRoot, pickAll, RecipeError } from '../../recipes/kit/index.js';
import * as libfabric from '../../recipes/libfabric.js';
import { configureArgs as ompiArgs, fabricsTable } from '../../recipes/openmpi.js';
import * as ucx from '../../recipes/ucx.js';
import { parseBuildArgs } from '../../scripts/commands/build.js';
import { selectRecipes } from '../../scripts/engine/plan.js';

test('every source of UCX and libfabric has a sha256; the default versions have a source served here (Debian orig, mirror tag archive) after the upstream release', () => {
  for (const v of [...ucx.versions, ...libfabric.versions]) for (const s of v.sources) assert.match(s.sha256, /^[0-9a-f]{64}$/, `${v.version} ${s.filename}`);
  const u = ucx.versions.find((v) => v.default)!;
  assert.equal(
    u.sources.map((s) => s.kind),
    ['url', 'debian'],
  );
  const f = libfabric.versions.find((v) => v.default)!;
  assert.equal(
    f.sources.map((s) => s.filename),
    ['libfabric-1.17.0.tar.bz2', 'libfabric-1.17.0.tar.gz'],
    'upstream release first, the tag archive second',
  );
});

test('UCX: thread-safe (--enable-mt), verbs and rdmacm modules built, accelerators off explicitly; the self-location patch exists for the default version', () => {
  const a = ucx.configureArgs('1.13.1');
  for (const x of ['--enable-mt', '--with-verbs', '--with-rdmacm', '--without-cuda', '--without-rocm', '--enable-numa', '--without-fuse3', '--disable-static'])
    assert.ok(a.includes(x), x);
  assert.not.ok(ucx.configureArgs('1.16.0').includes('--enable-numa'), '1.15+ has no --enable-numa');
  const p = pickAll(ucx.patchesTable, '1.13.1');
  assert.is(p.length, 1);
  assert.ok(existsSync(join(packageRoot(), p[0])));
  assert.match(readFileSync(join(packageRoot(), p[0]), 'utf8'), /^\+\+\+ b\/src\/ucs\/sys\/module\.c$/m);
});

test('libfabric: tcp/shm/udp/rxm/rxd/sockets built in, verbs as a loadable provider, vendor providers off; the provider-path patch for 1.17', () => {
  const a = libfabric.configureArgs('1.17.0');
  for (const x of [
    '--enable-tcp=yes',
    '--enable-shm=yes',
    '--enable-rxm=yes',
    '--enable-verbs=dl',
    '--enable-efa=no',
    '--enable-psm2=no',
    '--enable-opx=no',
    '--with-cuda=no',
  ])
    assert.ok(a.includes(x), x);
  assert.is(pickAll(libfabric.patchesTable, '1.17.0').length, 1);
  assert.is(pickAll(libfabric.patchesTable, '1.21.0').length, 0, 'a patch is written against one release series');
});

test("Open MPI with fabrics: --with-ucx/--with-ofi name the prefix, Slurm's PMI-2 on 2.0-4.x; without: both off; 1.6.5 with fabrics is refused naming the fix", () => {
  const w = ompiArgs('4.1.4', '/opt/s', true);
  assert.ok(w.includes('--with-ucx=/opt/s') && w.includes('--with-ofi=/opt/s') && w.includes('--with-pmi'), w.join(' '));
  assert.not.ok(w.some((x) => x === '--without-ucx' || x === '--without-ofi'));
  const wo = ompiArgs('4.1.4', '/opt/s', false);
  assert.ok(wo.includes('--without-ucx') && wo.includes('--without-ofi'));
  assert.not.ok(ompiArgs('5.0.10', '/opt/s', true).includes('--with-pmi'), '5.0 has no PMI-1/2');
  assert.equal(pickAll(fabricsTable, '1.6.5'), []);
  assert.throws(
    () => ompiArgs('1.6.5', '/opt/s', true),
    (e: Error) => e instanceof RecipeError && /--stack seed/.test(e.message),
  );
  assert.not.ok(
    ompiArgs('1.6.5').some((x) => /ucx|ofi/.test(x)),
    '1.6.5 (before 1.10) knows neither option',
  );
});

test('stacks: the default builds UCX and libfabric before Open MPI; the seed has neither; --without fabrics drops them and builds Open MPI without', () => {
  const [def, seed] = STACKS;
  const names = (rs: readonly { name: string }[]) => rs.map((r) => r.name);
  assert.equal(names(selectRecipes(stackBase(def))).slice(0, 3), ['ucx', 'libfabric', 'openmpi']);
  assert.equal(stackBase(def).find((r) => r.name === 'openmpi')!.dependencies, ['ucx', 'libfabric']);
  assert.not.ok(names(stackBase(seed)).some((n) => n === 'ucx' || n === 'libfabric'));
  assert.equal(stackBase(seed).find((r) => r.name === 'openmpi')!.dependencies, []);
  const plain = stackRecipes({ stack: def, fabrics: false });
  assert.not.ok(names(plain).includes('ucx'));
  assert.ok(
    plain
      .find((r) => r.name === 'openmpi')!
      .configureArgs('4.1.4', '/p')
      .includes('--without-ucx'),
  );
  assert.ok(names(knownRecipes).includes('libfabric'));
  const o = parseBuildArgs(['--prefix=/p', '--without', 'fabrics']);
  assert.equal(names(o.recipes), names(plain));
  assert.equal(names(o.base), names(stackBase(def)), 'the lock still pins the stack');
  assert.throws(() => parseBuildArgs(['--prefix=/p', '--without', 'boost']), /--without boost: unknown piece \(known: fabrics\)/);
  assert.equal(names(parseBuildArgs(['--prefix=/p', '--stack', 'seed']).recipes), names(stackBase(seed)));
});

test.run();
