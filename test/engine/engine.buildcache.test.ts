// The build cache through the whole engine with the generated fixture
// package: a second run is cached (no configure), a removed prefix is
// restored without rebuilding, a damaged entry is rebuilt, --fresh rebuilds,
// a change rebuilds the recipe and its dependants and nothing else, and
// `cache list|gc` show and drop entries by whether a prefix uses them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { autotools } from '../../recipes/builders/autotools.js';
import { entryDir } from '../../scripts/engine/buildcache.js';
import { buildStack } from '../../scripts/engine/engine.js';
import { fixtureRecipe, makeFixture, type Fixture } from '../helpers/fixture.js';
import { type Recipe } from '../../recipes/kit/index.js';
import { manifestPath } from '../../scripts/foundation/layout.js';
import { type BuildOptions } from '../../scripts/engine/plan.js';
import { type Manifest } from '../../scripts/foundation/manifest.js';
import { type RecipeResult } from '../../scripts/engine/phases.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'cli.js');

function setup() {
  const root = mkdtempSync(join(tmpdir(), 'mpistack-bcache-'));
  const mirror = join(root, 'mirror');
  mkdirSync(mirror);
  const fx = makeFixture(mirror, '1.0.0', 2);
  const o: BuildOptions = { prefix: join(root, 'opt', 'stack'), jobs: 2, cacheDir: join(root, 'cache'), mirrors: [mirror], offline: true, render: 'silent' };
  return { root, fx, o };
}

const outcomes = (rs: RecipeResult[]) => Object.fromEntries(rs.map((r) => [r.inputs.recipe, r.outcome]));
const configured = (r: RecipeResult) => existsSync(join(r.buildDir, 'logs', 'configure.log'));

/** a second package that depends on the first: same fixture, its own name and install dir */
function dependant(fx: Fixture, greeting = 'yo'): Recipe {
  const base = fixtureRecipe(fx, '1.0.0', { args: [`--enable-greeting=${greeting}`], check: async () => undefined });
  return {
    ...base,
    name: 'fixture2',
    dependencies: ['fixture'],
    builder: { ...autotools, name: 'autotools-into-sub', install: (ctx) => autotools.install({ ...ctx, stageDir: join(ctx.stageDir, ctx.prefix, 'sub') }) },
  };
}

test('second run: cached, nothing configured; removed prefix: restored; damaged entry: rebuilt; --fresh: rebuilt', async () => {
  const { fx, o } = setup();
  const [first] = await buildStack([fixtureRecipe(fx)], o);
  assert.is(first.outcome, 'built');
  assert.ok(first.key && existsSync(join(entryDir(o.cacheDir, first.key), 'entry.json')), 'entry stored');

  const [again] = await buildStack([fixtureRecipe(fx)], o);
  assert.is(again.outcome, 'installed');
  assert.is(again.key, first.key);
  assert.not.ok(configured(again), 'a cached run must not configure');

  rmSync(o.prefix, { recursive: true });
  const [restored] = await buildStack([fixtureRecipe(fx)], o);
  assert.is(restored.outcome, 'restored');
  assert.not.ok(configured(restored));
  assert.is(spawnSync(join(o.prefix, 'bin', 'fixture-hello'), { encoding: 'utf8' }).stdout, 'hi from fixture 1.0.0\n');
  const m = JSON.parse(readFileSync(manifestPath(o.prefix), 'utf8')) as Manifest;
  assert.is(m.recipes.fixture.origin, 'restored');
  assert.is(m.recipes.fixture.key, first.key);
  assert.ok(existsSync(join(o.prefix, 'share/mpistack/logs/fixture/configure.log')), 'the original build logs come with it');

  // a file of the installed tree changed by hand: restored again, not trusted
  writeFileSync(join(o.prefix, 'share/fixture/data.txt'), 'edited\n');
  assert.is(outcomes(await buildStack([fixtureRecipe(fx)], o)).fixture, 'restored');
  assert.is(readFileSync(join(o.prefix, 'share/fixture/data.txt'), 'utf8'), `installed for ${o.prefix}\n`);

  // a damaged cache entry is rebuilt, never restored
  writeFileSync(join(entryDir(o.cacheDir, first.key), 'tree', 'bin', 'fixture-hello'), 'garbage');
  rmSync(o.prefix, { recursive: true });
  const [rebuilt] = await buildStack([fixtureRecipe(fx)], o);
  assert.is(rebuilt.outcome, 'built');
  assert.ok(configured(rebuilt));
  assert.is(spawnSync(join(o.prefix, 'bin', 'fixture-hello'), { encoding: 'utf8' }).stdout, 'hi from fixture 1.0.0\n');

  const [fresh] = await buildStack([fixtureRecipe(fx)], { ...o, fresh: true });
  assert.is(fresh.outcome, 'built');
  assert.ok(configured(fresh));
  // --no-build-cache: built, and the manifest has no key
  const [nocache] = await buildStack([fixtureRecipe(fx)], { ...o, buildCache: false });
  assert.is(nocache.outcome, 'built');
  assert.is(nocache.key, null);
});

