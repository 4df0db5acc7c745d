// UCX (issue 18): the communication framework Open MPI's ucx PML drives on
// InfiniBand, RoCE and shared memory, built into the prefix with its
// transport modules under lib/ucx/. Open MPI's `pml ucx`, `osc ucx` and
// `btl uct` link it.
//
// Data first: the versions table and every configure argument with its
// range and reason; the autotools builder runs them (a git export is
// bootstrapped with the tree's own autogen.sh first).
//
// How it runs where it lands: libucs finds its modules from its own
// location (dladdr: <libdir>/ucx), so the tree needs no variable to find
// them. A module whose driver library is missing on a node (libuct_ib.so
// without libibverbs.so.1) fails to load quietly and its transports are
// simply absent: one tarball serves nodes with and without InfiniBand.
import { join } from 'node:path';
import { autotoolsFromGit, type BootstrapStep } from './builders/autotools.js';
import { pickAll, requireFiles, SanityError, type CheckContext, type Ranged, type Recipe, type VersionEntry, urlSource, withTreeLibs } from './kit/index.js';

const release = (version: string, sha256: string) => urlSource(`https://github.com/openucx/ucx/releases/download/v${version}/ucx-${version}.tar.gz`, sha256);

// upstream release tarballs (sha256 as Spack's ucx package lists them); the
// Debian entry is bookworm's ucx 1.13.1-1 orig tarball, a git export of the
// v1.13.1 tag (no generated configure: autogen.sh runs first)
export const versions: readonly VersionEntry[] = [
  {
    version: '1.13.1',
    default: true,
    sources: [
      release('1.13.1', 'efc37829b68e131d2acc82a3fd4334bfd611156a756837ffeb650ab9a9dd3828'),
      {
        kind: 'debian',
        name: 'ucx',
        version: '1.13.1-1',
        filename: 'ucx_1.13.1.orig.tar.xz',
        sha256: '1a88e09ca1b406c046a469c2ae271d2c330050b5664c0bcd9890e26c6ef09f3c',
      },
    ],
  },
  // current releases, upstream only (sha256 as Spack's and EasyBuild's ucx list them)
  { version: '1.15.0', sources: [release('1.15.0', '4b202087076bc1c98f9249144f0c277a8ea88ad4ca6f404f94baa9cb3aebda6d')] },
  { version: '1.16.0', sources: [release('1.16.0', 'f73770d3b583c91aba5fb07557e655ead0786e057018bfe42f0ebe8716e9d28c')] },
];

/**
 * Two compiled-in build-prefix paths libucs would read, on any node, wherever
 * the tree lies: modules are searched next to libucs (dladdr: <libdir>/ucx)
 * and then in UCX_MODULE_DIR (<build prefix>/lib/ucx), so a module that fails
 * to load from the tree (libuct_ib.so without libibverbs) would be loaded from
 * whatever install sits at the build prefix; and the "system-wide" ucx.conf is
 * <build prefix>/etc/ucx/ucx.conf. The patch searches the compiled-in module
 * directory only when UCX_MODULE_DIR is set to another one (or libucs's own
 * directory is unknown), and reads the tree's own <libdir>/../etc/ucx/ucx.conf
 * in place of the compiled-in one.
 */
export const patchesTable: readonly Ranged<string>[] = [
  {
    range: '>=1.13.0 <1.14.0',
    value: 'recipes/files/ucx/patches/self-location-1.13.patch',
    why:
      "written against 1.13.1's src/ucs/sys/module.c and src/ucs/config/parser.c; " +
      '1.15/1.16 need their own (not yet written: those read the build prefix as a fallback)',
  },
];

