// Source patches as recipe data (scripts/engine/patches.ts): the version's
// patches enter the resolved inputs with their sha256 (so the cache key and
// the lock), the engine applies them in prepare before the builder, and a
// patch that is missing, changed or does not apply stops the build naming it,
// with the prefix untouched. The Open MPI recipe's own patches apply to the
// trees they are for and name existing files.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { patchesTable, selfLocating, versions as ompiVersions } from '../../recipes/openmpi.js';
import { openmpi } from '../../recipes/openmpi.js';
import { pickAll, type Recipe } from '../../recipes/kit/index.js';
import { cacheKey, keyInputs } from '../../scripts/engine/buildcache.js';
import { buildStack } from '../../scripts/engine/engine.js';
import { lockDifferences, lockEntry } from '../../scripts/engine/lock.js';
import { PatchError, patchInputs } from '../../scripts/engine/patches.js';
import { resolveInputs, type BuildOptions } from '../../scripts/engine/plan.js';
import { manifestPath } from '../../scripts/foundation/layout.js';
import { packageRoot } from '../../scripts/foundation/package.js';
import { fixtureRecipe, makeFixture } from '../helpers/fixture.js';

const tmp = mkdtempSync(join(tmpdir(), 'mpistack-patches-'));
const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

// a patch of the fixture's main.c: the program says it was patched
const GOOD = [
  '--- a/main.c',
  '+++ b/main.c',
  '@@ -3,3 +3,3 @@',
  ' #define GREETING "hello"',
  ' #endif',
  '-int main(void) { printf("%s from fixture 1.0.0\\n", GREETING); return 0; }',
  '+int main(void) { printf("%s (patched) from fixture 1.0.0\\n", GREETING); return 0; }',
  '',
].join('\n');
const BAD = ['--- a/main.c', '+++ b/main.c', '@@ -1,3 +1,3 @@', ' #include <stdio.h>', '-#define NOT_THERE 1', '+#define NOT_THERE 2', ' #endif', ''].join(
  '\n',
);
const good = join(tmp, 'good.patch');
const bad = join(tmp, 'bad.patch');
writeFileSync(good, GOOD);
writeFileSync(bad, BAD);

function setup(name: string) {
  const root = join(tmp, name);
  const mirror = join(root, 'mirror');
  mkdirSync(mirror, { recursive: true });
  const fx = makeFixture(mirror);
  const prefix = join(root, 'opt', 'stack');
  const o: BuildOptions = { prefix, jobs: 2, cacheDir: join(root, 'cache'), mirrors: [mirror], offline: true, render: 'silent' };
  return { fx, prefix, o };
}
const withPatches = (r: Recipe, patches: Recipe['patches']): Recipe => ({ ...r, patches });

test("inputs: the version's patches in table order with their sha256; none for other versions, and no field at all", () => {
  const r = withPatches(fixtureRecipe(makeFixture(join(tmp, 'fx0'))), [
    { range: '>=1.0.0 <2.0.0', value: good, why: 'test' },
    { range: '>=2.0.0', value: bad, why: 'other versions only' },
  ]);
  assert.equal(resolveInputs(r, '/p').patches, [{ file: good, sha256: sha(GOOD) }]);
  assert.equal(patchInputs(r, '2.0.0'), [{ file: bad, sha256: sha(BAD) }]);
  assert.not.ok('patches' in resolveInputs(fixtureRecipe(makeFixture(join(tmp, 'fx1'))), '/p'), 'a recipe without patches: inputs as before');
  // a listed patch that is not there is an error naming it, never a silent skip
  const missing = withPatches(r, [{ range: '*', value: join(tmp, 'nope.patch'), why: 'x' }]);
  assert.throws(
    () => resolveInputs(missing, '/p'),
    (e: unknown) => e instanceof PatchError && /patch .*nope\.patch is listed in the recipe's patches table but missing/.test(e.message),
  );
});

test("cache key and lock: a patch's bytes move the key; the lock names the patch that differs", () => {
  const base = withPatches(fixtureRecipe(makeFixture(join(tmp, 'fx2'))), [{ range: '*', value: good, why: 'x' }]);
  const key = (r: Recipe) => {
    const inp = resolveInputs(r, '/p');
    return cacheKey(keyInputs(r, inp, { filename: 'f', sha256: 'a'.repeat(64) }, { toolchain: {}, dependencies: {}, env: {} }));
  };
  const other = join(tmp, 'other.patch');
  writeFileSync(other, GOOD.replace('"patched"', '"patched again"'));
  const k1 = key(base);
  assert.is(key(base), k1, 'stable');
  assert.is.not(key(withPatches(base, [{ range: '*', value: other, why: 'x' }])), k1, 'other bytes, other key');
  assert.is.not(key(withPatches(base, [])), k1, 'no patch, other key');
  const src = base.versions[0].sources[0];
  const locked = { format: 1, sourceDateEpoch: 1, toolchain: {}, recipes: { fixture: lockEntry(base, undefined, src, 1) } };
  assert.equal(locked.recipes.fixture.patches, [{ file: good, sha256: sha(GOOD) }]);
  const now = { ...locked, recipes: { fixture: lockEntry(withPatches(base, [{ range: '*', value: other, why: 'x' }]), undefined, src, 1) } };
  const diff = lockDifferences(locked, now);
  assert.equal(diff.length, 1, diff.join('\n'));
  assert.match(diff[0], /^fixture: patches locked .*good\.patch sha256 [0-9a-f]{64}, now .*other\.patch sha256/);
});

