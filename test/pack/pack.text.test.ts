// Text rewriting on a packed fixture: pkg-config uses ${pcfiledir}, wrapper
// data ${prefix}, CMake ${CMAKE_CURRENT_LIST_DIR}, .la files are gone,
// shebangs use /usr/bin/env or the bundled node; pkg-config resolves the moved tree.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pack } from '../../scripts/pack/pack.js';
import { rewriteShebang } from '../../scripts/pack/text.js';
import { makeFixture } from './fixture.js';

const fx = makeFixture('text');

test('text files are made relative to where they are', async () => {
  const r = await pack({ prefix: fx.prefix, out: join(fx.tmp, 'out'), node: process.execPath, keepStaging: true });
  const root = r.staging!;
  const pc = readFileSync(join(root, 'lib/pkgconfig/fx.pc'), 'utf8');
  assert.match(pc, /^prefix=\$\{pcfiledir\}\/\.\.\/\.\.$/m);
  assert.ok(!pc.includes(fx.prefix));
  const flags = execFileSync('pkg-config', ['--libs', 'fx'], {
    env: { PKG_CONFIG_PATH: join(root, 'lib/pkgconfig'), PATH: '/usr/bin:/bin' },
    encoding: 'utf8',
  });
  assert.ok(flags.includes(`-L${join(root, 'lib/pkgconfig/../../lib')}`), flags);
  assert.match(readFileSync(join(root, 'share/openmpi/mpicc-wrapper-data.txt'), 'utf8'), /^includedir=\$\{prefix\}\/include$/m);
  assert.is(readFileSync(join(root, 'lib/cmake/fx/fxConfig.cmake'), 'utf8'), 'set(FX_INCLUDE_DIR "${CMAKE_CURRENT_LIST_DIR}/../../../include")\n');
  assert.not.ok(existsSync(join(root, 'lib/liba.la')));
  assert.is(readFileSync(join(root, 'etc/openmpi-mca-params.conf'), 'utf8'), '# installed in <prefix>\n# btl = self,vader\n');
  assert.is(readFileSync(join(root, 'bin/tool.pl'), 'utf8').split('\n')[0], '#!/usr/bin/env perl');
  assert.match(readFileSync(join(root, 'bin/hello.js'), 'utf8').split('\n')[1], /exec "\$here\/node" "\$0" "\$@"$/);
  rmSync(join(fx.tmp, 'out'), { recursive: true });
});

test('shebang rules', () => {
  const ctx = { aliases: ['/opt/p'], others: [], nodePath: 'bin/node' };
  assert.equal(rewriteShebang('bin/x', '#!/usr/bin/python3', ctx)?.lines, ['#!/usr/bin/env python3']);
  assert.is(rewriteShebang('bin/x', '#!/usr/bin/perl -w', ctx), undefined, 'system interpreter with args kept');
  assert.equal(rewriteShebang('bin/x', '#!/opt/p/bin/perl -w', ctx)?.lines, ['#!/usr/bin/env -S perl -w']);
  assert.is(rewriteShebang('bin/x', '#!/bin/sh', ctx), undefined);
  assert.is(rewriteShebang('bin/x', '#!/usr/bin/env python3', ctx), undefined);
  const n = rewriteShebang('lib/mpistack/runtime/launcher.js', '#!/usr/bin/env node', ctx)!.lines;
  assert.is(n[0], '#!/bin/sh');
  assert.match(n[1], /exec "\$here\/\.\.\/\.\.\/\.\.\/bin\/node" "\$0" "\$@"$/);
});

test.after(() => rmSync(fx.tmp, { recursive: true, force: true }));
test.run();