export const configureTable: readonly Ranged<string[]>[] = [
  {
    range: '>=1.0.0',
    value: ['--enable-mt'],
    why: 'thread safety in UCP/UCT: without it pml ucx cannot give MPI_THREAD_MULTIPLE (Spack thread_multiple, Debian and EasyBuild enable it)',
  },
  {
    range: '>=1.0.0',
    value: ['--disable-debug', '--disable-assertions', '--disable-params-check'],
    why: "release build (contrib/configure-release's choices): assertions and parameter checks cost latency on every call",
  },
  {
    range: '>=1.0.0',
    value: ['--enable-cma'],
    why: 'cross-memory attach for large shared-memory messages (process_vm_readv; UCX falls back when ptrace is forbidden)',
  },
  {
    range: '>=1.0.0',
    value: ['--with-verbs', '--with-rdmacm', '--with-rc', '--with-ud', '--with-dc', '--with-mlx5-dv', '--with-dm'],
    why:
      "InfiniBand/RoCE transports, built always (the verbs headers come from the prerequisites, rdma-core's libibverbs-dev/librdmacm-dev): " +
      'they live in lib/ucx/libuct_ib.so and libuct_rdmacm.so and load only where the node has libibverbs',
  },
  {
    range: '>=1.0.0',
    value: ['--without-cuda', '--without-rocm', '--without-gdrcopy', '--without-knem', '--without-xpmem', '--without-ugni'],
    why: 'accelerators and kernel modules the build host has no headers for: off explicitly, so a host that has some does not change the build',
  },
  { range: '>=1.0.0', value: ['--without-java', '--without-go', '--disable-doxygen-doc'], why: 'bindings and docs the stack does not ship' },
  {
    range: '>=1.0.0 <1.15.0',
    value: ['--enable-numa'],
    why:
      'NUMA-aware memory placement through libnuma (libnuma-dev from the prerequisites; the tree vendors libnuma.so.1): ' +
      'explicit, so the build does not change with the host (Spack does the same up to 1.14)',
  },
  { range: '>=1.10.0', value: ['--without-fuse3'], why: 'the UCX_VFS daemon (1.10+) is off: no libfuse3 on nodes, nothing in MPI uses it' },
  { range: '>=1.0.0', value: ['--disable-static'], why: 'shared libraries only: Open MPI links them, and modules are shared objects anyway' },
];

/** A git export (Debian's orig tarball is one) has no configure: these make it. */
const bootstrap: BootstrapStep[] = [
  {
    argv: ['sh', '-c', 'test -e debian || cp -r debian.upstream debian'],
    why: "configure.ac generates debian/ packaging files; Debian's orig tarball has upstream's debian/ renamed debian.upstream",
  },
  { argv: ['./autogen.sh'], why: "upstream's bootstrap (autoreconf with its m4 directory)" },
];

export function configureArgs(version: string): string[] {
  return pickAll(configureTable, version).flat();
}

/** What a correct install has (relative to the prefix). */
const requiredFiles = ['bin/ucx_info', 'lib/libucp.so', 'lib/libuct.so', 'lib/libucs.so', 'lib/libucm.so', 'include/ucp/api/ucp.h'];

/** The transport modules built: shared memory always; verbs and rdmacm because the prerequisites bring their headers. */
const modules = ['lib/ucx/libuct_cma.so', 'lib/ucx/libuct_ib.so', 'lib/ucx/libuct_rdmacm.so'];

async function checkUcx(ctx: CheckContext): Promise<void> {
  const fail = (check: string, detail: string) => new SanityError(ctx.recipe, check, detail);
  requireFiles(ctx.recipe, ctx.root, [...requiredFiles, ...modules]);
  const info = (args: string[]) =>
    ctx.shell.run(join(ctx.root, 'bin', 'ucx_info'), args, { cwd: ctx.workDir, env: ctx.runEnv, capture: true, timeoutMs: 60_000 });
  const build = await info(['-b']);
  if (!/^#define ENABLE_MT\s+1/m.test(build)) throw fail('thread safety', 'ucx_info -b has no "#define ENABLE_MT 1": configure without --enable-mt');
  // the staged tree finds its own modules (lib/ucx next to libucs): the shared-memory and tcp transports are there
  const devices = await info(['-d']);
  for (const tl of ['self', 'tcp', 'posix', 'sysv', 'cma']) {
    if (!new RegExp(`^#\\s+Transport: ${tl}$`, 'm').test(devices))
      throw fail('transports', `ucx_info -d lists no '${tl}' transport:\n${devices.slice(0, 4000)}`);
  }
}

export const ucx: Recipe = {
  name: 'ucx',
  description: 'UCX with thread safety (--enable-mt) and its transport modules (shared memory, tcp, verbs, rdmacm)',
  versions,
  dependencies: [],
  builder: autotoolsFromGit(bootstrap),
  configureArgs: (version) => configureArgs(version),
  // the staged programs' RUNPATH names the final prefix: point them at the staged libraries (libucs then finds
  // the staged lib/ucx from its own location, which is what the check proves)
  runEnv: withTreeLibs,
  check: checkUcx,
  patches: patchesTable,
};
