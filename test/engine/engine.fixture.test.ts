// A generated autotools-style package through the whole engine: installed
// files, manifest, per-phase logs; failures (configure, sanity check) leave
// the prefix exactly as it was and carry the log tail.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildStack } from '../../scripts/engine/engine.js';
import { CommandError, PhaseError } from '../../scripts/engine/errors.js';
import { chooseRenderMode } from '../../scripts/engine/render.js';
import { mergeTree } from '../../scripts/engine/stage.js';
import { fixtureRecipe, makeFixture } from '../helpers/fixture.js';
import { manifestPath } from '../../scripts/foundation/layout.js';
import { type BuildOptions } from '../../scripts/engine/plan.js';
import { type Manifest } from '../../scripts/foundation/manifest.js';
import { SanityError } from '../../recipes/kit/index.js';

/** path -> sha256 (or link target / 'dir') of everything under root */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(root)) return out;
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        out[relative(root, p)] = 'dir';
        walk(p);
      } else out[relative(root, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(root);
  return out;
}

function setup() {
  const root = mkdtempSync(join(tmpdir(), 'mpistack-fixture-'));
  const mirror = join(root, 'mirror');
  mkdirSync(mirror);
  const fx = makeFixture(mirror);
  const prefix = join(root, 'opt', 'stack');
  const o: BuildOptions = { prefix, jobs: 2, cacheDir: join(root, 'cache'), mirrors: [mirror], offline: true, render: 'silent' };
  return { root, fx, prefix, o };
}

test('fixture builds into the prefix: files, manifest, logs; existing files kept or replaced', async () => {
  const { fx, prefix, o } = setup();
  mkdirSync(join(prefix, 'bin'), { recursive: true });
  writeFileSync(join(prefix, 'keep.txt'), 'mine\n');
  writeFileSync(join(prefix, 'bin', 'fixture-hello'), 'old\n');
  const [r] = await buildStack([fixtureRecipe(fx)], o);
  assert.is(execFileSync(join(prefix, 'bin', 'fixture-hello'), { encoding: 'utf8' }), 'hi from fixture 1.0.0\n');
  assert.is(readFileSync(join(prefix, 'share/fixture/data.txt'), 'utf8'), `installed for ${prefix}\n`);
  assert.is(readFileSync(join(prefix, 'keep.txt'), 'utf8'), 'mine\n');
  const m = JSON.parse(readFileSync(manifestPath(prefix), 'utf8')) as Manifest;
  const e = m.recipes.fixture;
  assert.is(e.version, '1.0.0');
  assert.is(e.source.sha256, fx.sha256);
  // the origin (the table's upstream archive), not the route (a mirror): the manifest must not depend on it
  assert.is(e.source.from, 'upstream');
  assert.match(readFileSync(join(prefix, 'share/mpistack/logs/fixture/fetch.log'), 'utf8'), `from mirror ${join(dirname(fx.tarball), fx.filename)}`);
  assert.not.ok('installedAt' in e, 'no time stamp in the manifest');
  assert.match(readFileSync(join(prefix, 'share/mpistack/logs/fixture/build-time.txt'), 'utf8'), /^\d{4}-\d\d-\d\dT.* built\n$/);
  assert.equal(e.configureArgs, [`--prefix=${prefix}`, '--enable-greeting=hi']);
  for (const k of ['gcc', 'g++', 'gfortran', 'make', 'ld', 'glibc', 'node']) assert.ok(e.toolchain[k], `toolchain ${k}`);
  for (const p of ['fetch', 'unpack', 'configure', 'build', 'install', 'check']) {
    assert.ok(existsSync(join(prefix, 'share/mpistack/logs/fixture', `${p}.log`)), `${p}.log`);
  }
  assert.match(
    readFileSync(join(prefix, 'share/mpistack/logs/fixture/configure.log'), 'utf8'),
    /\.\/configure --prefix=\S+ --enable-greeting=hi\)\nchecking for cc/,
  );
  assert.equal(readdirSync(dirname(prefix)), [basename(prefix)], 'staging left behind');
  assert.is(r.fetched.sha256, fx.sha256);

  // a second build comes from the cache and keeps the manifest valid
  const [r2] = await buildStack([fixtureRecipe(fx)], { ...o, mirrors: [] });
  assert.is(r2.fetched.from, 'cache');
});

