// The node-gyp builder: builds a Node addon (binding.gyp in the source tree)
// against the stack's MPI wrapper with this package's own node-gyp and
// node-addon-api, offline (Node's headers from the running node's install,
// or npm's configured nodedir), and installs the .node file into the prefix.
import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { packageRoot, RecipeError, type BuildContext, type Builder } from '../kit/index.js';

/** Where Node's headers are: npm's nodedir, else the running node's install prefix (…/include/node/node.h). */
export function nodeHeadersDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromNpm = env.npm_config_nodedir;
  if (fromNpm && existsSync(join(fromNpm, 'include', 'node', 'node.h'))) return fromNpm;
  const own = dirname(dirname(process.execPath));
  if (existsSync(join(own, 'include', 'node', 'node.h'))) return own;
  throw new RecipeError(
    `Node's headers were not found (looked in npm_config_nodedir=${fromNpm ?? '(unset)'} and ${own}/include/node); ` +
      'install the node development headers or set npm_config_nodedir',
  );
}

/**
 * Build and install a node-gyp addon: `dir` holds binding.gyp (relative to the
 * source tree), `target` is the .node file's name under build/Release, `dest`
 * its place under the prefix.
 */
export function nodeGyp(dir: string, target: string, dest: string): Builder {
  const root = packageRoot();
  const gyp = join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const env = (ctx: BuildContext) => ({ ...ctx.env, NODE_PATH: join(root, 'node_modules') });
  const run = (ctx: BuildContext, args: string[]) => ctx.shell.run(process.execPath, [gyp, ...args], { cwd: join(ctx.srcDir, dir), env: env(ctx) });
  return {
    name: 'node-gyp',
    async configure(ctx) {
      await run(ctx, ['configure', `--nodedir=${nodeHeadersDir(ctx.env)}`, ...ctx.configureArgs]);
    },
    async build(ctx) {
      await run(ctx, ['build', `--jobs=${ctx.jobs}`]);
    },
    async install(ctx) {
      const to = join(ctx.stagedPrefix, dest);
      await mkdir(dirname(to), { recursive: true });
      await copyFile(join(ctx.srcDir, dir, 'build', 'Release', target), to);
    },
  };
}
