// The Node MPI binding (native/) built against the stack's own Open MPI and
// installed as <prefix>/lib/mpistack/mpi.node, where the loader looks for it
// (native/index.ts: MPISTACK_PREFIX). Its sanity check runs a 2-rank
// send/recv under the prefix's mpirun (recipes/files/node-mpi/pingpong.mjs)
// and checks that the libmpi the binding loaded is the prefix's, never the
// system's. The check loads the binding through the checkout's compiled
// loader, by path (dist/native/index.js): the builder never imports native/.
import { join } from 'node:path';
import { nodeGyp } from './builders/nodegyp.js';
import { copyRecipeFiles, mpirunEnv, packageRoot, packageVersion, recipeFiles, SanityError, type CheckContext, type Recipe } from './kit/index.js';

const BINDING_IN_PREFIX = 'lib/mpistack/mpi.node';

/** The check program (recipes/files/node-mpi/). */
const CHECK_PROGRAM = 'pingpong.mjs';

async function checkNodeMpi(ctx: CheckContext): Promise<void> {
  const binding = join(ctx.root, BINDING_IN_PREFIX);
  const dyn = await ctx.shell.run('readelf', ['-d', binding], { cwd: ctx.workDir, env: ctx.runEnv, capture: true });
  if (!dyn.includes(join(ctx.prefix, 'lib')))
    throw new SanityError(ctx.recipe, 'rpath', `${binding} has no RPATH/RUNPATH to ${join(ctx.prefix, 'lib')}:\n${dyn}`);
  const [script = ''] = await copyRecipeFiles('node-mpi', [CHECK_PROGRAM], ctx.workDir);
  const out = await ctx.shell.run(join(ctx.prefix, 'bin', 'mpirun'), ['-n', '2', process.execPath, script], {
    cwd: ctx.workDir,
    env: ctx.runEnv,
    capture: true,
    timeoutMs: 120_000,
  });
  const m = /rank 0 got (.*) provided=(\d) size=(\d+) libmpi=(\S+)/.exec(out);
  if (!m) throw new SanityError(ctx.recipe, '2-rank send/recv', `no answer line in:\n${out}`);
  const [, got = '', provided = '', , libmpi = ''] = m;
  if (got !== 'MPISTACK NODE-MPI CHECK') throw new SanityError(ctx.recipe, '2-rank send/recv', `rank 0 got '${got}'`);
  if (provided !== '3') throw new SanityError(ctx.recipe, 'thread level', `MPI_THREAD_MULTIPLE not provided (got ${provided})`);
  if (!libmpi.startsWith(join(ctx.prefix, 'lib') + '/')) {
    throw new SanityError(ctx.recipe, 'libmpi', `the binding loaded ${libmpi}, not the prefix's libmpi under ${join(ctx.prefix, 'lib')}`);
  }
}

export const nodeMpi: Recipe = {
  name: 'node-mpi',
  description: "the Node.js MPI binding (native/), built against the stack's Open MPI",
  // our own code: its version is the package's
  versions: [
    { version: packageVersion(), default: true, sources: [{ kind: 'local', paths: ['native/binding.gyp', 'native/src'], filename: 'node-mpi', sha256: '' }] },
  ],
  dependencies: ['openmpi'],
  builder: nodeGyp('native', 'mpi.node', BINDING_IN_PREFIX),
  configureArgs: () => [],
  // the stack's wrapper, by absolute path: never a system MPI
  buildEnv: (_version, prefix) => ({ MPICC: join(prefix, 'bin', 'mpicc') }),
  // Open MPI is already in the final prefix when this runs; the binding is still staged
  runEnv: (root, base) =>
    mpirunEnv({
      ...base,
      MPISTACK_BINDING: join(root, BINDING_IN_PREFIX),
      MPISTACK_NATIVE_INDEX: join(packageRoot(), 'dist', 'native', 'index.js'),
    }),
  check: checkNodeMpi,
  files: recipeFiles('node-mpi', [CHECK_PROGRAM]),
};