test('configure failure: prefix untouched, error names phase, command, exit code, log and its tail', async () => {
  const { fx, prefix, o } = setup();
  mkdirSync(join(prefix, 'bin'), { recursive: true });
  writeFileSync(join(prefix, 'bin', 'fixture-hello'), 'old\n');
  const before = snapshot(dirname(prefix));
  const err = await buildStack([fixtureRecipe(fx, '1.0.0', { args: ['--fail-with=3'] })], o).then(
    () => null,
    (e: unknown) => e,
  );
  assert.instance(err, PhaseError);
  const pe = err as PhaseError;
  assert.is(pe.phase, 'configure');
  const ce = pe.cause as CommandError;
  assert.instance(ce, CommandError);
  assert.is(ce.recipe, 'fixture');
  assert.is(ce.status, 3);
  assert.match(ce.command, /^\.\/configure --prefix=\S+ --fail-with=3$/);
  assert.ok(existsSync(ce.logPath) && ce.logPath.endsWith('configure.log'));
  assert.ok(
    ce.logTail.some((l) => l.includes('configure: error: no frobnicator found')),
    ce.logTail.join('\n'),
  );
  assert.ok(ce.logTail.length <= 20);
  assert.match(pe.report(), /configure: error: no frobnicator found/);
  assert.equal(snapshot(dirname(prefix)), before);
});

test('configure failure into a prefix that did not exist: it still does not exist', async () => {
  const { fx, prefix, o } = setup();
  const err = await buildStack([fixtureRecipe(fx, '1.0.0', { args: ['--fail-with=1'] })], o).then(
    () => null,
    (e: unknown) => e,
  );
  assert.instance(err, PhaseError);
  assert.not.ok(existsSync(prefix));
});

test('failed sanity check: nothing moved into the prefix, staging removed', async () => {
  const { fx, prefix, o } = setup();
  mkdirSync(prefix, { recursive: true });
  writeFileSync(join(prefix, 'keep.txt'), 'mine\n');
  const before = snapshot(dirname(prefix));
  const recipe = fixtureRecipe(fx, '1.0.0', {
    check: async (ctx) => {
      throw new SanityError(ctx.recipe, 'always', `checked ${ctx.root}`);
    },
  });
  const err = await buildStack([recipe], o).then(
    () => null,
    (e: unknown) => e,
  );
  assert.instance(err, PhaseError);
  assert.is((err as PhaseError).phase, 'check');
  assert.instance((err as PhaseError).cause, SanityError);
  assert.equal(snapshot(dirname(prefix)), before);
});

test('merge rolls back: a conflict halfway restores replaced files and removes placed ones', async () => {
  const root = mkdtempSync(join(tmpdir(), 'mpistack-merge-'));
  const staged = join(root, 'staged');
  const prefix = join(root, 'prefix');
  // a/f replaces a file; a2/ is a directory the prefix lacks (moved in one rename, before the conflict in b/)
  const stage = () => {
    for (const f of ['a/f', 'b/x', 'a2/deep/f']) {
      mkdirSync(dirname(join(staged, f)), { recursive: true });
      writeFileSync(join(staged, f), 'new');
    }
  };
  stage();
  mkdirSync(join(prefix, 'a'), { recursive: true });
  writeFileSync(join(prefix, 'a', 'f'), 'old');
  mkdirSync(join(prefix, 'b', 'x'), { recursive: true }); // a directory where a file should go
  const before = snapshot(prefix);
  const err = await mergeTree(staged, prefix, join(root, 'backup')).then(
    () => null,
    (e: unknown) => e,
  );
  assert.instance(err, Error);
  assert.equal(snapshot(prefix), before);
  // without the conflict: new directories and files in, the replaced file kept aside until commit
  rmSync(join(prefix, 'b', 'x'), { recursive: true });
  stage(); // a rollback drops what it had placed
  const m = await mergeTree(staged, prefix, join(root, 'backup'));
  assert.is(readFileSync(join(prefix, 'a2', 'deep', 'f'), 'utf8'), 'new');
  assert.is(readFileSync(join(prefix, 'b', 'x'), 'utf8'), 'new');
  assert.is(readFileSync(join(root, 'backup', 'a', 'f'), 'utf8'), 'old');
  await m.rollback();
  assert.is(readFileSync(join(prefix, 'a', 'f'), 'utf8'), 'old');
  assert.not.ok(existsSync(join(prefix, 'a2')), 'a directory moved in whole is removed on rollback');
});

test('renderer: silent in tests, plain without a TTY or in CI or verbose, interactive on a TTY', () => {
  assert.is(chooseRenderMode({ silent: true, isTTY: true, env: {} }), 'silent');
  assert.is(chooseRenderMode({ isTTY: false, env: {} }), 'plain');
  assert.is(chooseRenderMode({ isTTY: true, env: { CI: 'true' } }), 'plain');
  assert.is(chooseRenderMode({ isTTY: true, verbose: true, env: {} }), 'plain');
  assert.is(chooseRenderMode({ isTTY: true, env: {} }), 'interactive');
});

test.run();
