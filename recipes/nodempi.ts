// The Node MPI binding (native/) built against the stack's own Open MPI and
// installed as <prefix>/lib/mpistack/mpi.node, where the loader looks for it
// (native/index.ts: MPISTACK_PREFIX). Its sanity check runs a 2-rank
// send/recv under the prefix's mpirun and checks that the libmpi the binding
// loaded is the prefix's, never the system's.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot, packageVersion } from '../scripts/engine/local.js';
import { mpirunEnv } from '../scripts/engine/mpienv.js';
import { SanityError } from '../scripts/engine/errors.js';
import { nodeGyp } from './builders/nodegyp.js';
import type { CheckContext, Recipe } from './types.js';

export const BINDING_IN_PREFIX = 'lib/mpistack/mpi.node';

const PINGPONG = `
const { loadBinding, ThreadLevel } = await import(process.env.MPISTACK_NATIVE_INDEX);
const mpi = loadBinding({ path: process.env.MPISTACK_BINDING });
const provided = mpi.initThread(ThreadLevel.MULTIPLE);
const w = mpi.COMM_WORLD;
const payload = Buffer.from('mpistack node-mpi check');
if (w.rank === 0) {
  w.send(payload, 1, 7);
  const back = w.recv(1, 8);
  console.log('rank 0 got ' + back.data.toString() + ' provided=' + provided + ' size=' + w.size + ' libmpi=' + mpi.libraryPath());
} else {
  const m = w.recv(0, 7);
  w.send(Buffer.from(m.data.toString().toUpperCase()), 0, 8);
}
mpi.finalize();
`;

export async function checkNodeMpi(ctx: CheckContext): Promise<void> {
  const binding = join(ctx.root, BINDING_IN_PREFIX);
  const dyn = await ctx.shell.run('readelf', ['-d', binding], { cwd: ctx.workDir, env: ctx.runEnv, capture: true });
  if (!dyn.includes(join(ctx.prefix, 'lib'))) throw new SanityError(ctx.recipe, 'rpath', `${binding} has no RPATH/RUNPATH to ${join(ctx.prefix, 'lib')}:\n${dyn}`);
  const script = join(ctx.workDir, 'pingpong.mjs');
  writeFileSync(script, PINGPONG);
  const out = await ctx.shell.run(join(ctx.prefix, 'bin', 'mpirun'), ['-n', '2', process.execPath, script], {
    cwd: ctx.workDir, env: ctx.runEnv, capture: true, timeoutMs: 120_000,
  });
  const m = /rank 0 got (.*) provided=(\d) size=(\d+) libmpi=(\S+)/.exec(out);
  if (!m) throw new SanityError(ctx.recipe, '2-rank send/recv', `no answer line in:\n${out}`);
  if (m[1] !== 'MPISTACK NODE-MPI CHECK') throw new SanityError(ctx.recipe, '2-rank send/recv', `rank 0 got '${m[1]}'`);
  if (m[2] !== '3') throw new SanityError(ctx.recipe, 'thread level', `MPI_THREAD_MULTIPLE not provided (got ${m[2]})`);
  if (!m[4].startsWith(join(ctx.prefix, 'lib') + '/')) throw new SanityError(ctx.recipe, 'libmpi', `the binding loaded ${m[4]}, not the prefix's libmpi under ${join(ctx.prefix, 'lib')}`);
}

export const nodeMpi: Recipe = {
  name: 'node-mpi',
  description: 'the Node.js MPI binding (native/), built against the stack\'s Open MPI',
  // our own code: its version is the package's
  versions: [{ version: packageVersion(), default: true, sources: [{ kind: 'local', paths: ['native/binding.gyp', 'native/src'], filename: 'node-mpi', sha256: '' }] }],
  dependencies: ['openmpi'],
  builder: nodeGyp('native', 'mpi.node', BINDING_IN_PREFIX),
  configureArgs: () => [],
  // the stack's wrapper, by absolute path: never a system MPI
  buildEnv: (_version, prefix) => ({ MPICC: join(prefix, 'bin', 'mpicc') }),
  // Open MPI is already in the final prefix when this runs; the binding is still staged
  runEnv: (root, base) => mpirunEnv({
    ...base,
    MPISTACK_BINDING: join(root, BINDING_IN_PREFIX),
    MPISTACK_NATIVE_INDEX: join(packageRoot(), 'dist', 'native', 'index.js'),
  }),
  check: checkNodeMpi,
};
