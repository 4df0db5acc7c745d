// libfabric (issue 18): the OpenFabrics Interfaces library Open MPI's ofi
// MTL drives, built into the prefix with the providers a cluster meets:
// tcp, shm, udp and the rxm/rxd utility layers built in, verbs as a loadable
// provider (lib/libfabric/libverbs-fi.so).
//
// Data first: versions, every configure argument with its range and reason,
// the patch; the autotools builder runs them (the mirror's tag archive is a
// git export: autogen.sh first).
//
// How it runs where it lands: built-in providers need nothing; the verbs
// provider is a DSO so that libfabric.so itself never needs libibverbs (a
// node without rdma-core still loads it), and the patch below makes
// libfabric look for DSO providers next to itself (<libdir>/libfabric)
// instead of the compiled-in build prefix, so a moved tree loads its own.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { autotoolsFromGit } from './builders/autotools.js';
import { pickAll, requireFiles, SanityError, type CheckContext, type Ranged, type Recipe, type VersionEntry, urlSource, withTreeLibs } from './kit/index.js';

const release = (version: string, sha256: string) =>
  urlSource(`https://github.com/ofiwg/libfabric/releases/download/v${version}/libfabric-${version}.tar.bz2`, sha256);

// the upstream release tarball first (sha256 as Spack's libfabric package
// lists it; EasyBuild has no 1.17.0), then the v1.17.0 tag archive the mirror serves (Debian 12's
// version, whose orig tarball is not served here): a git export, no configure
export const versions: readonly VersionEntry[] = [
  {
    version: '1.17.0',
    default: true,
    sources: [
      release('1.17.0', '579c0f5ef636c0c72f4d3d6bd4da91a5aed9ac3ac4ea387404c45dbbdee4745d'),
      {
        kind: 'url',
        url: 'https://github.com/ofiwg/libfabric/archive/refs/tags/v1.17.0.tar.gz',
        filename: 'libfabric-1.17.0.tar.gz',
        sha256: '059e60e9961cec6aee99cea78e74d1f0d50d6f7b977b0ecfc393717ce559111e',
      },
    ],
  },
];

export const configureTable: readonly Ranged<string[]>[] = [
  {
    range: '>=1.10.0',
    value: ['--enable-tcp=yes', '--enable-shm=yes', '--enable-udp=yes', '--enable-rxm=yes', '--enable-rxd=yes', '--enable-sockets=yes'],
    why: 'the software providers, built into libfabric.so: tcp (with rxm for reliable messaging), shm on one node, udp (with rxd), sockets for testing',
  },
  {
    range: '>=1.10.0',
    value: ['--enable-verbs=dl'],
    why:
      'InfiniBand/RoCE through rdma-core (headers from the prerequisites) as a loadable provider: built in, libfabric.so would need ' +
      'libibverbs.so.1 on every node; as lib/libfabric/libverbs-fi.so it loads only where the node has it',
  },
  {
    range: '>=1.10.0',
    value: ['--enable-efa=no', '--enable-psm=no', '--enable-psm2=no', '--enable-psm3=no', '--enable-usnic=no', '--enable-gni=no', '--enable-bgq=no'],
    why:
      'vendor providers off explicitly (auto-enabled when their headers are on the build host): EFA, PSM/PSM2/PSM3 (Omni-Path), ' +
      "usNIC, Cray GNI and Blue Gene have no headers here; the vendor's own libfabric serves those clusters",
  },
  { range: '>=1.15.0', value: ['--enable-opx=no'], why: 'Omni-Path Express provider (1.15+): off, as PSM2' },
  {
    range: '>=1.10.0',
    value: ['--enable-mrail=no', '--enable-rstream=no', '--enable-perf=no', '--enable-hook_debug=no'],
    why: 'utility and debugging providers Open MPI does not use',
  },
  { range: '>=1.16.0', value: ['--enable-net=no'], why: "the experimental 'net' provider (1.16+): off" },
  {
    range: '>=1.12.0',
    value: [
      '--with-cuda=no',
      '--with-ze=no',
      '--with-rocr=no',
      '--with-gdrcopy=no',
      '--with-neuron=no',
      '--with-synapseai=no',
      '--with-uring=no',
      '--with-lttng=no',
    ],
    why: 'accelerator memory and tracing support: off explicitly, so a build host with their headers builds the same library',
  },
  { range: '>=1.0.0', value: ['--disable-static'], why: 'shared library only (Open MPI links libfabric.so)' },
];

