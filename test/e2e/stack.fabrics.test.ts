// e2e (issue 18): the fabrics, for real, with the software transports this
// machine has (no fabric hardware here): UCX over shared memory and over TCP,
// libfabric's tcp and sockets providers, and Open MPI's default choice. Each run
// is `mpistack-run --report-transport`, which runs a probe job under the
// tree's mpirun and reads Open MPI's and UCX's own selection logs back, so a
// case passes only when the job both worked and really used the transport
// asked for (and MPI_THREAD_MULTIPLE was provided).
//   - from the prefix, and from the packed tree with the build prefix hidden
//     (an empty tmpfs over it in a private mount namespace), at 2 and 4 ranks;
//   - a node without the verbs libraries at all (libibverbs, librdmacm, the
//     rdma-core providers, and Slurm's libpmi2, removed from the library
//     directory by an overlay whiteout in a mount namespace): the same tarball
//     still runs every selection, and no job prints a component-load error
//     (ompi_info, which opens every component, names the pmix s2 component
//     it cannot open, and still succeeds);
//   - the report's warning: a node with an RDMA device (a device directory
//     under /sys/class/infiniband, mounted in a namespace: there is no HCA here)
//     whose ranks talk over TCP is named.
// On a stack without fabrics (the seed's 1.6.5) the same report shows ob1 and
// the cases that need UCX or libfabric are not part of that stack: the test
// asserts they are absent instead.
//
// Needs MPISTACK_E2E_PREFIX: a built stack prefix (CI provides it).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBuildInfo } from '../../scripts/pack/pack.js';
import type { RankTransport } from '../../runtime/transport-report.js';
import { e2ePrefix, packedStack } from '../helpers/cluster.js';
import { bareTreeEnv, runLimited } from '../helpers/mpi.js';
import { builtStack } from '../helpers/stack.js';

const prefix = realpathSync(e2ePrefix('stack.fabrics'));
const buildPrefix = readBuildInfo(prefix).prefix ?? prefix;
const stack = builtStack(prefix);
// Open MPI 1.6's bml logs no 'Using <btl> btl for send to ...' line: its report names the PML only
const btlLogged = !stack.openmpi.startsWith('1.');
const fabrics = stack.recipes.includes('ucx') && stack.recipes.includes('libfabric');
const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'mpistack-e2e-fabrics-')));
let packed = '';

interface Case {
  name: string;
  /** mpirun arguments */
  args: string[];
  check(r: RankTransport, all: RankTransport[]): string | undefined;
}

