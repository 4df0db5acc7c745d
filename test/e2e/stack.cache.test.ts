// e2e: the build cache on the real default stack. The README's main job
// (CI's, into MPISTACK_E2E_PREFIX with MPISTACK_E2E_CACHE) stored every
// recipe; the same command again compiles nothing, and with the prefix gone
// it restores every recipe from the cache into a tree whose Open MPI, Boost.MPI
// program and runtime work. The original prefix is put back afterwards.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { builtStack } from '../helpers/stack.js';
import { manifestPath } from '../../scripts/foundation/layout.js';
import { type Manifest } from '../../scripts/foundation/manifest.js';
import { mpirunEnv } from '../../recipes/kit/index.js';

const prefix = process.env.MPISTACK_E2E_PREFIX;
const cache = process.env.MPISTACK_E2E_CACHE;
if (!prefix || !cache || !existsSync(join(prefix, 'bin', 'mpirun'))) {
  console.error('stack.cache e2e needs MPISTACK_E2E_PREFIX (a built default stack) and MPISTACK_E2E_CACHE (the cache it was built with); .ci/run sets both');
  process.exit(1);
}
const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'cli.js');
// the stack the main job built there (the default or the seed's, with its --with pieces), and the arguments that build it
const stack = builtStack(prefix);
const RECIPES = stack.recipes;

const buildDirs = () => (existsSync(join(cache, 'build')) ? readdirSync(join(cache, 'build')) : []);

function build(): string {
  const r = spawnSync(process.execPath, [cli, 'build', `--prefix=${prefix}`, `--cache=${cache}`, ...stack.buildArgs], {
    encoding: 'utf8',
    env: { ...process.env, CI: 'true' },
    timeout: 1_800_000,
  });
  assert.is(r.status, 0, `build failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  return r.stdout;
}

test('the main job again: every recipe cached, already installed, nothing configured', () => {
  const before = readFileSync(manifestPath(prefix), 'utf8');
  const dirsBefore = new Set(buildDirs());
  const out = build();
  for (const r of RECIPES) assert.match(out, new RegExp(`^${r} \\S+ already installed \\(cached, inputs unchanged\\)`, 'm'), `${r} not cached:\n${out}`);
  assert.match(out, /Look up the build cache \(cached: inputs unchanged/);
  const fresh = buildDirs().filter((d) => !dirsBefore.has(d));
  assert.is(fresh.length, RECIPES.length, 'one build dir (logs) per recipe');
  for (const d of fresh) assert.not.ok(existsSync(join(cache, 'build', d, 'logs', 'configure.log')), `${d}: a cached run must not configure`);
  assert.is(readFileSync(manifestPath(prefix), 'utf8'), before, 'the manifest is untouched');
});

test('prefix removed: every recipe restored from the cache; MPI, Boost.MPI and the runtime work from it', () => {
  const aside = join(mkdtempSync(join(dirname(prefix), '.stack-cache-e2e-')), 'prefix');
  renameSync(prefix, aside);
  try {
    const out = build();
    for (const r of RECIPES) assert.match(out, new RegExp(`^${r} \\S+ restored from the build cache into`, 'm'), `${r} not restored:\n${out}`);
    const m = JSON.parse(readFileSync(manifestPath(prefix), 'utf8')) as Manifest;
    const orig = JSON.parse(readFileSync(manifestPath(aside), 'utf8')) as Manifest;
    for (const r of RECIPES) {
      assert.is(m.recipes[r].origin, 'restored');
      assert.is(m.recipes[r].key, orig.recipes[r].key, `${r}: same key as the build that stored it`);
    }
    const env = mpirunEnv({ ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH}` });
    const info = spawnSync(join(prefix, 'bin', 'ompi_info'), [], { encoding: 'utf8', env });
    assert.match(info.stdout, /MPI_THREAD_MULTIPLE: yes/);
    const script = join(dirname(aside), 'probe.js');
    const code =
      "await client.startServices(); const rs = await client.pushCommandRequest('n + 1', { block: true, targetServer: [1], parameters: { n: 41 } }); console.log('ret=' + rs[0].ret);";
    spawnSync('sh', ['-c', `printf '%s\\n' "$1" > "$2"`, 'sh', code, script]);
    const rt = spawnSync(join(prefix, 'bin', 'mpirun'), ['-n', '2', join(prefix, 'bin', 'mpistack-run'), script], { encoding: 'utf8', env, timeout: 120_000 });
    assert.is(rt.status, 0, rt.stderr);
    assert.match(rt.stdout, /ret=42/);
  } finally {
    rmSync(prefix, { recursive: true, force: true });
    renameSync(aside, prefix);
    rmSync(dirname(aside), { recursive: true, force: true });
  }
});

test.run();
