// e2e: every native and runtime unit test again, on the stack in
// MPISTACK_E2E_PREFIX instead of Debian's Open MPI: the stack's mpirun first
// on PATH, the binding the stack built (MPISTACK_PREFIX: the loader takes
// <prefix>/lib/mpistack/mpi.node). On the seed's Open MPI 1.6.5 this is the
// binding's MPI-2.1 receive path under a real 1.6.5 mpirun.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { e2ePrefix } from '../helpers/cluster.js';
import { builtStack } from '../helpers/stack.js';

const prefix = e2ePrefix('stack.unit-suites');
const runner = join(dirname(fileURLToPath(import.meta.url)), '..', 'run.js');
const { openmpi } = builtStack(prefix);

for (const area of ['native/', 'runtime/']) {
  test(`the ${area} unit tests pass on the stack's Open MPI ${openmpi} and binding`, () => {
    const r = spawnSync(process.execPath, [runner, 'unit', area], {
      encoding: 'utf8',
      timeout: 40 * 60_000,
      env: { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH}`, MPISTACK_PREFIX: prefix, LD_LIBRARY_PATH: '' },
    });
    const summary = /^(\d+) passed, (\d+) failed/m.exec(r.stdout);
    console.log(`[unit suites on ${openmpi}] ${area}: ${summary?.[0] ?? 'no summary'}`);
    assert.is(r.status, 0, `${r.stdout.slice(-6000)}\n${r.stderr.slice(-3000)}`);
    assert.ok(summary && Number(summary[1]) > 10 && summary[2] === '0', r.stdout.slice(-2000));
  });
}

test.run();
