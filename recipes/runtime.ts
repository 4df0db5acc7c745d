// The runtime (runtime/, compiled) and its launcher, installed into the
// prefix: lib/mpistack/runtime/*.js and lib/mpistack/native/*.js side by side
// (the runtime loads ../native/index.js), and bin/mpistack-run
// (recipes/files/runtime/mpistack-run), which finds them and the binding
// (MPISTACK_PREFIX) relative to its own location, so the tree keeps working
// when it is packed and moved. Needs `npm run build` (build-stack runs it
// first): the source is the compiled dist/ tree, copied as files; the builder
// never imports runtime/ or native/.
import { chmod, cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { copyRecipeFiles, mpirunEnv, packageVersion, recipeFiles, SanityError, type Builder, type CheckContext, type Recipe } from './kit/index.js';

/** The launcher, as the local source holds it (CommonJS on purpose: bin/ has no package.json saying "type": "module"). */
const LAUNCHER_SOURCE = 'recipes/files/runtime/mpistack-run';

/** The check program (recipes/files/runtime/): both servers of a 3-rank run answer a command. */
const CHECK_PROGRAM = 'check.js';

/** Copies compiled files into place: nothing to configure or compile. */
const runtimeInstaller: Builder = {
  name: 'copy',
  async configure() {
    /* compiled by tsc before build-stack runs */
  },
  async build() {
    /* idem */
  },
  async install(ctx) {
    const lib = join(ctx.stagedPrefix, 'lib', 'mpistack');
    await mkdir(join(ctx.stagedPrefix, 'bin'), { recursive: true });
    await mkdir(lib, { recursive: true });
    await cp(join(ctx.srcDir, 'dist', 'runtime'), join(lib, 'runtime'), { recursive: true });
    await cp(join(ctx.srcDir, 'dist', 'native'), join(lib, 'native'), { recursive: true });
    await writeFile(
      join(lib, 'package.json'),
      `${JSON.stringify({ name: 'mpistack-runtime', version: ctx.version, type: 'module', private: true }, null, 2)}\n`,
    );
    await cp(join(ctx.srcDir, LAUNCHER_SOURCE), join(ctx.stagedPrefix, 'bin', 'mpistack-run'));
    await chmod(join(ctx.stagedPrefix, 'bin', 'mpistack-run'), 0o755);
  },
};

async function checkRuntime(ctx: CheckContext): Promise<void> {
  const [script = ''] = await copyRecipeFiles('runtime', [CHECK_PROGRAM], ctx.workDir);
  const out = await ctx.shell.run(join(ctx.prefix, 'bin', 'mpirun'), ['-n', '3', join(ctx.root, 'bin', 'mpistack-run'), script], {
    // the binding is in the final prefix already (node-mpi), the launcher still staged
    cwd: ctx.workDir,
    env: { ...ctx.runEnv, MPISTACK_PREFIX: ctx.prefix },
    capture: true,
    timeoutMs: 120_000,
  });
  for (const server of [1, 2]) {
    if (!new RegExp(`answer server=${server} ret=42 ok=true status=response received`).test(out)) {
      throw new SanityError(ctx.recipe, '3-rank command round trip', `server ${server} did not answer 42:\n${out}`);
    }
  }
}

export const runtime: Recipe = {
  name: 'runtime',
  description: 'the mpi4casa-style runtime (runtime/) and the mpistack-run launcher',
  versions: [
    {
      version: packageVersion(),
      default: true,
      sources: [{ kind: 'local', paths: ['dist/runtime', 'dist/native', LAUNCHER_SOURCE], filename: 'runtime', sha256: '' }],
    },
  ],
  dependencies: ['node-mpi'],
  builder: runtimeInstaller,
  // plain copies plus a launcher that finds its prefix from its own location
  prefixIndependent: true,
  configureArgs: () => [],
  runEnv: (_root, base) => mpirunEnv({ ...base, MPISTACK_LOG_MODE: 'terminal' }),
  check: checkRuntime,
  files: recipeFiles('runtime', [CHECK_PROGRAM]),
};
