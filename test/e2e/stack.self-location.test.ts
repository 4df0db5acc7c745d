// e2e (issue 17): a tree that finds itself. The built stack is packed and
// unpacked at a new path; in a private mount namespace a DECOY install sits at
// the build prefix (its own etc/openmpi-mca-params.conf naming a BTL that does
// not exist, wrapper data naming a compiler that does not exist, help files,
// an MCA component directory, an orted that leaves a marker), and with
// nothing set — no env.sh, no OPAL_PREFIX, no LD_LIBRARY_PATH, programs
// called by full path — every entry point works:
//   ompi_info (--path prefix names the tree), mpicc/mpicxx/mpif90 (their wrapper
//   data are the tree's), mpirun -n 2 and a singleton of a C program, a Boost.MPI
//   program under mpirun, mpi4py under mpirun, the Node binding and runtime
//   (bin/mpistack-run under mpirun), and on a stack with fabrics ucx_info,
//   fi_info and mpirun over pml ucx and over mtl ofi (the decoy also has
//   UCX's etc/ucx/ucx.conf and module directory, libfabric's provider directory).
// Each runs under `strace -f -e trace=%file`: no path under the build prefix
// is ever opened, stat'ed or executed, by any process of the job; the decoy's
// orted never ran. Runs on every stack the e2e suite is given (the default
// 4.1.4 and the seed's 1.6.5).
//
// Needs MPISTACK_E2E_PREFIX: a built stack prefix (CI provides it).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recipeFile } from '../../recipes/kit/index.js';
import { readBuildInfo } from '../../scripts/pack/pack.js';
import { packedStack } from '../helpers/cluster.js';
import { bareTreeEnv, runLimited } from '../helpers/mpi.js';
import { builtStack } from '../helpers/stack.js';

const given = process.env.MPISTACK_E2E_PREFIX;
if (!given || !existsSync(join(given, 'bin', 'mpistack-run'))) {
  console.error(
    `self-location e2e: MPISTACK_E2E_PREFIX must name a built stack prefix (npm run build-stack -- --prefix=DIR); got ${JSON.stringify(given ?? null)}`,
  );
  process.exit(1);
}
const prefix = realpathSync(given);
const buildPrefix = readBuildInfo(prefix).prefix ?? prefix;
const stack = builtStack(prefix);
const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'mpistack-e2e-self-')));
const work = join(tmp, 'work');
mkdirSync(work);

const RING_C = `#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv) {
  int provided, rank, size, sum = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) printf("ring %d sum %d provided %d\\n", size, sum, provided);
  MPI_Finalize();
  return 0;
}
`;
const MPI4PY = (site: string) => `import sys
sys.path.insert(0, ${JSON.stringify(site)})
from mpi4py import MPI
c = MPI.COMM_WORLD
s = c.allreduce(c.Get_rank())
if c.Get_rank() == 0:
    print("mpi4py %d %d %s" % (c.Get_size(), s, MPI.__file__))
`;
const JOB = `
await client.startServices();
const r = await client.pushCommandRequest('n * (n + 1) / 2', { block: true, targetServer: [1], parameters: { n: 100 } });
console.log('RUNTIME ' + r.map((x) => x.ret + ' ' + x.status).join(' '));
`;

