// The loader: explicit path, then <prefix>/lib/mpistack/mpi.node, then the local
// build; when nothing loads it lists every path tried and why. Runs without
// mpirun (loading does not initialize MPI). Uses a copy of the compiled loader
// in a temporary folder so that no local build is next to it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { candidatePaths, type BindingLoadError } from '../../native/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const distNative = resolve(here, '..', '..', 'native');
const built = resolve(here, '..', '..', '..', 'native', 'build', 'Release', 'mpi.node');

function isolatedLoader(): { dir: string; index: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mpistack-loader-'));
  mkdirSync(join(dir, 'lib'), { recursive: true });
  for (const f of readdirSync(distNative).filter((n) => n.endsWith('.js'))) copyFileSync(join(distNative, f), join(dir, 'lib', f));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  return { dir, index: join(dir, 'lib', 'index.js') };
}

/** what probe()'s child prints when the binding loads: its path, libraryPath() and isInitialized() */
interface Loaded {
  ok: true;
  path: string;
  lib: string;
  init: boolean;
}
/** what it prints when loadBinding throws (a BindingLoadError) */
type Failed = { ok: false } & Pick<BindingLoadError, 'name' | 'message' | 'tried'>;

/** Load the binding in a child process with `opts` and `env`; the caller says which outcome it expects (its assertions check it). */
function probe<T extends Loaded | Failed>(index: string, opts: object, env: NodeJS.ProcessEnv = {}): T {
  const code = `import { loadBinding } from ${JSON.stringify(index)};
try { const b = loadBinding(${JSON.stringify(opts)}); console.log(JSON.stringify({ ok: true, path: b.bindingPath, lib: b.libraryPath(), init: b.isInitialized() })); }
catch (e) { console.log(JSON.stringify({ ok: false, name: e.name, message: e.message, tried: e.tried })); }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', env: { ...process.env, MPISTACK_PREFIX: '', ...env } });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}

test('candidate order: explicit path, prefix copy, local build', () => {
  const c = candidatePaths({ path: 'x/my.node', prefix: '/opt/stack' });
  assert.is(c[0], resolve('x/my.node'));
  assert.is(c[1], '/opt/stack/lib/mpistack/mpi.node');
  assert.ok(
    c.slice(2).some((p) => p.endsWith(join('native', 'build', 'Release', 'mpi.node'))),
    c.join('\n'),
  );
});

test('nothing loadable: BindingLoadError lists every path tried with its reason', () => {
  const { dir, index } = isolatedLoader();
  try {
    const bad = join(dir, 'bad.node');
    writeFileSync(bad, 'not an ELF file');
    const r = probe<Failed>(index, { path: bad, prefix: join(dir, 'noprefix') });
    assert.not.ok(r.ok);
    assert.is(r.name, 'BindingLoadError');
    assert.is(r.tried[0].path, bad);
    assert.match(r.tried[0].reason, /invalid ELF header|file too short/);
    assert.is(r.tried[1].path, join(dir, 'noprefix', 'lib', 'mpistack', 'mpi.node'));
    assert.is(r.tried[1].reason, 'no such file');
    assert.ok(r.tried.length >= 3, 'the local build locations too');
    for (const t of r.tried) assert.ok(r.message.includes(t.path), `message names ${t.path}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a prefix copy (<prefix>/lib/mpistack/mpi.node, from MPISTACK_PREFIX) is found and promotes its libmpi', () => {
  const { dir, index } = isolatedLoader();
  try {
    const prefix = join(dir, 'prefix');
    mkdirSync(join(prefix, 'lib', 'mpistack'), { recursive: true });
    copyFileSync(built, join(prefix, 'lib', 'mpistack', 'mpi.node'));
    const r = probe<Loaded>(index, {}, { MPISTACK_PREFIX: prefix });
    assert.ok(r.ok, JSON.stringify(r));
    assert.is(r.path, join(prefix, 'lib', 'mpistack', 'mpi.node'));
    assert.match(r.lib, /libmpi\.so/);
    assert.is(r.init, false, 'loading does not initialize MPI');
    const byOption = probe<Loaded>(index, { prefix });
    assert.is(byOption.path, join(prefix, 'lib', 'mpistack', 'mpi.node'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
