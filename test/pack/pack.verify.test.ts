// verify re-checks every file of an installed tree against its manifest:
// a changed byte, a removed file, an added file and a changed link are each named.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { install } from '../../scripts/pack/install.js';
import { pack } from '../../scripts/pack/pack.js';
import { makeFixture } from './fixture.js';
import { verifyPackedTree } from '../../scripts/pack/packmanifest.js';

const fx = makeFixture('verify');

test('a fresh install verifies clean; tampering is reported per file', async () => {
  const r = await pack({ prefix: fx.prefix, out: join(fx.tmp, 'out'), node: false, version: '2.0.0' });
  const { root } = await install({ tarball: r.tarball, dest: join(fx.tmp, 'dest') });
  const clean = await verifyPackedTree(root);
  assert.equal(clean.problems, []);
  assert.ok(clean.checked > 10);
  appendFileSync(join(root, 'lib/liba.so'), 'x');
  unlinkSync(join(root, 'bin/tool.pl'));
  writeFileSync(join(root, 'bin/extra'), 'new\n');
  unlinkSync(join(root, 'lib/pkgconfig/fx.pc'));
  symlinkSync('../../etc/passwd', join(root, 'lib/pkgconfig/fx.pc'));
  const { problems } = await verifyPackedTree(root);
  const by = Object.fromEntries(problems.map((p) => [p.path, p.problem]));
  assert.match(by['lib/liba.so'], /size/);
  assert.is(by['bin/tool.pl'], 'missing');
  assert.match(by['bin/extra'], /not in the manifest/);
  assert.match(by['lib/pkgconfig/fx.pc'], /is a symlink/);
  assert.is(problems.length, 4);
});

test.after(() => rmSync(fx.tmp, { recursive: true, force: true }));
test.run();
