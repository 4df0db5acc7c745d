// e2e: the Open MPI the main job built into MPISTACK_E2E_PREFIX (whichever
// stack: 4.1.4 by default, 1.6.5 for the seed's), checked from outside the
// engine at its final place: the manifest against the recipe, the files and
// logs, ompi_info with nothing set, and a program compiled with the tree's
// mpicc that finds the tree's libmpi by itself (run path), under mpirun at 2
// ranks and as a singleton.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { configureArgs, openmpi, requiredFiles } from '../../recipes/openmpi.js';
import { e2ePrefix } from '../helpers/cluster.js';
import { mpirun, runLimited } from '../helpers/mpi.js';
import { manifestPath } from '../../scripts/foundation/layout.js';
import { type Manifest } from '../../scripts/foundation/manifest.js';

const prefix = e2ePrefix('openmpi.prefix');
const m = JSON.parse(readFileSync(manifestPath(prefix), 'utf8')) as Manifest;
const entry = m.recipes.openmpi;
const work = mkdtempSync(join(tmpdir(), 'mpistack-e2e-ompi-'));
// nothing of the caller's MPI setup: the tree must find itself
const bare = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: process.env.HOME ?? '/root' };

test('the manifest names a version of the recipe, its source and every configure argument of that version', () => {
  const v = openmpi.versions.find((x) => x.version === entry.version);
  assert.ok(v, `manifest version ${entry.version} is one of the recipe's`);
  assert.ok(
    v.sources.some((s) => s.sha256 === entry.source.sha256 && s.filename === entry.source.filename),
    `${entry.source.filename} ${entry.source.sha256}`,
  );
  // a stack with fabrics (UCX and libfabric in its manifest) builds Open MPI against them
  const fabrics = 'ucx' in m.recipes && 'libfabric' in m.recipes;
  assert.equal(entry.configureArgs, [`--prefix=${prefix}`, ...configureArgs(entry.version, prefix, fabrics)]);
  assert.ok(entry.toolchain.gcc);
  for (const f of requiredFiles) assert.ok(existsSync(join(prefix, f)), f);
  for (const p of ['fetch', 'configure', 'build', 'install', 'check']) assert.ok(existsSync(join(prefix, 'share/mpistack/logs/openmpi', `${p}.log`)), p);
});

test('ompi_info with nothing set: this version, MPI_THREAD_MULTIPLE, the prefix', () => {
  const info = execFileSync(join(prefix, 'bin/ompi_info'), { encoding: 'utf8', env: bare });
  assert.match(info, new RegExp(`^\\s*Open MPI: ${entry.version.replace(/\./g, '\\.')}$`, 'm'));
  assert.match(info, /MPI_THREAD_MULTIPLE: yes/);
  assert.match(info, new RegExp(`^\\s*Prefix: ${prefix}$`, 'm'));
  // a git export of the tag is built as the release, not as a developer copy
  assert.not.match(info, /Unreleased developer copy/);
});

test("a program built with the tree's mpicc runs on the tree's libmpi without LD_LIBRARY_PATH, under mpirun and as a singleton", async () => {
  writeFileSync(
    join(work, 'h.c'),
    '#include <mpi.h>\n#include <stdio.h>\nint main(int c,char**v){int r,s;MPI_Init(&c,&v);MPI_Comm_rank(MPI_COMM_WORLD,&r);' +
      'MPI_Comm_size(MPI_COMM_WORLD,&s);printf("rank %d of %d\\n",r,s);MPI_Finalize();return 0;}\n',
  );
  execFileSync(join(prefix, 'bin/mpicc'), ['-o', 'h', 'h.c'], { cwd: work, env: bare });
  const ldd = execFileSync('ldd', [join(work, 'h')], { encoding: 'utf8', env: bare });
  assert.match(ldd, new RegExp(`libmpi\\.so\\.\\d+ => ${join(prefix, 'lib')}/`), ldd);
  const r = await mpirun(2, ['./h'], { cwd: work, mpirunPath: join(prefix, 'bin/mpirun'), env: bare, timeoutMs: 120_000 });
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(
    r.stdout
      .split('\n')
      .filter((l) => l.startsWith('rank '))
      .sort(),
    ['rank 0 of 2', 'rank 1 of 2'],
  );
  const single = await runLimited(join(work, 'h'), [], {
    cwd: work,
    env: { ...bare, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' },
    timeoutMs: 120_000,
  });
  assert.is(single.code, 0, single.stdout + single.stderr);
  assert.match(single.stdout, /^rank 0 of 1$/m);
});

test.after(() => rmSync(work, { recursive: true, force: true }));
test.run();
