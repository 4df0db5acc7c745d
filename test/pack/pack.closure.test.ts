// Closure walk and RPATH computation on gcc-built fixtures: the walk resolves
// DT_NEEDED like ld.so, vendors what lives outside the prefix, and gives each
// object $ORIGIN-relative RPATHs that stay inside the tree.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { computeRpath, expandRpath, walkClosure, VENDOR_DIR } from '../../scripts/pack/closure.js';
import { readElf } from '../../scripts/pack/elf.js';
import { makeFixture } from './fixture.js';

const fx = makeFixture('closure');

test('readElf reads NEEDED, RPATH, RUNPATH and SONAME-less libraries', () => {
  const app = readElf(join(fx.prefix, 'bin/app'))!;
  assert.is(app.bits, 64);
  assert.ok(app.needed.includes('liba.so'));
  assert.ok(app.needed.includes('libc.so.6'));
  assert.is(app.runpath, join(fx.prefix, 'lib'));
  assert.is(app.rpath, undefined);
  assert.ok(app.interp?.includes('ld-linux'));
  const b = readElf(join(fx.prefix, 'lib2/libb.so'))!;
  assert.equal(
    b.needed.filter((n) => n.startsWith('libc3')),
    ['libc3.so'],
  );
  assert.is(b.rpath, fx.ext);
  assert.is(readElf(join(fx.prefix, 'src/a.c')), undefined);
});

test('computeRpath: $ORIGIN-relative, first-use order, no duplicates', () => {
  assert.is(computeRpath('bin', ['lib']), '$ORIGIN/../lib');
  assert.is(computeRpath('lib', ['lib', 'lib']), '$ORIGIN');
  assert.is(computeRpath('lib/openmpi', ['lib', 'lib/mpistack-vendor', 'lib']), '$ORIGIN/..:$ORIGIN/../mpistack-vendor');
  assert.is(computeRpath('lib/mpistack/runtime/x', ['lib']), '$ORIGIN/../../..');
  assert.is(computeRpath('', ['lib']), '$ORIGIN/lib');
  assert.is(computeRpath('bin', []), '');
  assert.equal(expandRpath('$ORIGIN/../lib:${ORIGIN}:/abs', '/t/bin'), ['/t/bin/../lib', '/t/bin', '/abs']);
});

test('walkClosure resolves through absolute RPATHs, vendors the outside library, computes RPATHs', () => {
  // work on a copy: the walk copies vendored libraries into the tree
  const root = join(fx.tmp, 'stage');
  rmSync(root, { recursive: true, force: true });
  cpSync(fx.prefix, root, { recursive: true });
  const r = walkClosure({ root, aliases: [fx.prefix], systemDirs: ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu'] });
  const byPath = new Map(r.objects.map((o) => [o.path, o]));
  assert.equal([...byPath.keys()].sort(), ['bin/app', 'lib/liba.so', 'lib2/libb.so', `${VENDOR_DIR}/libc3.so`].sort());
  const app = byPath.get('bin/app')!;
  assert.is(app.deps.find((d) => d.needed === 'liba.so')?.kind, 'tree');
  assert.is(app.deps.find((d) => d.needed === 'libc.so.6')?.kind, 'base');
  assert.is(app.rpath, '$ORIGIN/../lib');
  assert.is(byPath.get('lib/liba.so')!.rpath, '$ORIGIN/../lib2');
  const b = byPath.get('lib2/libb.so')!;
  const c = b.deps.find((d) => d.needed === 'libc3.so')!;
  assert.is(c.kind, 'vendored');
  assert.is(c.systemPath, join(fx.ext, 'libc3.so'));
  assert.is(b.rpath, '$ORIGIN/../lib/mpistack-vendor');
  assert.ok(existsSync(join(root, VENDOR_DIR, 'libc3.so')), 'vendored copy exists');
  assert.is(byPath.get(`${VENDOR_DIR}/libc3.so`)!.rpath, '');
  assert.equal(
    r.vendored.map((v) => [v.soname, v.neededBy]),
    [['libc3.so', ['lib2/libb.so']]],
  );
  assert.equal(r.missing, []);
});

test('walkClosure reports a library that cannot be found', () => {
  const root = join(fx.tmp, 'stage-missing');
  rmSync(root, { recursive: true, force: true });
  cpSync(fx.prefix, root, { recursive: true });
  rmSync(join(root, 'lib2/libb.so'));
  const r = walkClosure({ root, aliases: [fx.prefix], systemDirs: [] });
  assert.equal(r.missing, [{ needed: 'libb.so', neededBy: 'lib/liba.so' }]);
});

test.after(() => rmSync(fx.tmp, { recursive: true, force: true }));
test.run();
