// e2e: the whole stack (default or the seed's) as the main job leaves it (MPISTACK_E2E_PREFIX,
// built by `npm run build-stack`, see .ci/run): the binding and the runtime
// are installed and recorded, `<prefix>/bin/mpistack-run` runs a client
// script against 3 servers under the prefix's mpirun, and the same script
// runs from the packed tree unpacked elsewhere with the build prefix hidden,
// where every rank maps the tree's libmpi and binding and nothing else.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pack } from '../../scripts/pack/pack.js';
import { CHECK_PROGRAM as STL_EXCHANGE, stlExchangeExpected } from '../../recipes/boost.js';
import { recipeFile } from '../../recipes/kit/index.js';
import { runLimited } from '../helpers/mpi.js';
import { manifestPath } from '../../scripts/foundation/layout.js';
import { type Manifest } from '../../scripts/foundation/manifest.js';
import { mpirunEnv } from '../../recipes/kit/index.js';

const given = process.env.MPISTACK_E2E_PREFIX;
if (!given || !existsSync(join(given, 'bin', 'mpistack-run'))) {
  console.error(
    `stack.runtime e2e: MPISTACK_E2E_PREFIX must name a prefix built with the whole default stack (npm run build-stack -- --prefix=DIR); got ${JSON.stringify(given ?? null)}`,
  );
  process.exit(1);
}
const prefix = realpathSync(given);
const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'mpistack-e2e-stack-')));

// every rank reports which libmpi and which binding it has mapped
const JOB = `
const { readFileSync } = await import('node:fs');
const mapped = () => [...new Set(readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/)[5]).filter((p) => p && /libmpi\\.so|mpi\\.node/.test(p)))];
await client.startServices();
console.log('MAPS 0 ' + JSON.stringify(mapped()));
const cmd = "[...new Set(require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\\\n').map((l) => l.split(/\\\\s+/)[5]).filter((p) => p && /libmpi\\\\.so|mpi\\\\.node/.test(p)))]";
const maps = await client.pushCommandRequest(cmd, { block: true, targetServer: [1, 2, 3] });
for (const r of maps) console.log('MAPS ' + r.server + ' ' + JSON.stringify(r.ret));
const sums = await client.pushCommandRequest('n * (n + 1) / 2', { block: true, targetServer: [1, 2, 3], parameters: { n: 100 } });
for (const r of sums) console.log('SUM ' + r.server + ' ' + r.ret + ' ' + r.status + ' ' + r.successful);
`;

function checkOutput(out: string, root: string): void {
  for (const s of [1, 2, 3]) assert.match(out, new RegExp(`SUM ${s} 5050 response received true`), out);
  const maps = [...out.matchAll(/^MAPS (\d) (\[.*\])$/gm)].map((m) => ({ rank: Number(m[1]), paths: JSON.parse(m[2]) as string[] }));
  assert.equal(maps.map((m) => m.rank).sort(), [0, 1, 2, 3], out);
  for (const m of maps) {
    assert.ok(
      m.paths.some((p) => p.endsWith('/mpi.node')),
      `rank ${m.rank} maps the binding: ${m.paths.join(' ')}`,
    );
    assert.ok(
      m.paths.some((p) => /libmpi\.so/.test(p)),
      `rank ${m.rank} maps libmpi: ${m.paths.join(' ')}`,
    );
    for (const p of m.paths) assert.ok(p.startsWith(`${root}/`), `rank ${m.rank} maps ${p}, outside ${root}`);
  }
}

test("the manifest records the stack's recipes (toolchain.cmake too; UCX and libfabric on a stack with fabrics; mpi4py when added), the binding and runtime from the local checkout", () => {
  const m = JSON.parse(readFileSync(manifestPath(prefix), 'utf8')) as Manifest;
  const fabrics = m.recipes.openmpi.version !== '1.6.5' ? ['libfabric', 'ucx'] : [];
  assert.equal(
    Object.keys(m.recipes)
      .filter((r) => r !== 'mpi4py')
      .sort(),
    ['boost', ...fabrics, 'node-mpi', 'openmpi', 'runtime', 'toolchain'].sort(),
  );
  for (const r of ['node-mpi', 'runtime']) {
    assert.is(m.recipes[r].source.from, 'local');
    assert.match(m.recipes[r].source.sha256, /^[0-9a-f]{64}$/);
  }
  assert.ok(existsSync(join(prefix, 'lib/mpistack/mpi.node')));
  assert.ok(existsSync(join(prefix, 'lib/mpistack/runtime/launcher.js')));
});

