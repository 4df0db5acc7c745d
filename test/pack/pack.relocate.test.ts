// A packed fixture tree runs from a new path with LD_LIBRARY_PATH unset and
// the original prefix and library directory gone, loading the tree's copies.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { install } from '../../scripts/pack/install.js';
import { pack } from '../../scripts/pack/pack.js';
import { readElf } from '../../scripts/pack/elf.js';
import { makeFixture } from './fixture.js';

const fx = makeFixture('relocate');

test("packed fixture runs elsewhere, loading only the tree's libraries", async () => {
  const r = await pack({ prefix: fx.prefix, out: join(fx.tmp, 'out'), node: process.execPath, version: '9.9.9' });
  // the originals become unavailable: a leftover absolute RPATH would now fail to load
  renameSync(fx.prefix, `${fx.prefix}.gone`);
  renameSync(fx.ext, `${fx.ext}.gone`);
  const dest = join(fx.tmp, 'some', 'other', 'place');
  const { root } = await install({ tarball: r.tarball, dest });
  const env = { PATH: '/usr/bin:/bin' }; // no LD_LIBRARY_PATH
  const out = execFileSync(join(root, 'bin/app'), { env, encoding: 'utf8' });
  assert.match(out, /^answer 123$/m);
  const libs = out
    .split('\n')
    .filter((l) => l.includes('.so'))
    .map((l) => l.trim().split(/\s+/).pop()!);
  assert.ok(libs.length >= 3, `maps lines: ${out}`);
  for (const l of libs) assert.ok(l.startsWith(realpathSync(root) + '/'), `${l} is not inside the tree`);
  assert.ok(
    libs.some((l) => l.endsWith('lib/mpistack-vendor/libc3.so')),
    'vendored libc3.so is the one loaded',
  );
  const ldd = spawnSync('ldd', [join(root, 'bin/app')], { env, encoding: 'utf8' }).stdout;
  assert.match(ldd, new RegExp(`liba\\.so => ${realpathSync(root)}/bin/\\.\\./lib/liba\\.so`));
  assert.not.match(ldd, /not found/);
  assert.is(readElf(join(root, 'bin/app'))!.rpath, '$ORIGIN/../lib');
  assert.is(readElf(join(root, 'bin/app'))!.runpath, undefined);
  // RPATH (not RUNPATH) wins over LD_LIBRARY_PATH: a decoy liba.so there is not loaded
  const decoy = join(fx.tmp, 'decoy');
  mkdirSync(decoy);
  writeFileSync(join(decoy, 'a.c'), 'int a(void) { return 999; }\n');
  execFileSync('gcc', ['-shared', '-fPIC', '-o', join(decoy, 'liba.so'), join(decoy, 'a.c')]);
  assert.match(execFileSync(join(root, 'bin/app'), { env: { ...env, LD_LIBRARY_PATH: decoy }, encoding: 'utf8' }), /^answer 123$/m);
  // a node script runs with the bundled node, found relative to itself
  const js = execFileSync(join(root, 'bin/hello.js'), { env, encoding: 'utf8' });
  assert.is(js.trim(), `node ${realpathSync(join(root, 'bin/node'))}`);
  // moved again: still works (nothing was fixed up at unpack time)
  renameSync(root, join(fx.tmp, 'moved-again'));
  assert.match(execFileSync(join(fx.tmp, 'moved-again/bin/app'), { env, encoding: 'utf8' }), /^answer 123$/m);
  // text files were made relative
  assert.match(readFileSync(join(fx.tmp, 'moved-again/lib/pkgconfig/fx.pc'), 'utf8'), /^prefix=\$\{pcfiledir\}\/\.\.\/\.\.$/m);
});

test.after(() => rmSync(fx.tmp, { recursive: true, force: true }));
test.run();