export const patchesTable: readonly Ranged<string>[] = [
  {
    range: '>=1.17.0 <1.18.0',
    value: 'recipes/files/libfabric/patches/provdir-self-1.17.patch',
    why:
      'with FI_PROVIDER_PATH unset, DSO providers are searched in <dir of libfabric.so>/libfabric (dladdr + realpath) instead of the ' +
      "compiled-in PROVDLDIR (the build prefix): a tree at another path loads its own verbs provider (written against 1.17.0's src/fabric.c)",
  },
];

export function configureArgs(version: string): string[] {
  return pickAll(configureTable, version).flat();
}

/** What a correct install has (relative to the prefix). */
const requiredFiles = ['bin/fi_info', 'lib/libfabric.so', 'include/rdma/fabric.h', 'lib/libfabric/libverbs-fi.so'];

async function checkLibfabric(ctx: CheckContext): Promise<void> {
  const fail = (check: string, detail: string) => new SanityError(ctx.recipe, check, detail);
  requireFiles(ctx.recipe, ctx.root, requiredFiles);
  // the built-in providers answer on any node
  const list = await ctx.shell.run(join(ctx.root, 'bin', 'fi_info'), ['-l'], { cwd: ctx.workDir, env: ctx.runEnv, capture: true, timeoutMs: 60_000 });
  for (const p of ['tcp', 'shm', 'udp', 'sockets']) {
    if (!new RegExp(`^${p}:`, 'm').test(list)) throw fail('providers', `fi_info -l lists no '${p}' provider:\n${list}`);
  }
  // the staged tree loads its own verbs DSO, found next to libfabric.so (the patch): the file it opens, seen by strace
  // (libfabric's own 'opening provider lib' line is a debug message, compiled out of a release build)
  const env: NodeJS.ProcessEnv = { ...ctx.runEnv };
  delete env.FI_PROVIDER_PATH;
  const traceFile = join(ctx.workDir, 'fi_info.strace');
  await ctx.shell.run('strace', ['-f', '-qq', '-e', 'trace=openat', '-o', traceFile, join(ctx.root, 'bin', 'fi_info'), '-l'], {
    cwd: ctx.workDir,
    env,
    timeoutMs: 60_000,
  });
  const trace = await readFile(traceFile, 'utf8');
  const opened = /openat\([^,]*, "([^"]*\/libverbs-fi\.so)", [^)]*\) = \d+/.exec(trace)?.[1];
  if (!opened?.startsWith(join(ctx.root, 'lib', 'libfabric') + '/'))
    throw fail('provider path', `libfabric opened the verbs provider from ${opened ?? '(nowhere)'}, not ${join(ctx.root, 'lib', 'libfabric')}`);
}

export const libfabric: Recipe = {
  name: 'libfabric',
  description: 'libfabric with the tcp, shm, udp, rxm, rxd and sockets providers built in and verbs as a loadable provider',
  versions,
  dependencies: [],
  builder: autotoolsFromGit([{ argv: ['./autogen.sh'], why: "upstream's bootstrap (autoreconf -ivf): the tag archive has no configure" }]),
  configureArgs: (version) => configureArgs(version),
  // the staged programs' RUNPATH names the final prefix: point them at the staged library
  runEnv: withTreeLibs,
  check: checkLibfabric,
  patches: patchesTable,
};
