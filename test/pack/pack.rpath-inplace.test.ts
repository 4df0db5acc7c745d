// The in-process RPATH rewrite gives what `patchelf --force-rpath --set-rpath`
// gives: DT_RPATH with the new string, old bytes gone, the program still runs;
// removal drops the entry; a longer string is left to patchelf.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { patchRpathInPlace, readElf } from '../../scripts/pack/elf.js';
import { makeFixture } from './fixture.js';

const fx = makeFixture('rpath');

function dynamic(path: string): string {
  return execFileSync('readelf', ['-d', path], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /RPATH|RUNPATH/.test(l))
    .join('\n');
}

test('RUNPATH -> RPATH with a shorter $ORIGIN string; old path gone; still runs', () => {
  const app = join(fx.prefix, 'bin/app');
  const orig = readFileSync(app);
  const out = patchRpathInPlace(orig, '$ORIGIN/../lib')!;
  assert.ok(out, 'patched in place');
  assert.is(out.length, orig.length);
  const p = join(fx.tmp, 'app-patched');
  writeFileSync(p, out);
  chmodSync(p, 0o755);
  assert.match(dynamic(p), /\(RPATH\)\s+Library rpath: \[\$ORIGIN\/\.\.\/lib\]/);
  assert.not.match(dynamic(p), /RUNPATH/);
  assert.is(out.indexOf(Buffer.from(join(fx.prefix, 'lib'))), -1, 'old RPATH bytes are gone');
  // loading through the new RPATH is proven in pack.relocate; here: the rest of the dynamic table is intact
  assert.equal(readElf(p)!.needed, readElf(app)!.needed);
  assert.is(readElf(p)!.rpath, '$ORIGIN/../lib');
});

test('removal drops the entry and the program still loads its libraries', () => {
  const lib = join(fx.prefix, 'lib/liba.so');
  const out = patchRpathInPlace(readFileSync(lib), '')!;
  assert.ok(out);
  const p = join(fx.tmp, 'liba-norpath.so');
  writeFileSync(p, out);
  assert.is(dynamic(p), '');
  const r = readElf(p)!;
  assert.is(r.rpath, undefined);
  assert.is(r.runpath, undefined);
  assert.ok(r.needed.includes('libb.so'), 'entries after the removed one kept');
  // loads with the dependencies given by LD_LIBRARY_PATH: the dynamic table is intact
  const app = join(fx.prefix, 'bin/app');
  const env = { LD_LIBRARY_PATH: `${fx.tmp}/ld:${join(fx.prefix, 'lib2')}:${fx.ext}` };
  execFileSync('mkdir', ['-p', `${fx.tmp}/ld`]);
  writeFileSync(`${fx.tmp}/ld/liba.so`, out);
  const app2 = join(fx.tmp, 'app-norpath');
  writeFileSync(app2, patchRpathInPlace(readFileSync(app), '')!);
  chmodSync(app2, 0o755);
  assert.match(execFileSync(app2, { env, encoding: 'utf8' }), /^answer 123$/m);
});

test('a longer string is not done in place', () => {
  const app = readFileSync(join(fx.prefix, 'bin/app'));
  assert.is(patchRpathInPlace(app, 'x'.repeat(join(fx.prefix, 'lib').length + 1)), undefined);
  assert.is(patchRpathInPlace(Buffer.from('not an elf file at all, clearly not, no no no no no no no no no no no'), ''), undefined);
});

test.after(() => rmSync(fx.tmp, { recursive: true, force: true }));
test.run();
