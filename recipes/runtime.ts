// The runtime (runtime/, compiled) and its launcher, installed into the
// prefix: lib/mpistack/runtime/*.js and lib/mpistack/native/*.js side by side
// (the runtime loads ../native/index.js), and bin/mpistack-run, which finds
// them and the binding (MPISTACK_PREFIX) relative to its own location, so
// the tree keeps working when it is packed and moved. Needs `npm run build`
// (build-stack runs it first): the source is the compiled dist/ tree.
import { chmod, cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SanityError } from '../scripts/engine/errors.js';
import { packageVersion } from '../scripts/engine/local.js';
import { mpirunEnv } from '../scripts/engine/mpienv.js';
import type { Builder, CheckContext, Recipe } from './types.js';

/** CommonJS on purpose: bin/ has no package.json saying "type": "module". */
export const LAUNCHER = `#!/usr/bin/env node
// mpistack-run: the mpistack runtime launcher (rank 0: client and your script; other ranks: servers)
'use strict';
const { dirname, join } = require('node:path');
const { realpathSync } = require('node:fs');
const { pathToFileURL } = require('node:url');
const prefix = dirname(dirname(realpathSync(__filename)));
if (!process.env.MPISTACK_PREFIX) process.env.MPISTACK_PREFIX = prefix;
import(pathToFileURL(join(prefix, 'lib', 'mpistack', 'runtime', 'launcher.js')).href).catch((e) => {
  process.stderr.write('mpistack-run: cannot start the runtime: ' + (e && e.stack || e) + '\\n');
  process.exit(1);
});
`;

/** Copies compiled files into place: nothing to configure or compile. */
const runtimeInstaller: Builder = {
  name: 'copy',
  async configure() { /* compiled by tsc before build-stack runs */ },
  async build() { /* idem */ },
  async install(ctx) {
    const lib = join(ctx.stagedPrefix, 'lib', 'mpistack');
    await mkdir(join(ctx.stagedPrefix, 'bin'), { recursive: true });
    await mkdir(lib, { recursive: true });
    await cp(join(ctx.srcDir, 'dist', 'runtime'), join(lib, 'runtime'), { recursive: true });
    await cp(join(ctx.srcDir, 'dist', 'native'), join(lib, 'native'), { recursive: true });
    await writeFile(join(lib, 'package.json'), `${JSON.stringify({ name: 'mpistack-runtime', version: ctx.version, type: 'module', private: true }, null, 2)}\n`);
    await writeFile(join(ctx.stagedPrefix, 'bin', 'mpistack-run'), LAUNCHER);
    await chmod(join(ctx.stagedPrefix, 'bin', 'mpistack-run'), 0o755);
  },
};

const CHECK_SCRIPT = `
await client.startServices();
const rs = await client.pushCommandRequest('6 * n', { block: true, targetServer: [1, 2], parameters: { n: 7 } });
for (const r of rs) console.log('answer server=' + r.server + ' ret=' + r.ret + ' ok=' + r.successful + ' status=' + r.status);
`;

export async function checkRuntime(ctx: CheckContext): Promise<void> {
  const script = join(ctx.workDir, 'check.js');
  await writeFile(script, CHECK_SCRIPT);
  const out = await ctx.shell.run(join(ctx.prefix, 'bin', 'mpirun'), ['-n', '3', join(ctx.root, 'bin', 'mpistack-run'), script], {
    // the binding is in the final prefix already (node-mpi), the launcher still staged
    cwd: ctx.workDir, env: { ...ctx.runEnv, MPISTACK_PREFIX: ctx.prefix }, capture: true, timeoutMs: 120_000,
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
  versions: [{ version: packageVersion(), default: true, sources: [{ kind: 'local', paths: ['dist/runtime', 'dist/native'], filename: 'runtime', sha256: '' }] }],
  dependencies: ['node-mpi'],
  builder: runtimeInstaller,
  // plain copies plus a launcher that finds its prefix from its own location
  prefixIndependent: true,
  configureArgs: () => [],
  runEnv: (_root, base) => mpirunEnv({ ...base, MPISTACK_LOG_MODE: 'terminal' }),
  check: checkRuntime,
};
