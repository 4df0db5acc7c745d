// The b2 prepare hook: the engine grammar is generated with real bison only
// when the tree lacks it (a git export), never over a shipped one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { regenerateGrammar } from '../../recipes/builders/b2.js';
import { plan } from '../../recipes/boost.js';
import { makeShell } from '../../scripts/engine/shell.js';

// every command goes through the engine's shell helper; its log shows what ran
const logDir = mkdtempSync(join(tmpdir(), 'mpistack-b2-grammar-log-'));
const logPath = join(logDir, 'prepare.log');
const shell = makeShell('boost', 'prepare', logPath);
const ran = (): string[] =>
  existsSync(logPath)
    ? readFileSync(logPath, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('$ '))
    : [];
const exec = shell;
const env = process.env;

const grammar = `%token NUM
%%
expr: NUM | expr '+' NUM ;
%%
`;

function fakeTree(withGenerated?: string): string {
  const root = mkdtempSync(join(tmpdir(), 'mpistack-b2-grammar-'));
  const engine = join(root, 'tools/build/src/engine');
  mkdirSync(engine, { recursive: true });
  writeFileSync(join(engine, 'jamgram.y'), grammar);
  if (withGenerated !== undefined) writeFileSync(join(engine, 'jamgram.cpp'), withGenerated);
  return root;
}

const trees: string[] = [];
test.after(() => {
  for (const t of [...trees, logDir]) rmSync(t, { recursive: true, force: true });
});
test.before.each(() => {
  rmSync(logPath, { force: true });
});

test('git export (no jamgram.cpp): bison generates jamgram.cpp and jamgram.hpp, once', async () => {
  const root = fakeTree();
  trees.push(root);
  const engine = join(root, 'tools/build/src/engine');
  assert.is(await regenerateGrammar(plan('1.81.0', { prefix: '/p' }), root, exec, env), true);
  assert.equal(ran(), [`$ (cd ${engine} && bison -y -d -o jamgram.cpp jamgram.y)`]);
  assert.ok(existsSync(join(engine, 'jamgram.cpp')));
  assert.match(readFileSync(join(engine, 'jamgram.hpp'), 'utf8'), /NUM/);
  const before = statSync(join(engine, 'jamgram.cpp')).mtimeMs;
  rmSync(logPath, { force: true });
  assert.is(await regenerateGrammar(plan('1.81.0', { prefix: '/p' }), root, exec, env), false);
  assert.equal(ran(), []);
  assert.is(statSync(join(engine, 'jamgram.cpp')).mtimeMs, before);
});

test('release tarball (jamgram.cpp shipped): left exactly as it is', async () => {
  const root = fakeTree('// shipped by the release\n');
  trees.push(root);
  const engine = join(root, 'tools/build/src/engine');
  assert.is(await regenerateGrammar(plan('1.83.0', { prefix: '/p' }), root, exec, env), false);
  assert.equal(ran(), []);
  assert.is(readFileSync(join(engine, 'jamgram.cpp'), 'utf8'), '// shipped by the release\n');
  assert.not.ok(existsSync(join(engine, 'jamgram.hpp')));
});

test('1.41.0 (bjam era) has no grammar hook: nothing runs even in a tree without the generated file', async () => {
  const root = fakeTree();
  trees.push(root);
  assert.is(await regenerateGrammar(plan('1.41.0', { prefix: '/p' }), root, exec, env), false);
  assert.equal(ran(), []);
  assert.not.ok(existsSync(join(root, 'tools/build/src/engine/jamgram.cpp')));
});

test('neither the grammar nor its output: a clear error, bison not run', async () => {
  const root = fakeTree();
  trees.push(root);
  rmSync(join(root, 'tools/build/src/engine/jamgram.y'));
  const err = await regenerateGrammar(plan('1.81.0', { prefix: '/p' }), root, exec, env).then(
    () => null,
    (e: Error) => e,
  );
  assert.instance(err, Error);
  assert.match(err!.message, /jamgram\.y is missing/);
  assert.equal(ran(), []);
});

test.run();