test('a change rebuilds that recipe and its dependants, nothing else', async () => {
  const { fx, o } = setup();
  const rs = await buildStack([fixtureRecipe(fx), dependant(fx)], o);
  assert.equal(outcomes(rs), { fixture: 'built', fixture2: 'built' });
  assert.is(spawnSync(join(o.prefix, 'sub', o.prefix, 'bin', 'fixture-hello'), { encoding: 'utf8' }).stdout, 'yo from fixture 1.0.0\n');
  assert.equal(outcomes(await buildStack([fixtureRecipe(fx), dependant(fx)], o)), { fixture: 'installed', fixture2: 'installed' });
  // the dependant's own input changed: only it is rebuilt
  assert.equal(outcomes(await buildStack([fixtureRecipe(fx), dependant(fx, 'hey')], o)), { fixture: 'installed', fixture2: 'built' });
  // the dependency's input changed: both are rebuilt
  const changed = await buildStack([fixtureRecipe(fx, '1.0.0', { args: ['--enable-greeting=hi'], check: async () => undefined }), dependant(fx, 'hey')], o);
  assert.equal(outcomes(changed), { fixture: 'built', fixture2: 'built' });
  // and back: both come from the cache (the first run's entries)
  assert.equal(outcomes(await buildStack([fixtureRecipe(fx), dependant(fx)], o)), { fixture: 'restored', fixture2: 'restored' });
  // --only the dependant takes the dependency's key from the prefix manifest
  assert.equal(outcomes(await buildStack([fixtureRecipe(fx), dependant(fx)], { ...o, only: 'fixture2' })), { fixture2: 'installed' });
});

test('a prefix-independent recipe is restored into another prefix; a prefix-bound one is rebuilt there', async () => {
  const { root, fx, o } = setup();
  const free: Recipe = { ...fixtureRecipe(fx, '1.0.0', { check: async () => undefined }), prefixIndependent: true };
  assert.is((await buildStack([free], o))[0].outcome, 'built');
  assert.is((await buildStack([free], { ...o, prefix: join(root, 'other') }))[0].outcome, 'restored');
  assert.is((await buildStack([fixtureRecipe(fx)], o))[0].outcome, 'built');
  assert.is((await buildStack([fixtureRecipe(fx)], { ...o, prefix: join(root, 'third') }))[0].outcome, 'built');
});

test('cache list names entries and who uses them; gc drops unreferenced and half-written ones', async () => {
  const { root, fx, o } = setup();
  const [a] = await buildStack([fixtureRecipe(fx)], o);
  const other = join(root, 'gone');
  const [b] = await buildStack([fixtureRecipe(fx)], { ...o, prefix: other });
  mkdirSync(join(o.cacheDir, 'builds', '.tmp-deadbeef-1-00000000', 'tree'), { recursive: true });
  const list = spawnSync(process.execPath, [cli, 'cache', 'list', '--cache', o.cacheDir], { encoding: 'utf8' });
  assert.is(list.status, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`build +fixture 1\\.0\\.0 +key ${a.key} +[\\d.]+ \\w+ +\\d+ files +used by ${o.prefix}`));
  assert.match(list.stdout, new RegExp(`key ${b.key} .*used by ${other}`));
  assert.match(list.stdout, /incomplete +\.tmp-deadbeef/);
  rmSync(other, { recursive: true });
  const gc = spawnSync(process.execPath, [cli, 'cache', 'gc', '--cache', o.cacheDir], { encoding: 'utf8' });
  assert.is(gc.status, 0, gc.stderr);
  assert.match(gc.stdout, /removed 2 entries/);
  assert.equal(readdirSync(join(o.cacheDir, 'builds')), [a.key]);
  // clean leaves the entries alone
  assert.is(spawnSync(process.execPath, [cli, 'cache', 'clean', '--cache', o.cacheDir]).status, 0);
  assert.equal(readdirSync(join(o.cacheDir, 'builds')), [a.key]);
  assert.is((await buildStack([fixtureRecipe(fx)], o))[0].outcome, 'installed');
});

test.run();
