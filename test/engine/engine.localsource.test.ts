// Local sources (the binding and the runtime are built from this checkout):
// the content hash changes when a listed file's bytes or executable bit
// change and only then; fetch copies exactly the listed files into the
// content-addressed cache; the default plan builds the four recipes in
// dependency order.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fetchLocal, hashLocal, listLocal } from '../../scripts/engine/local.js';

function tree(): string {
  const root = mkdtempSync(join(tmpdir(), 'mpistack-local-'));
  mkdirSync(join(root, 'native/src'), { recursive: true });
  mkdirSync(join(root, 'native/build/Release'), { recursive: true });
  writeFileSync(join(root, 'native/binding.gyp'), '{ "targets": [] }\n');
  writeFileSync(join(root, 'native/src/a.cc'), 'int a;\n');
  writeFileSync(join(root, 'native/src/b.mjs'), 'export {};\n');
  writeFileSync(join(root, 'native/build/Release/old.node'), 'stale build output');
  writeFileSync(join(root, 'unlisted.txt'), 'not part of the source\n');
  return root;
}
const paths = ['native/binding.gyp', 'native/src'];

test('lists the files under the paths, sorted, without build output', () => {
  const root = tree();
  assert.equal(listLocal(paths, root), ['native/binding.gyp', 'native/src/a.cc', 'native/src/b.mjs']);
});

test("hash changes with a listed file's bytes or executable bit, not with mtimes or unlisted files", () => {
  const root = tree();
  const h0 = hashLocal(paths, root);
  assert.match(h0, /^[0-9a-f]{64}$/);
  utimesSync(join(root, 'native/src/a.cc'), new Date(0), new Date(0));
  writeFileSync(join(root, 'unlisted.txt'), 'changed\n');
  writeFileSync(join(root, 'native/build/Release/old.node'), 'other stale output');
  assert.is(hashLocal(paths, root), h0, 'mtime, unlisted files and build output do not count');
  writeFileSync(join(root, 'native/src/a.cc'), 'int a = 1;\n');
  const h1 = hashLocal(paths, root);
  assert.is.not(h1, h0, 'content counts');
  chmodSync(join(root, 'native/src/b.mjs'), 0o755);
  const h2 = hashLocal(paths, root);
  assert.is.not(h2, h1, 'the executable bit counts');
  writeFileSync(join(root, 'native/src/c.cc'), '');
  assert.is.not(hashLocal(paths, root), h2, 'a new file counts');
});

test('a missing path is a clear error naming it', () => {
  const root = tree();
  assert.throws(() => hashLocal(['dist/runtime'], root), /dist\/runtime does not exist.*npm run build/);
});

test('fetch copies the listed files into the cache under their hash, and reuses a matching copy', async () => {
  const root = tree();
  const cache = mkdtempSync(join(tmpdir(), 'mpistack-local-cache-'));
  const src = { kind: 'local' as const, paths, filename: 'node-mpi', sha256: hashLocal(paths, root) };
  const dir = await fetchLocal(src, cache, root);
  assert.is(dir, join(cache, 'sources', src.sha256, 'node-mpi'));
  assert.is(readFileSync(join(dir, 'native/src/a.cc'), 'utf8'), 'int a;\n');
  assert.not.ok(existsSync(join(dir, 'native/build')), 'build output is not copied');
  assert.not.ok(existsSync(join(dir, 'unlisted.txt')));
  assert.is(hashLocal(paths, dir), src.sha256);
  // a tampered cached copy is not reused: it is copied again
  writeFileSync(join(dir, 'native/src/a.cc'), 'tampered');
  const again = await fetchLocal(src, cache, root);
  assert.is(readFileSync(join(again, 'native/src/a.cc'), 'utf8'), 'int a;\n');
  // the checkout changing under a stale hash is refused
  writeFileSync(join(root, 'native/src/a.cc'), 'changed after planning');
  let err: Error | undefined;
  try {
    await fetchLocal({ ...src, filename: 'other' }, cache, root);
  } catch (e) {
    err = e as Error;
  }
  assert.ok(err, 'a changed checkout does not match the planned hash');
  assert.match(err.message, /changed while it was copied/);
});

test('the default plan builds ucx, libfabric, openmpi, boost, node-mpi, runtime, toolchain in that order', () => {
  const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'cli.js');
  const prefix = join(mkdtempSync(join(tmpdir(), 'mpistack-plan-')), 'p');
  const r = spawnSync(process.execPath, [cli, 'build', '--dry-run', `--prefix=${prefix}`], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  assert.is(r.status, 0, r.stderr);
  const heads = r.stdout
    .split('\n')
    .filter((l) => /^\S+ \S+ \(builder /.test(l))
    .map((l) => l.split(' ')[0]);
  assert.equal(heads, ['ucx', 'libfabric', 'openmpi', 'boost', 'node-mpi', 'runtime', 'toolchain']);
  assert.match(r.stdout, /openmpi .*after ucx, libfabric/);
  assert.match(r.stdout, /toolchain .*after boost/);
  assert.match(r.stdout, /local checkout: recipes\/files\/toolchain\.cmake {2}content sha256 [0-9a-f]{64}/);
  assert.match(r.stdout, /node-mpi .*after openmpi/);
  assert.match(r.stdout, /runtime .*after node-mpi/);
  assert.match(r.stdout, /local checkout: native\/binding\.gyp, native\/src {2}content sha256 [0-9a-f]{64}/);
  assert.match(r.stdout, new RegExp(`MPICC=${prefix}/bin/mpicc`));
});

test.run();
