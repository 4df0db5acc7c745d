// The MPI-2.1 receive path (Open MPI 1.6.5 has no MPI_Mprobe/MPI_Mrecv): the
// binding built with -DMPISTACK_MATCHED_PROBE=0 against this machine's MPI-3
// library receives with MPI_Iprobe + MPI_Recv under one lock. The native tests
// that receive (sync, async, wildcards, heartbeat, a busy event loop, finalize
// with receives pending) run again on that build, so the fallback is proven
// on every machine, not only where a 1.6.5 stack is built (the e2e suite runs
// everything on the real 1.6.5 too).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdirSync, mkdtempSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeHeadersDir } from '../../recipes/builders/nodegyp.js';
import { runLimited } from '../helpers/mpi.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..', '..');
const work = mkdtempSync(join(tmpdir(), 'mpistack-mpi2-'));
const prefix = join(work, 'prefix');

test('the binding builds without MPI_Mprobe/MPI_Mrecv and imports MPI_Iprobe/MPI_Recv instead', async () => {
  const src = join(work, 'src');
  mkdirSync(src);
  copyFileSync(join(root, 'native', 'binding.gyp'), join(src, 'binding.gyp'));
  cpSync(join(root, 'native', 'src'), join(src, 'src'), { recursive: true });
  const gyp = join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const b = await runLimited(process.execPath, [gyp, 'rebuild', `--nodedir=${nodeHeadersDir()}`], {
    cwd: src,
    env: { ...process.env, CPPFLAGS: '-DMPISTACK_MATCHED_PROBE=0', NODE_PATH: join(root, 'node_modules') },
    timeoutMs: 240_000,
  });
  assert.is(b.code, 0, b.stdout + b.stderr);
  const node = join(src, 'build', 'Release', 'mpi.node');
  const nm = await runLimited('nm', ['-D', '--undefined-only', node]);
  assert.is(nm.code, 0, nm.stderr);
  assert.not.match(nm.stdout, /MPI_(Mprobe|Improbe|Mrecv)\b/, 'no MPI-3 matched probe in the MPI-2.1 build');
  assert.match(nm.stdout, /MPI_Iprobe\b/);
  assert.match(nm.stdout, /MPI_Recv\b/);
  mkdirSync(join(prefix, 'lib', 'mpistack'), { recursive: true });
  copyFileSync(node, join(prefix, 'lib', 'mpistack', 'mpi.node'));
});

// every native test that receives, unchanged, on the MPI-2.1 build
for (const name of ['init', 'matching', 'sendrecv', 'heartbeat', 'responsive', 'finalize-pending', 'wait-policy', 'large-message']) {
  test(`native.${name} passes on the MPI-2.1 receive path`, async () => {
    const file = join(here, `native.${name}.test.js`);
    const r = await runLimited(process.execPath, [file], {
      env: { ...process.env, MPISTACK_PREFIX: prefix, MPISTACK_TEST_RECEIVE_MODE: 'serialised-probe' },
      timeoutMs: 240_000,
    });
    assert.is(r.code, 0, `${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    assert.match(r.stdout, /Passed:\s+[1-9]/);
  });
}

test.run();