/** Every entry point, each a name and a command line run by bash from `work`, and what its output must contain. */
function entryPoints(root: string): { name: string; cmd: string; expect: RegExp }[] {
  const b = (n: string) => `'${root}/bin/${n}'`;
  const site = readdirSync(join(root, 'lib')).find((d) => /^python3\.\d+$/.test(d));
  const py = stack.manifest.recipes.mpi4py?.env.MPISTACK_PYTHON;
  return [
    { name: 'ompi_info-prefix', cmd: `${b('ompi_info')} --path prefix --parsable`, expect: new RegExp(`^path:prefix:${root}$`, 'm') },
    { name: 'ompi_info', cmd: b('ompi_info'), expect: /MPI_THREAD_MULTIPLE: yes/ },
    { name: 'mpicc', cmd: `${b('mpicc')} -o ring ring.c && ${b('mpicc')} -showme`, expect: new RegExp(`-L${root}/lib`) },
    { name: 'mpicxx', cmd: `${b('mpicxx')} -showme`, expect: new RegExp(`-I${root}/include`) },
    { name: 'mpif90', cmd: `${b('mpif90')} -showme`, expect: new RegExp(`-I${root}/(include|lib)`) },
    { name: 'mpirun', cmd: `timeout 300 ${b('mpirun')} -n 2 ./ring`, expect: /^ring 2 sum 1 provided 3$/m },
    { name: 'singleton', cmd: 'timeout 300 ./ring', expect: /^ring 1 sum 0 provided 3$/m },
    {
      name: 'boost-mpi',
      cmd: `${b('mpicxx')} -o stl stl.cpp -I'${root}/include' -L'${root}/lib' -Wl,-rpath,'${root}/lib' -lboost_mpi -lboost_serialization && timeout 300 ${b('mpirun')} -n 2 ./stl`,
      expect: /\S/,
    },
    ...(py && site
      ? [
          {
            name: 'mpi4py',
            cmd: `timeout 300 ${b('mpirun')} -n 2 '${py}' check.py`,
            expect: new RegExp(`^mpi4py 2 1 ${root}/lib/${site}/site-packages/mpi4py/MPI`, 'm'),
          },
        ]
      : []),
    { name: 'runtime', cmd: `timeout 300 ${b('mpirun')} -n 2 ${b('mpistack-run')} job.js`, expect: /^RUNTIME 5050 response received$/m },
    // the fabrics (issue 18): UCX's modules and ucx.conf, libfabric's providers, all from the tree
    ...(stack.recipes.includes('ucx')
      ? [
          { name: 'ucx_info', cmd: `${b('ucx_info')} -d`, expect: /Transport: tcp/ },
          { name: 'fi_info', cmd: `${b('fi_info')} -l`, expect: /^tcp:/m },
          {
            name: 'mpirun-ucx',
            cmd: `timeout 300 ${b('mpirun')} -n 2 --mca pml ucx --mca pml_ucx_tls any --mca pml_ucx_devices any -x UCX_TLS=self,sm ./ring`,
            expect: /^ring 2 sum 1 provided 3$/m,
          },
          {
            name: 'mpirun-ofi',
            cmd: `timeout 300 ${b('mpirun')} -n 2 --mca pml cm --mca mtl ofi --mca mtl_ofi_provider_include tcp ./ring`,
            expect: /^ring 2 sum 1 provided 3$/m,
          },
        ]
      : []),
  ];
}

/** The decoy install at the build prefix: everything Open MPI would read there, each poisoned so that reading it shows. */
function decoyScript(decoy: string, marker: string): string[] {
  const wrappers = ['mpicc', 'mpicxx', 'mpiCC', 'mpic++', 'mpif77', 'mpif90', 'mpifort', 'ortecc', 'opalcc'];
  return [
    `mount -t tmpfs -o size=16m mpistack-decoy '${decoy}' || { echo "@@fail cannot mount the decoy"; exit 90; }`,
    `mkdir -p '${decoy}/etc/ucx' '${decoy}/share/openmpi' '${decoy}/lib/openmpi' '${decoy}/lib/pmix' '${decoy}/lib/ucx' '${decoy}/lib/libfabric' '${decoy}/bin'`,
    // UCX's and libfabric's compiled-in configuration and module directories (read only if the patches failed)
    `printf 'UCX_TLS=decoy_no_such_transport\\n' > '${decoy}/etc/ucx/ucx.conf'`,
    `printf 'btl = decoy_no_such_btl\\nplm = decoy_no_such_plm\\n' > '${decoy}/etc/openmpi-mca-params.conf'`,
    `cp '${decoy}/etc/openmpi-mca-params.conf' '${decoy}/etc/pmix-mca-params.conf'`,
    ...wrappers.map((w) => `printf 'project=decoy\\ncompiler=/decoy/no-such-compiler\\nlibs=-ldecoy\\n' > '${decoy}/share/openmpi/${w}-wrapper-data.txt'`),
    `for f in help-mpi-runtime.txt help-orterun.txt help-opal-runtime.txt; do echo '[decoy]' > '${decoy}/share/openmpi/'$f; done`,
    `printf '#!/bin/sh\\ntouch ${marker}\\nexit 1\\n' > '${decoy}/bin/orted'; chmod +x '${decoy}/bin/orted'`,
    `[ -f '${decoy}/etc/openmpi-mca-params.conf' ] || { echo "@@fail the decoy is not in place"; exit 91; }`,
  ];
}

