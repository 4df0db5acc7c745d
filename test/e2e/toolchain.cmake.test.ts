// e2e: the prefix's share/mpistack/toolchain.cmake (seed 4.4). A throwaway
// CMake project with find_package(MPI) and find_package(Boost COMPONENTS mpi)
// configures with -DCMAKE_TOOLCHAIN_FILE, builds, runs at 2 ranks and loads
// only the prefix's MPI and Boost libraries; then the same from a packed and
// unpacked tree at another path, with the build prefix hidden (a tmpfs over it
// in a private mount namespace), where the file finds its tree by itself.
//
// Needs MPISTACK_E2E_PREFIX: a stack prefix built with the toolchain recipe.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProbe, probeExpected, TOOLCHAIN_FILE, TREE_LIBS, writeProbeProject } from '../../recipes/toolchain.js';
import { makeShell } from '../../scripts/engine/shell.js';
import { install } from '../../scripts/pack/install.js';
import { pack, readBuildInfo } from '../../scripts/pack/pack.js';
import { mpirunEnv, runLimited } from '../helpers/mpi.js';
import { cleanEnv } from '../../recipes/kit/index.js';

const prefixEnv = process.env.MPISTACK_E2E_PREFIX;
if (!prefixEnv || !existsSync(join(prefixEnv, TOOLCHAIN_FILE))) {
  console.error(
    `toolchain.cmake e2e: MPISTACK_E2E_PREFIX must name a built stack prefix with ${TOOLCHAIN_FILE} (got ${JSON.stringify(prefixEnv ?? null)}).\n` +
      'Build one with npm run build-stack (the toolchain recipe is part of the default stack).',
  );
  process.exit(1);
}
const prefix = realpathSync(prefixEnv);
const buildPrefix = process.env.MPISTACK_E2E_BUILD_PREFIX ?? readBuildInfo(prefix).prefix ?? prefix;
const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'mpistack-e2e-toolchain-')));

test("in the prefix: configure with the toolchain file, build, run at 2 ranks, only the prefix's libraries", async () => {
  const work = join(tmp, 'in-prefix');
  mkdirSync(work, { recursive: true });
  const shell = makeShell('toolchain', 'e2e', join(tmp, 'in-prefix.log'));
  const r = await buildProbe({ toolchainFile: join(prefix, TOOLCHAIN_FILE), root: prefix, workDir: work, shell, env: cleanEnv(process.env) });
  assert.is(r.line, probeExpected(2));
  assert.match(r.configure, new RegExp(`mpistack-boost-dir=${prefix}/lib/cmake/Boost-`));
  assert.ok(
    Object.keys(r.libs).some((k) => k.startsWith('libmpi.so')),
    JSON.stringify(r.libs),
  );
  for (const [soname, path] of Object.entries(r.libs)) assert.ok(path.startsWith(`${prefix}/lib/`), `${soname} => ${path}`);
});

test('from a packed tree unpacked elsewhere, build prefix hidden: the same project builds and runs', async () => {
  const out = await pack({ prefix, buildPrefix, out: join(tmp, 'out'), version: 'e2e' });
  const dest = join(tmp, 'dest');
  const installed = (await install({ tarball: out.tarball, dest })).root;
  const root = join(tmp, 'moved', 'somewhere', 'else', 'mpistack');
  mkdirSync(join(root, '..'), { recursive: true });
  renameSync(installed, root);
  const work = join(tmp, 'moved-work');
  mkdirSync(work, { recursive: true });
  await writeProbeProject(work);
  const hide = [...new Set([buildPrefix, prefix])].filter((h) => existsSync(h));
  const script = join(tmp, 'moved.sh');
  writeFileSync(
    script,
    [
      'set -u',
      ...hide.map((h) => `mount -t tmpfs -o size=1m mpistack-hidden '${h}' || { echo "@@fail cannot hide ${h}"; exit 90; }`),
      'unset LD_LIBRARY_PATH OPAL_PREFIX CMAKE_PREFIX_PATH BOOST_ROOT MPI_HOME',
      `. '${root}/env.sh'`,
      `cmake -S '${work}' -B '${work}/build' -DCMAKE_TOOLCHAIN_FILE='${root}/${TOOLCHAIN_FILE}' -DCMAKE_BUILD_TYPE=Release 2>&1 || echo "@@fail configure"`,
      `cmake --build '${work}/build' 2>&1 || echo "@@fail build"`,
      `echo "@@ldd"; ldd '${work}/build/probe'`,
      `echo "@@run"; timeout 300 mpirun -n 2 '${work}/build/probe' 2>&1; echo "@@rc $?"`,
      'echo "@@end"',
    ].join('\n'),
  );
  const r = await runLimited('unshare', ['-m', '--propagation', 'private', 'bash', script], {
    env: mpirunEnv({ PATH: '/usr/local/bin:/usr/bin:/bin', HOME: process.env.HOME }),
    timeoutMs: 15 * 60_000,
  });
  const text = r.stdout + r.stderr;
  assert.not.ok(r.timedOut, 'timed out');
  assert.not.match(text, /@@fail/, text);
  assert.match(text, /@@end/, text);
  assert.match(text, new RegExp(`mpistack-cxx-compiler=${root}/bin/mpicxx`), text);
  assert.match(text, new RegExp(`mpistack-boost-dir=${root}/lib/cmake/Boost-`), text);
  assert.ok(text.includes(probeExpected(2)), text);
  assert.match(text, /@@rc 0/);
  const ldd = text.slice(text.indexOf('@@ldd'), text.indexOf('@@run')).split('\n');
  const treeLibs = ldd.map((l) => /^\s*(\S+)\s+=>\s+(\S+)/.exec(l)).filter((m): m is RegExpExecArray => !!m && TREE_LIBS.test(m[1]));
  assert.ok(treeLibs.some((m) => m[1].startsWith('libboost_mpi.so')) && treeLibs.some((m) => m[1].startsWith('libmpi.so')), ldd.join('\n'));
  for (const m of treeLibs) assert.ok(m[2].startsWith(`${root}/lib/`), `${m[1]} => ${m[2]}`);
});

test.after(() => {
  rmSync(tmp, { recursive: true, force: true });
});
test.run();