const SM_TLS = /\b(posix|sysv|cma|xpmem|knem)\//;
// Open MPI 4.1's pml ucx takes itself out unless a transport in pml_ucx_tls (verbs/mlx5 by default) and a device in
// pml_ucx_devices (mlx*) exist: on a node without an HCA, asking for ucx explicitly means saying 'any' to both
const UCX = ['--mca', 'pml', 'ucx', '--mca', 'pml_ucx_tls', 'any', '--mca', 'pml_ucx_devices', 'any'];
// its ofi MTL excludes the software providers by default (shm,sockets,tcp,udp,rstream,usnic): include the one asked for
const OFI = (p: string) => ['--mca', 'pml', 'cm', '--mca', 'mtl', 'ofi', '--mca', 'mtl_ofi_provider_include', p];
const CASES: Case[] = [
  {
    name: 'ucx sm',
    args: [...UCX, '-x', 'UCX_TLS=self,sm'],
    check: (r, all) =>
      r.pml !== 'ucx'
        ? `pml ${r.pml}`
        : r.ucx.some((c) => /tcp\//.test(c))
          ? `a tcp lane with UCX_TLS=self,sm: ${r.ucx.join(' | ')}`
          : all.length > 1 && !r.ucx.some((c) => SM_TLS.test(c))
            ? `no shared-memory lane: ${r.ucx.join(' | ')}`
            : undefined,
  },
  {
    name: 'ucx tcp',
    args: [...UCX, '-x', 'UCX_TLS=self,tcp'],
    check: (r, all) =>
      r.pml !== 'ucx'
        ? `pml ${r.pml}`
        : all.length > 1 && !r.ucx.some((c) => /tcp\//.test(c))
          ? `no tcp lane: ${r.ucx.join(' | ')}`
          : r.ucx.some((c) => SM_TLS.test(c))
            ? `a shared-memory lane with UCX_TLS=self,tcp: ${r.ucx.join(' | ')}`
            : undefined,
  },
  {
    name: 'ofi tcp',
    args: OFI('tcp'),
    check: (r) => (r.pml !== 'cm' ? `pml ${r.pml}` : !/^tcp\b/.test(r.ofi?.provider ?? '') ? `ofi provider ${r.ofi?.provider}` : undefined),
  },
  {
    // libfabric's shm provider is not offered: Open MPI 4.1's MTL asks for FI_REMOTE_COMM, which shm (node-local) lacks
    name: 'ofi sockets',
    args: OFI('sockets'),
    check: (r) => (r.pml !== 'cm' ? `pml ${r.pml}` : r.ofi?.provider !== 'sockets' ? `ofi provider ${r.ofi?.provider}` : undefined),
  },
  {
    // no RDMA device here: pml ucx declines (its default devices are mlx*), ob1 takes shared memory between ranks
    name: 'default',
    args: [],
    check: (r, all) =>
      r.pml !== 'ob1'
        ? `pml ${r.pml} (expected ob1 on a node without RDMA devices)`
        : r.btls.some((b) => b.btl === 'tcp')
          ? `tcp between ranks of one node: ${JSON.stringify(r.btls)}`
          : btlLogged && all.length > 1 && !r.btls.some((b) => b.btl === 'vader' || b.btl === 'sm')
            ? `no shared-memory btl: ${JSON.stringify(r.btls)}`
            : undefined,
  },
];

const ENV = bareTreeEnv();

/** Shell lines that set up a mount namespace: `hide` the build prefix, remove the verbs libraries, fake an RDMA device. */
function nsSetup(o: { hide?: boolean; noVerbs?: boolean; rdmaDevice?: string }): string[] {
  const lines = ['set -eu'];
  if (o.hide) lines.push(`mount -t tmpfs -o size=1m mpistack-hidden '${buildPrefix}'`);
  if (o.noVerbs) {
    const lib = '/usr/lib/x86_64-linux-gnu';
    const ovl = join(tmp, `ovl-${process.pid}-${Math.random().toString(36).slice(2)}`);
    lines.push(
      `mkdir -p '${ovl}/up' '${ovl}/work'`,
      `mount -t overlay mpistack-noverbs -o lowerdir=${lib},upperdir='${ovl}/up',workdir='${ovl}/work' ${lib}`,
      // rdma-core, and Slurm's libpmi2 (a node outside Slurm: a workstation, a login node of another site)
      `rm -rf ${lib}/libibverbs ${lib}/libibverbs.so* ${lib}/librdmacm.so* ${lib}/libmlx4.so* ${lib}/libmlx5.so* ${lib}/libefa.so* ${lib}/libpmi2.so*`,
      // the proof the libraries are gone for every process of the namespace
      `if [ -e ${lib}/libibverbs.so.1 ]; then echo '@@fail libibverbs still there'; exit 90; fi`,
    );
  }
  if (o.rdmaDevice) {
    // /sys/class has no infiniband/ here and sysfs takes no new directories: a tmpfs over /sys/class holding every
    // original class (bind-mounted back) plus infiniband/<device>, which is what an HCA's driver makes the kernel show
    const orig = join(tmp, `sysclass-${process.pid}`);
    lines.push(
      `mkdir -p '${orig}'`,
      `mount --bind /sys/class '${orig}'`,
      'mount -t tmpfs -o size=1m mpistack-sysclass /sys/class',
      `for d in '${orig}'/*; do n=$(basename "$d"); mkdir "/sys/class/$n"; mount --bind "$d" "/sys/class/$n"; done`,
      `mkdir -p /sys/class/infiniband/${o.rdmaDevice}`,
    );
  }
  return lines;
}

/** `mpistack-run --report-transport --json` of `root` with nothing of the stack set, in a namespace set up as asked. */
async function report(
  root: string,
  ranks: number,
  args: string[],
  ns: Parameters<typeof nsSetup>[0] = {},
): Promise<{ ranks: RankTransport[]; warnings: string[]; raw: string }> {
  const cmd = `env -i ${ENV.join(' ')} '${root}/bin/mpistack-run' --report-transport -n ${ranks} --json -- ${args.map((a) => `'${a}'`).join(' ')}`;
  const script = join(tmp, `run-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(script, [...nsSetup(ns), cmd].join('\n'));
  const r = await runLimited('unshare', ['-m', '--propagation', 'private', 'bash', script], { timeoutMs: 180_000 });
  const raw = `${r.stdout}\n${r.stderr}`;
  assert.not.ok(r.timedOut, `timed out: ${cmd}\n${raw}`);
  assert.not.match(raw, /@@fail/, raw);
  assert.is(r.code, 0, `${cmd}\n${raw}`);
  const json = JSON.parse(r.stdout) as { ranks: RankTransport[]; warnings: string[] };
  return { ...json, raw };
}

async function runCases(root: string, label: string, ns: Parameters<typeof nsSetup>[0] = {}, rankCounts = [2, 4]): Promise<void> {
  const problems: string[] = [];
  for (const n of rankCounts) {
    for (const c of fabrics ? CASES : CASES.filter((x) => x.name === 'default')) {
      const r = await report(root, n, c.args, ns);
      if (r.ranks.length !== n) problems.push(`${c.name} at ${n}: ${r.ranks.length} ranks reported\n${r.raw}`);
      for (const x of r.ranks) {
        const bad = c.check(x, r.ranks);
        if (bad) problems.push(`${label}, ${c.name} at ${n}, rank ${x.rank}: ${bad}`);
        if (x.thread !== 3) problems.push(`${label}, ${c.name} at ${n}, rank ${x.rank}: thread level ${x.thread}, not MPI_THREAD_MULTIPLE`);
      }
      // a node without a driver library must not print a component that failed to load
      if (/unable to open|cannot open shared object/i.test(r.raw)) problems.push(`${label}, ${c.name} at ${n}: a load error\n${r.raw}`);
      console.log(
        `[fabrics] ${label} ${c.name} -n ${n}: ${r.ranks.map((x) => `${x.pml} ${x.pml === 'ucx' ? x.ucx.join('|') : x.pml === 'cm' ? x.ofi?.provider : x.btls.map((b) => b.btl).join(',')}`).join('; ')}`,
      );
    }
  }
  assert.equal(problems, [], problems.join('\n\n'));
}

test.before(async () => {
  packed = await packedStack(prefix, join(tmp, 'pack'));
});

test(`Open MPI ${stack.openmpi}: ${fabrics ? 'ucx sm/tcp, ofi tcp/sockets and the default' : 'the default selection'} at 2 and 4 ranks, from the prefix`, async () => {
  await runCases(prefix, 'prefix');
});

test('the same from the packed tree with the build prefix hidden', async () => {
  await runCases(packed, 'packed, prefix hidden', { hide: true });
});

test('a node without the verbs libraries: the packed tree runs every selection and prints no load error', async () => {
  if (fabrics) {
    // the tree really has verbs modules, and they really cannot load in that namespace
    for (const f of ['lib/ucx/libuct_ib.so.0', 'lib/libfabric/libverbs-fi.so']) assert.ok(existsSync(join(packed, f)), `${f} is in the tree`);
  }
  await runCases(packed, 'no verbs', { hide: true, noVerbs: true }, [2]);
  if (!fabrics) return;
  const script = join(tmp, 'noverbs-info.sh');
  writeFileSync(
    script,
    [
      ...nsSetup({ hide: true, noVerbs: true }),
      `'${packed}/bin/ucx_info' -d | grep -c 'Transport: ' ; '${packed}/bin/ucx_info' -d | grep 'Transport: ' ; '${packed}/bin/fi_info' -l`,
    ].join('\n'),
  );
  const r = await runLimited('unshare', ['-m', '--propagation', 'private', 'bash', script], { timeoutMs: 60_000 });
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /Transport: tcp/, 'UCX still has tcp');
  assert.not.match(r.stdout, /Transport: (rc_verbs|ud_verbs|rc_mlx5|dc_mlx5)/, 'no verbs transports without libibverbs');
  assert.match(r.stdout, /^tcp:/m, 'libfabric still has tcp');
  const info = join(tmp, 'noverbs-ompi-info.sh');
  writeFileSync(info, [...nsSetup({ hide: true, noVerbs: true }), `'${packed}/bin/ompi_info' 2>&1`].join('\n'));
  const o = await runLimited('unshare', ['-m', '--propagation', 'private', 'bash', info], { timeoutMs: 60_000 });
  assert.is(o.code, 0, o.stdout + o.stderr);
  assert.match(o.stdout, /MPI_THREAD_MULTIPLE: yes/);
  assert.match(o.stdout, /unable to open mca_pmix_s2: libpmi2\.so\.0/, 'ompi_info names the one component the node cannot load');
});

test(`a node with an RDMA device whose ranks talk over TCP: ${btlLogged ? 'the report warns, naming the device' : 'Open MPI 1.6 logs no BTL, the report does not guess'}`, async () => {
  const tcpArgs = fabrics ? [...UCX, '-x', 'UCX_TLS=self,tcp'] : ['--mca', 'btl', 'tcp,self'];
  const bad = await report(packed, 2, tcpArgs, { hide: true, rdmaDevice: 'mlx5_0' });
  assert.ok(
    bad.ranks.every((x) => x.rdma.includes('mlx5_0')),
    `the probe saw the device: ${JSON.stringify(bad.ranks)}`,
  );
  if (!btlLogged) {
    assert.ok(
      bad.ranks.every((x) => x.pml === 'ob1' && x.btls.length === 0 && !x.tcp),
      JSON.stringify(bad.ranks),
    );
    assert.equal(bad.warnings, [], 'no warning from a guess');
    return;
  }
  assert.ok(
    bad.warnings.some((w) => /talks over TCP although the node has RDMA devices \(mlx5_0\)/.test(w)),
    bad.raw,
  );
  // the same node, shared memory between its ranks: no warning
  const ok = await report(packed, 2, fabrics ? [...UCX, '-x', 'UCX_TLS=self,sm'] : ['--mca', 'btl', 'vader,self'], {
    hide: true,
    rdmaDevice: 'mlx5_0',
  });
  assert.equal(ok.warnings, [], ok.raw);
});

test(`the stack's Open MPI components: ${fabrics ? 'pml ucx, mtl ofi, pmix s2 (Slurm PMI-2)' : 'no ucx or ofi component (the seed predates them)'}`, async () => {
  const r = await runLimited(join(prefix, 'bin', 'ompi_info'), [], { timeoutMs: 60_000 });
  const comps = (fw: string) => [...r.stdout.matchAll(new RegExp(`MCA ${fw}: (\\w+) `, 'g'))].map((m) => m[1]);
  if (fabrics) {
    assert.ok(comps('pml').includes('ucx'), r.stdout);
    assert.ok(comps('mtl').includes('ofi'), r.stdout);
    assert.ok(comps('pmix').includes('s2'), `pmix s2 (srun --mpi=pmi2): ${comps('pmix').join(', ')}`);
  } else {
    assert.not.ok(comps('pml').includes('ucx'), r.stdout);
    assert.not.ok(comps('mtl').includes('ofi'), r.stdout);
  }
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
