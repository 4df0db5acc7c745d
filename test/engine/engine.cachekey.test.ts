// The build cache key changes when each input that can change a build's
// output changes, and only then.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { autotools } from '../../recipes/builders/autotools.js';
import { allRecipes } from '../../recipes/index.js';
import { packageRoot } from '../../scripts/foundation/package.js';
import { cacheKey, keyInputs, recipeCodeHash } from '../../scripts/engine/buildcache.js';
import { resolveInputs } from '../../scripts/engine/plan.js';
import { type Recipe } from '../../recipes/kit/index.js';
import { canonicalJson } from '../../scripts/foundation/hash.js';

const SHA = 'a'.repeat(64);
/** same function text, different values: only the values can move the key */
const argsOf = (a: string[]) => () => a;
const envOf = (e: Record<string, string>) => () => e;
function recipe(over: Partial<Recipe> = {}): Recipe {
  return {
    name: 'pkg',
    description: 'test',
    dependencies: ['dep'],
    builder: autotools,
    versions: [
      { version: '1.0.0', default: true, sources: [{ kind: 'url', url: 'http://127.0.0.1:9/p.tgz', filename: 'p.tgz', sha256: SHA }] },
      { version: '1.1.0', sources: [{ kind: 'url', url: 'http://127.0.0.1:9/q.tgz', filename: 'q.tgz', sha256: SHA }] },
    ],
    configureArgs: argsOf(['--enable-x']),
    buildEnv: envOf({ FOO: '1' }),
    check: async () => undefined,
    ...over,
  };
}
const TOOLCHAIN = { gcc: 'gcc 12.2.0', 'g++': 'g++ 12.2.0', node: 'v20.0.0' };

interface Variant {
  recipe?: Recipe;
  prefix?: string;
  version?: string;
  source?: { filename: string; sha256: string };
  env?: NodeJS.ProcessEnv;
  toolchain?: Record<string, string | null>;
  deps?: Record<string, string>;
}
function key(v: Variant = {}): string {
  const r = v.recipe ?? recipe();
  const inputs = resolveInputs(r, v.prefix ?? '/opt/a', v.version);
  return cacheKey(
    keyInputs(r, inputs, v.source ?? { filename: 'p.tgz', sha256: SHA }, {
      toolchain: v.toolchain ?? TOOLCHAIN,
      dependencies: v.deps ?? { dep: 'k1' },
      env: v.env ?? { PATH: '/usr/bin', CFLAGS: '-O2' },
    }),
  );
}

test('the same inputs give the same key, whatever the key order or unrelated state', () => {
  assert.is(key(), key());
  assert.is(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), canonicalJson({ a: [{ c: 3, d: 2 }], b: 1 }));
  // PATH and variables outside the keyed list do not reach the key
  assert.is(key({ env: { PATH: '/other/bin:/usr/bin', HOME: '/x', CFLAGS: '-O2', TERM: 'dumb' } }), key());
});

test('each input changes the key', () => {
  const base = key();
  const changed: Record<string, string> = {
    version: key({ version: '1.1.0' }),
    'source sha256': key({ source: { filename: 'p.tgz', sha256: 'b'.repeat(64) } }),
    'configure arguments': key({ recipe: recipe({ configureArgs: argsOf(['--enable-y']) }) }),
    'recipe environment': key({ recipe: recipe({ buildEnv: envOf({ FOO: '2' }) }) }),
    'caller CFLAGS': key({ env: { PATH: '/usr/bin', CFLAGS: '-O3' } }),
    'caller CC set': key({ env: { PATH: '/usr/bin', CFLAGS: '-O2', CC: 'clang' } }),
    'compiler version': key({ toolchain: { ...TOOLCHAIN, gcc: 'gcc 13.1.0' } }),
    'node version': key({ toolchain: { ...TOOLCHAIN, node: 'v22.0.0' } }),
    'dependency key': key({ deps: { dep: 'k2' } }),
    prefix: key({ prefix: '/opt/b' }),
    'check code': key({
      recipe: recipe({
        check: async () => {
          throw new Error('stricter');
        },
      }),
    }),
    builder: key({ recipe: recipe({ builder: { ...autotools, name: 'other' } }) }),
  };
  const seen = new Set([base]);
  for (const [what, k] of Object.entries(changed)) {
    assert.is.not(k, base, `${what} must change the key`);
    assert.not.ok(seen.has(k), `${what} collides with another variant`);
    seen.add(k);
  }
});

test('a prefix-independent recipe keeps its key across prefixes; its dependencies still count', () => {
  const r = recipe({ prefixIndependent: true });
  assert.is(key({ recipe: r, prefix: '/opt/b' }), key({ recipe: r, prefix: '/opt/a' }));
  assert.is.not(key({ recipe: r, deps: { dep: 'k2' } }), key({ recipe: r }));
});

test('the code fingerprint covers the builder phases and the recipe hooks', () => {
  const a = recipe();
  assert.is(recipeCodeHash(a), recipeCodeHash(recipe()));
  assert.is.not(recipeCodeHash(recipe({ builder: { ...autotools, install: async () => undefined } })), recipeCodeHash(a));
  assert.is.not(recipeCodeHash(recipe({ runEnv: (_r, b) => b })), recipeCodeHash(a));
});

test('a change to a file the recipe declares (a check program) changes the fingerprint, and so the key', () => {
  const root = mkdtempSync(join(tmpdir(), 'mpistack-codehash-'));
  mkdirSync(join(root, 'recipes/files/pkg'), { recursive: true });
  writeFileSync(join(root, 'recipes/files/pkg/check.c'), 'int main(void) { return 0; }\n');
  const r = recipe({ files: ['recipes/files/pkg/check.c'] });
  const before = recipeCodeHash(r, root);
  assert.is.not(before, recipeCodeHash(recipe(), root), 'declaring a file counts');
  assert.is(recipeCodeHash(r, root), before, 'same bytes, same fingerprint');
  writeFileSync(join(root, 'recipes/files/pkg/check.c'), 'int main(void) { return 1; }\n');
  assert.is.not(recipeCodeHash(r, root), before, 'new bytes, new fingerprint');
  rmSync(root, { recursive: true, force: true });
  // the real recipes declare their check programs, and the files are there
  for (const real of allRecipes) for (const f of real.files ?? []) assert.ok(existsSync(join(packageRoot(), f)), `${real.name} declares ${f}`);
  // (UCX and libfabric compile nothing in their checks: they run the installed ucx_info and fi_info)
  assert.ok(
    allRecipes.filter((x) => x.name !== 'ucx' && x.name !== 'libfabric').every((x) => (x.files ?? []).length > 0),
    'every recipe of the stack that compiles a check program has it as a file',
  );
});

test.run();
