// Packing never modifies the input prefix, even where files are hardlinked
// (patchelf on a shared inode would otherwise rewrite the input too); symlinks
// with absolute targets into the prefix become relative, links to files
// outside the prefix become copies.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { linkSync, lstatSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pack } from '../../scripts/pack/pack.js';
import { readElf } from '../../scripts/pack/elf.js';
import { makeFixture } from './fixture.js';

const fx = makeFixture('untouched');

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const n of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(join(dir, r));
      if (st.isDirectory()) walk(r);
      else if (st.isSymbolicLink()) out[r] = `link ${readlinkSync(join(dir, r))}`;
      else
        out[r] = `${st.mode.toString(8)} ${st.mtimeMs} ${createHash('sha256')
          .update(readFileSync(join(dir, r)))
          .digest('hex')}`;
    }
  };
  walk('');
  return out;
}

test('input prefix is byte-for-byte unchanged; links are made safe in the tree', async () => {
  linkSync(join(fx.prefix, 'lib/liba.so'), join(fx.prefix, 'lib/liba-hardlink.so'));
  symlinkSync(join(fx.prefix, 'lib/liba.so'), join(fx.prefix, 'lib/liba.so.1'));
  writeFileSync(join(fx.tmp, 'outside.txt'), 'outside\n');
  symlinkSync(join(fx.tmp, 'outside.txt'), join(fx.prefix, 'outside-link'));
  const before = snapshot(fx.prefix);
  const r = await pack({ prefix: fx.prefix, out: join(fx.tmp, 'out'), node: false, keepStaging: true });
  assert.equal(snapshot(fx.prefix), before);
  assert.is(readElf(join(fx.prefix, 'lib/liba-hardlink.so'))!.rpath, join(fx.prefix, 'lib2'), 'the input keeps its RPATH');
  const root = r.staging!;
  assert.is(readElf(join(root, 'lib/liba-hardlink.so'))!.rpath, '$ORIGIN/../lib2');
  assert.is(readlinkSync(join(root, 'lib/liba.so.1')), 'liba.so');
  assert.ok(lstatSync(join(root, 'outside-link')).isFile(), 'link out of the prefix became a copy');
  assert.is(readFileSync(join(root, 'outside-link'), 'utf8'), 'outside\n');
  assert.equal(r.links.map((l) => l.path).sort(), ['lib/liba.so.1', 'outside-link']);
  // --strip rewrites every ELF file with strip(1): still nothing reaches the input
  await pack({ prefix: fx.prefix, out: join(fx.tmp, 'out-strip'), node: false, strip: true });
  assert.equal(snapshot(fx.prefix), before);
});

test.after(() => rmSync(fx.tmp, { recursive: true, force: true }));
test.run();