test('build: the patch is applied in prepare (the program prints the patched text) and logged', async () => {
  const { fx, prefix, o } = setup('apply');
  const check: Recipe['check'] = async (ctx) => {
    const out = await ctx.shell.run(join(ctx.root, 'bin', 'fixture-hello'), [], { cwd: ctx.workDir, env: ctx.runEnv, capture: true });
    if (out !== 'hi (patched) from fixture 1.0.0\n') throw new Error(`unpatched output '${out.trim()}'`);
  };
  const r = withPatches(fixtureRecipe(fx, '1.0.0', { check }), [{ range: '*', value: good, why: 'x' }]);
  const [res] = await buildStack([r], o);
  assert.is(res.outcome, 'built');
  assert.is(execFileSync(join(prefix, 'bin', 'fixture-hello'), { encoding: 'utf8' }), 'hi (patched) from fixture 1.0.0\n');
  const prepareLog = readFileSync(join(prefix, 'share/mpistack/logs/fixture/prepare.log'), 'utf8');
  assert.match(prepareLog, /patch --dry-run -p1 --forward --batch --no-backup-if-mismatch -i \S*good\.patch/);
  assert.match(prepareLog, /patching file main\.c/);
  const m = JSON.parse(readFileSync(manifestPath(prefix), 'utf8')) as { recipes: Record<string, { key?: string }> };
  assert.ok(m.recipes.fixture, 'installed');
});

test('a patch that does not apply: PatchError naming the file and the fix, prefix untouched', async () => {
  const { fx, prefix, o } = setup('bad');
  const r = withPatches(fixtureRecipe(fx), [{ range: '*', value: bad, why: 'x' }]);
  const err = await buildStack([r], o).then(
    () => null,
    (e: unknown) => e,
  );
  const cause = (e: unknown): unknown => (e instanceof PatchError ? e : e && typeof e === 'object' && 'cause' in e ? cause(e.cause) : null);
  const pe = cause(err);
  assert.ok(pe instanceof PatchError, `a PatchError, got ${String(err)}`);
  assert.match(pe.message, /fixture 1\.0\.0: patch \S*bad\.patch does not apply to this source tree; fix the patch or narrow its version range/);
  assert.not.ok(existsSync(join(prefix, 'bin', 'fixture-hello')), 'nothing installed');
});

test("Open MPI's patches: each file exists, is in the table for 4.1 and 1.6 only, and applies with patch --dry-run to a tree of its shape", () => {
  const root = packageRoot();
  for (const p of patchesTable) assert.ok(existsSync(join(root, p.value)), p.value);
  assert.equal(pickAll(patchesTable, '4.1.4').length, 2);
  assert.equal(pickAll(patchesTable, '1.6.5').length, 1);
  assert.equal(pickAll(patchesTable, '5.0.10'), []);
  assert.ok(selfLocating('4.1.4') && selfLocating('1.6.5') && !selfLocating('5.0.10'));
  assert.ok(ompiVersions.some((v) => v.version === '4.1.4'));
  assert.equal(openmpi.patches, patchesTable);
  // the files they touch, with the context lines each hunk names, reconstructed from the patch itself: the hunk
  // applies to its own "before" side (a malformed patch file fails here)
  for (const p of patchesTable) {
    const text = readFileSync(join(root, p.value), 'utf8');
    const tree = join(tmp, 'shape', p.value.replace(/\W/g, '_'));
    for (const m of text.matchAll(/^--- a\/(\S+)\n\+\+\+ b\/\S+\n((?:@@[^\n]*\n(?:[ +\-\\][^\n]*\n?)*)+)/gm)) {
      const before = m[2]
        .split('\n')
        .filter((l) => l.startsWith(' ') || l.startsWith('-'))
        .map((l) => l.slice(1));
      mkdirSync(join(tree, m[1], '..'), { recursive: true });
      writeFileSync(join(tree, m[1]), before.join('\n') + '\n');
    }
    execFileSync('patch', ['--dry-run', '-p1', '--batch', '-F', '3', '-i', join(root, p.value)], { cwd: tree, stdio: 'pipe' });
  }
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
