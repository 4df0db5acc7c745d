// The real thing: Open MPI 4.1.4 through the engine into a temporary prefix,
// with every sanity check of the recipe (they run on the staged tree before
// the move). Upstream may be unreachable; the Debian source package is the
// fallback. Takes several minutes on 2 cores.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openmpi } from '../../recipes/openmpi.js';
import { buildStack, manifestPath, type Manifest } from '../../scripts/engine/engine.js';
import { mpirun } from '../helpers/mpi.js';

test('Open MPI 4.1.4 builds, passes its sanity checks and lands in the prefix', async () => {
  const root = mkdtempSync(join(tmpdir(), 'mpistack-e2e-'));
  const prefix = join(root, 'prefix');
  const cacheDir = process.env.MPISTACK_E2E_CACHE ?? join(root, 'cache');
  execFileSync('mkdir', ['-p', prefix]);
  writeFileSync(join(prefix, 'already-here.txt'), 'kept\n');
  const started = Date.now();
  const results = await buildStack([openmpi], {
    prefix, jobs: 2, cacheDir, mirrors: [], offline: false, render: 'silent',
    fetch: { timeoutMs: 20_000, attempts: 2, backoffMs: 500 },
  });
  console.log(`built in ${((Date.now() - started) / 1000).toFixed(0)} s from ${results[0].fetched.from}`);
  assert.is(results.length, 1);
  assert.is(results[0].fetched.sha256, openmpi.versions.find((v) => v.version === '4.1.4')!.sources.find((s) => s.filename === results[0].fetched.filename)!.sha256);
  assert.is(readFileSync(join(prefix, 'already-here.txt'), 'utf8'), 'kept\n');
  for (const f of ['bin/mpicc', 'bin/mpicxx', 'bin/mpif77', 'bin/mpif90', 'bin/mpirun', 'bin/mpiexec', 'bin/ompi_info', 'lib/libmpi.so']) {
    assert.ok(existsSync(join(prefix, f)), f);
  }
  const m = JSON.parse(readFileSync(manifestPath(prefix), 'utf8')) as Manifest;
  assert.is(m.recipes.openmpi.version, '4.1.4');
  assert.ok(m.recipes.openmpi.configureArgs.includes('--enable-orterun-prefix-by-default'));
  assert.ok(m.recipes.openmpi.toolchain.gcc);
  for (const p of ['fetch', 'configure', 'build', 'install', 'check']) assert.ok(existsSync(join(prefix, 'share/mpistack/logs/openmpi', `${p}.log`)), p);

  // the installed (moved) tree works at its final place without OPAL_PREFIX
  const info = execFileSync(join(prefix, 'bin/ompi_info'), { encoding: 'utf8', env: { ...process.env, OPAL_PREFIX: '' } });
  assert.match(info, /MPI_THREAD_MULTIPLE: yes/);
  const work = mkdtempSync(join(root, 'w-'));
  writeFileSync(join(work, 'h.c'), '#include <mpi.h>\n#include <stdio.h>\nint main(int c,char**v){int r;MPI_Init(&c,&v);MPI_Comm_rank(MPI_COMM_WORLD,&r);printf("rank %d\\n",r);MPI_Finalize();return 0;}\n');
  execFileSync(join(prefix, 'bin/mpicc'), ['-o', 'h', 'h.c'], { cwd: work });
  const ldd = execFileSync('ldd', [join(work, 'h')], { encoding: 'utf8' });
  assert.match(ldd, new RegExp(`libmpi\\.so\\.\\d+ => ${join(prefix, 'lib')}/`));
  const r = await mpirun(2, ['./h'], { cwd: work, mpirunPath: join(prefix, 'bin/mpirun'), timeoutMs: 120_000 });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.split('\n').filter((l) => l.startsWith('rank ')).length, 2);
  rmSync(root, { recursive: true, force: true }); // kept when a check above failed
});

test.run();
