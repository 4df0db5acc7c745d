// `mpistack cache list|clean` over a cache filled by a real fixture build.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildStack } from '../../scripts/engine/engine.js';
import { fixtureRecipe, makeFixture } from '../helpers/fixture.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'cli.js');

test('list shows the verified source and build dir; clean keeps sources only', async () => {
  const root = mkdtempSync(join(tmpdir(), 'mpistack-cachecmd-'));
  const mirror = join(root, 'm');
  mkdirSync(mirror);
  const fx = makeFixture(mirror, '1.0.0', 1);
  const cache = join(root, 'cache');
  await buildStack([fixtureRecipe(fx)], { prefix: join(root, 'p'), jobs: 1, cacheDir: cache, mirrors: [mirror], offline: true, render: 'silent' });
  const list = spawnSync(process.execPath, [cli, 'cache', 'list', '--cache', cache], { encoding: 'utf8' });
  assert.is(list.status, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`source +${fx.filename.replace(/\./g, '\\.')} +sha256 ${fx.sha256}`));
  assert.match(list.stdout, /build dir +\S+fixture-1\.0\.0-/);
  const clean = spawnSync(process.execPath, [cli, 'cache', 'clean', '--cache', cache], { encoding: 'utf8' });
  assert.is(clean.status, 0, clean.stderr);
  assert.not.ok(existsSync(join(cache, 'build')));
  assert.ok(existsSync(join(cache, 'sources', fx.sha256, fx.filename)));
});

test.run();