test(`Open MPI ${stack.openmpi}: every entry point of a moved tree works with nothing set and never touches the build prefix (a decoy there)`, async () => {
  const root = await packedStack(prefix, join(tmp, 'pack'));
  writeFileSync(join(work, 'ring.c'), RING_C);
  copyFileSync(recipeFile('boost', 'stl_exchange.cpp'), join(work, 'stl.cpp'));
  const site = readdirSync(join(root, 'lib')).find((d) => /^python3\.\d+$/.test(d));
  if (site) writeFileSync(join(work, 'check.py'), MPI4PY(join(root, 'lib', site, 'site-packages')));
  writeFileSync(join(work, 'job.js'), JOB);
  const marker = join(work, 'DECOY-ORTED-RAN');
  const points = entryPoints(root);
  const env = bareTreeEnv(['MPISTACK_LOG_MODE=terminal']);
  const script = [
    'set -u',
    ...decoyScript(buildPrefix, marker),
    `cd '${work}'`,
    ...points.map(
      (p) =>
        `echo "@@begin ${p.name}"; env -i ${env.join(' ')} strace -f -qq -e trace=%file -o '${work}/strace.${p.name}' bash -c ${JSON.stringify(p.cmd)} 2>&1; ` +
        `echo "@@rc ${p.name} $?"`,
    ),
    'echo "@@end"',
  ].join('\n');
  writeFileSync(join(tmp, 'run.sh'), script);
  const r = await runLimited('unshare', ['-m', '--propagation', 'private', 'bash', join(tmp, 'run.sh')], { timeoutMs: 20 * 60_000 });
  const out = r.stdout + r.stderr;
  assert.not.ok(r.timedOut, `timed out\n${out}`);
  assert.not.match(out, /@@fail/, out);
  assert.match(out, /@@end/, out);
  const problems: string[] = [];
  for (const p of points) {
    const start = out.indexOf(`@@begin ${p.name}\n`);
    const end = out.indexOf(`@@rc ${p.name} `);
    const section = out.slice(start, end);
    const rc = Number(/^@@rc \S+ (\d+)/m.exec(out.slice(end))?.[1]);
    if (rc !== 0) problems.push(`${p.name}: exit ${rc}\n${section}`);
    else if (!p.expect.test(section)) problems.push(`${p.name}: output does not match ${p.expect}\n${section}`);
    // every file-system call of every process of the job, by path
    const trace = readFileSync(join(work, `strace.${p.name}`), 'utf8');
    const calls = trace.split('\n').filter((l) => l.includes(`"${buildPrefix}/`) || l.includes(`"${buildPrefix}"`));
    if (calls.length) problems.push(`${p.name}: ${calls.length} file calls under the build prefix ${buildPrefix}, e.g.\n  ${calls.slice(0, 8).join('\n  ')}`);
    if (!trace.includes(root)) problems.push(`${p.name}: the trace never names the tree ${root}: strace did not see the job`);
  }
  assert.not.ok(existsSync(marker), "the decoy's orted ran");
  assert.equal(problems, [], problems.join('\n\n'));
  console.log(`[self-location] Open MPI ${stack.openmpi}: ${points.map((p) => p.name).join(', ')} from ${root}, nothing under ${buildPrefix} touched`);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