test("mpirun -n 4 <prefix>/bin/mpistack-run: a client script gets answers from 3 servers, all on the prefix's libraries", async () => {
  const job = join(tmp, 'job.js');
  writeFileSync(job, JOB);
  const r = await runLimited(join(prefix, 'bin', 'mpirun'), ['-n', '4', join(prefix, 'bin', 'mpistack-run'), job], {
    cwd: tmp,
    env: mpirunEnv({ ...process.env, MPISTACK_LOG_MODE: 'terminal', MPISTACK_PREFIX: '' }),
    timeoutMs: 180_000,
  });
  assert.not.ok(r.timedOut, 'mpirun timed out');
  assert.is(r.code, 0, r.stdout + r.stderr);
  checkOutput(r.stdout, prefix);
});

test('packed, unpacked at another path with the build prefix hidden: the runtime script and a Boost.MPI program run on the tree only', async () => {
  const out = join(tmp, 'out');
  const packed = await pack({ prefix, out, version: 'e2e' });
  const dest = join(tmp, 'elsewhere', 'nodes', 'share');
  mkdirSync(dest, { recursive: true });
  const x = await runLimited('tar', ['xzf', packed.tarball, '-C', dest]);
  assert.is(x.code, 0, x.stderr);
  const root = join(dest, 'mpistack');
  const job = join(tmp, 'job2.js');
  writeFileSync(job, JOB);
  copyFileSync(recipeFile('boost', STL_EXCHANGE), join(tmp, 'stl.cpp'));
  const script = join(tmp, 'run.sh');
  writeFileSync(
    script,
    [
      'set -u',
      `mount -t tmpfs -o size=1m mpistack-hidden '${prefix}' || { echo "cannot hide the build prefix"; exit 90; }`,
      'unset LD_LIBRARY_PATH OPAL_PREFIX MPISTACK_PREFIX',
      `. '${root}/env.sh'`,
      `cd '${tmp}'`,
      `timeout 300 mpirun -n 4 mpistack-run '${job}' || exit $?`,
      // the seed's Boost.MPI point, from the moved tree: STL containers between ranks
      `mpicxx -o stl stl.cpp -I'${root}/include' -L'${root}/lib' -lboost_mpi -lboost_serialization || exit 91`,
      "echo \"LDD $(ldd ./stl | grep -E 'libboost_mpi|libmpi\\.so' | awk '{print $3}' | tr '\\n' ' ')\"",
      'timeout 300 mpirun -n 2 ./stl || exit 92',
    ].join('\n'),
  );
  const r = await runLimited('unshare', ['-m', '--propagation', 'private', 'bash', script], {
    env: mpirunEnv({ PATH: '/usr/local/bin:/usr/bin:/bin', HOME: process.env.HOME, MPISTACK_LOG_MODE: 'terminal' }),
    timeoutMs: 360_000,
  });
  assert.not.ok(r.timedOut, 'timed out');
  assert.is(r.code, 0, r.stdout + r.stderr);
  checkOutput(r.stdout, root);
  assert.match(r.stdout, new RegExp(stlExchangeExpected(2)), r.stdout);
  const ldd = /^LDD (.*)$/m.exec(r.stdout)?.[1].trim().split(' ') ?? [];
  assert.is(ldd.length, 2, `ldd of the Boost.MPI program: ${ldd.join(' ')}`);
  for (const lib of ldd) assert.ok(lib.startsWith(`${root}/lib/`), `the Boost.MPI program loads ${lib}, outside the tree`);
});

test.run();
