// The leak check fails the pack for a build path planted in a text file and
// in a binary file, naming the file and byte offset; allow-list entries excuse
// exactly what they describe.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scanLeaks } from '../../scripts/pack/leak.js';
import { pack } from '../../scripts/pack/pack.js';
import { PackError } from '../../scripts/pack/run.js';
import { makeFixture } from './fixture.js';

const fx = makeFixture('leak');

test('a planted prefix and build directory fail the pack with file and offset', async () => {
  const build = join(fx.tmp, 'build-dir');
  mkdirSync(join(fx.prefix, 'share/doc'), { recursive: true });
  const note = `see ${fx.prefix}/share/doc\n`;
  writeFileSync(join(fx.prefix, 'share/doc/notes.txt'), note);
  const blob = Buffer.concat([Buffer.alloc(100, 1), Buffer.from(`${build}/src/x.c\0`), Buffer.alloc(10)]);
  writeFileSync(join(fx.prefix, 'share/doc/data.bin'), blob);
  try {
    await pack({ prefix: fx.prefix, out: join(fx.tmp, 'out'), node: false, buildDirs: [build] });
    assert.unreachable('pack succeeded with planted paths');
  } catch (e) {
    assert.instance(e, PackError);
    const report = (e as PackError).report();
    assert.match(report, /leak check: 2 occurrences/);
    assert.ok(report.includes(`share/doc/notes.txt@4: build prefix`), report);
    assert.ok(report.includes(`share/doc/data.bin@100: build directory`), report);
  } finally {
    rmSync(join(fx.prefix, 'share/doc'), { recursive: true });
  }
});

test('an MCA parameter naming the build prefix fails the pack (4.x cannot expand it)', async () => {
  const conf = join(fx.prefix, 'etc/openmpi-mca-params.conf');
  const before = readFileSync(conf, 'utf8');
  writeFileSync(conf, `${before}mca_base_component_path = ${fx.prefix}/lib/openmpi\n`);
  try {
    await pack({ prefix: fx.prefix, out: join(fx.tmp, 'out-mca'), node: false });
    assert.unreachable('pack succeeded');
  } catch (e) {
    assert.instance(e, PackError);
    assert.match((e as PackError).report(), /etc\/openmpi-mca-params\.conf@\d+: build prefix/);
    assert.is((e as PackError).lines.length, 1, 'the comment line is not reported');
  } finally {
    writeFileSync(conf, before);
  }
});

test('allow-list entries match only their file and string', () => {
  const root = join(fx.tmp, 'scan');
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'lib'), { recursive: true });
  writeFileSync(join(root, 'bin/ompi_info'), Buffer.from(`\0 '--prefix=/p/x' '--with-foo'\0`));
  writeFileSync(join(root, 'lib/libopen-pal.so.40.30.2'), Buffer.from('\0/p/x\0/p/x/lib/other\0'));
  const hits = scanLeaks(root, ['bin/ompi_info', 'lib/libopen-pal.so.40.30.2'], [{ label: 'build prefix', value: '/p/x' }]);
  assert.is(hits.length, 3);
  assert.ok(hits[0].allowedBy, 'configure line in ompi_info is allowed');
  assert.ok(hits[1].allowedBy, "opal's bare prefix string is allowed");
  assert.is(hits[2].allowedBy, undefined, 'any other path in libopen-pal is a leak');
  assert.is(hits[2].offset, 6);
});

test.after(() => rmSync(fx.tmp, { recursive: true, force: true }));
test.run();
