// Open MPI (seed section 4.1): thread-safe MPI with Fortran, built with the
// autotools builder. Data first: the versions table, then every
// version-dependent configure argument with its semver range and why.
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { autotools, STAMP_TREE } from './builders/autotools.js';
import {
  copyRecipeFiles,
  mapBuildDir,
  mpirunEnv,
  parseLdd,
  pickAll,
  recipeFiles,
  RecipeError,
  requireFiles,
  resolvedElsewhere,
  runRanks,
  SanityError,
  type BuildContext,
  type Builder,
  type CheckContext,
  type Ranged,
  type Recipe,
  type VersionEntry,
  urlSource,
  withTreeLibs,
} from './kit/index.js';

/** The release archive of `version` on Open MPI's download site (one folder a series, v4.1/). */
const release = (version: string, sha256: string) => {
  const series = version.split('.').slice(0, 2).join('.');
  return urlSource(`https://download.open-mpi.org/release/open-mpi/v${series}/openmpi-${version}.tar.bz2`, sha256);
};

// sha256 of the upstream .tar.bz2 release archives as Spack's openmpi
// package lists them; the Debian entry is the orig tarball of the source
// package (hashed here after `apt-get source --download-only openmpi=4.1.4-3`).
export const versions: readonly VersionEntry[] = [
  {
    // the seed's version (the CASA guide's card: Open MPI 1.6.5, thread-multiple)
    version: '1.6.5',
    sources: [
      release('1.6.5', 'fe37bab89b5ef234e0ac82dc798282c2ab08900bf564a1ec27239d3f1ad1fc85'),
      // the v1.6.5 tag as a git export (`git archive --prefix=ompi-1.6.5/ v1.6.5 | gzip -n`): no generated
      // configure, so `bootstrap` below runs first; --mirror serves it where the forge is unreachable
      {
        kind: 'url',
        url: 'https://github.com/open-mpi/ompi/archive/refs/tags/v1.6.5.tar.gz',
        filename: 'ompi-1.6.5.tar.gz',
        sha256: '8c8f0244c9f4c522bc0518ea9918b0e890a4ad1cf406521b58d7dbfb59471059',
      },
    ],
  },
  {
    version: '4.1.4',
    default: true,
    sources: [
      release('4.1.4', '92912e175fd1234368c8730c03f4996fe5942e7479bb1d10059405e7f2b3930d'),
      // Debian 12's openmpi; the orig tarball is upstream's release re-compressed (generated configure included)
      {
        kind: 'debian',
        name: 'openmpi',
        version: '4.1.4-3',
        filename: 'openmpi_4.1.4.orig.tar.xz',
        sha256: 'ddaee7dbdb01eb4fab1fda5b5e03e8bbff026711806c095c1f39bb410f99f263',
      },
    ],
  },
  { version: '4.1.6', sources: [release('4.1.6', 'f740994485516deb63b5311af122c265179f5328a0d857a567b85db00b11e415')] },
  { version: '5.0.10', sources: [release('5.0.10', '0acecc4fc218e5debdbcb8a41d182c6b0f1d29393015ed763b2a91d5d7374cc6')] },
];

export const configureTable: readonly Ranged<string[]>[] = [
  // thread support
  {
    range: '>=1.5.4 <1.7.0',
    value: ['--enable-mpi-thread-multiple', '--enable-opal-multi-threads'],
    why: 'seed 4.1.3: MPI_THREAD_MULTIPLE is off unless both are given (1.5.4-1.6.x)',
  },
  { range: '>=1.7.0 <3.0.0', value: ['--enable-mpi-thread-multiple'], why: '1.7 folded opal multi-threads into this one flag' },
  // 3.0+: nothing, MPI_THREAD_MULTIPLE is always built in (NEWS 3.0.0)
  // Fortran (the seed ships mpif77 and mpif90)
  { range: '>=1.0.0 <1.7.0', value: ['--enable-mpi-f77', '--enable-mpi-f90'], why: 'the 1.6 series has separate f77/f90 bindings' },
  { range: '>=1.7.0', value: ['--enable-mpi-fortran'], why: '1.7 merged the Fortran bindings into one option (NEWS 1.7)' },
  // bundled components, chosen explicitly so the build does not change with the host
  { range: '>=1.5.0 <1.7.0', value: ['--with-hwloc=internal'], why: 'hwloc bundled since 1.5; libevent has no option there (always internal)' },
  { range: '>=1.7.0 <2.0.0', value: ['--with-hwloc=internal', '--with-libevent=internal'], why: '1.7-1.10 bundle hwloc and libevent' },
  { range: '>=2.0.0', value: ['--with-hwloc=internal', '--with-libevent=internal', '--with-pmix=internal'], why: '2.0+ also bundle PMIx' },
  { range: '>=5.0.0', value: ['--with-prrte=internal'], why: '5.0 replaced ORTE with a bundled PRRTE' },
  // prefix by default, so remote daemons find the install without PATH set (seed 4.1.6)
  { range: '>=1.3.0 <5.0.0', value: ['--enable-orterun-prefix-by-default'], why: 'ORTE launcher option, 1.3-4.x' },
  { range: '>=5.0.0', value: ['--enable-prte-prefix-by-default'], why: '5.0 renamed it with the move to PRRTE' },
  // host-independent network/scheduler choices: shared memory + TCP, ssh and Slurm launch
  { range: '>=1.0.0', value: ['--with-slurm', '--without-tm'], why: 'Slurm on, PBS/Torque off (no tm headers on build hosts)' },
  {
    range: '>=2.0.0 <5.0.0',
    value: ['--with-pmi'],
    why:
      "Slurm's PMI-2 (libpmi2-0-dev, /usr/include/slurm/pmi2.h) for `srun --mpi=pmi2` direct launch (pmix s2 component); " +
      "no directory: a directory makes 4.1 look for libpmi2 only in DIR/lib and DIR/lib64, not Debian's multiarch libdir. " +
      '5.0 dropped PMI-1/2 (PMIx only: srun --mpi=pmix)',
  },
  {
    range: '>=1.0.0 <1.7.0',
    value: ['--without-openib'],
    why: '1.6 names verbs support --with-openib (it has no --with-verbs): off, or a host with libibverbs headers builds openib and ofud',
  },
  { range: '>=1.7.0 <5.0.0', value: ['--without-verbs'], why: 'openib BTL exists up to 4.x; off so a host with rdma-core does not switch it on' },
  { range: '>=1.7.0', value: ['--without-cuda'], why: 'CUDA support exists since 1.7' },
  {
    range: '>=1.10.0',
    value: ['--without-psm2'],
    why: "Omni-Path's PSM2 MTL probed since 1.10: off (no headers on build hosts); libfabric's and UCX's own providers cover OPA",
  },
  { range: '>=1.0.0 <5.0.0', value: ['--without-psm'], why: 'PSM (v1) MTL removed in 5.0' },
  { range: '>=2.0.0', value: ['--without-lustre'], why: 'ROMIO lustre driver probed since 2.0' },
  // reproducible builds (issue 8): the default names the building user and host
  { range: '>=1.3.0', value: ['--with-package-string=Open MPI (mpistack)'], why: "ompi_info's 'Package' defaults to 'Open MPI <user>@<host> Distribution'" },
  // old releases on a current toolchain (GCC 12, gfortran 12, glibc 2.36: the lock's)
  {
    range: '>=1.0.0 <2.0.0',
    value: ['--without-memory-manager'],
    why: "the ptmalloc2 memory component uses glibc's malloc hooks, removed in glibc 2.34 (2.0 replaced it with 'patcher')",
  },
  {
    range: '>=1.6.0 <1.7.0',
    value: ['CFLAGS=-fcommon'],
    why: '1.6 defines globals in headers; GCC 10+ defaults to -fno-common (multiple definitions at link)',
  },
  {
    range: '>=1.6.0 <1.7.0',
    value: ['FFLAGS=-fallow-argument-mismatch', 'FCFLAGS=-fallow-argument-mismatch'],
    why: "gfortran 10+ rejects the f77/f90 bindings' type-mismatched calls (REAL(8)/CHARACTER(*)) unless told to allow them",
  },
  {
    range: '>=1.3.0 <2.0.0',
    value: ['--enable-contrib-no-build=vt'],
    why: 'VampirTrace (contrib/vt, 1.3-1.10) is a tracer the stack does not ship; it is a third of the 1.6 build',
  },
  {
    range: '>=1.5.0 <1.7.0',
    value: ['--disable-libnuma'],
    why: "1.6's embedded hwloc 1.3 links libnuma whenever numaif.h is on the build host (hwloc's own switch, passed down)",
  },
  // run path: ${libdir} is the wrapper's own variable, expanded when it runs (OPAL_PREFIX-aware), like 1.7.4+'s @{libdir}
  {
    range: '>=1.0.0 <1.7.0',
    value: ['--with-wrapper-ldflags=-Wl,-rpath,${libdir} -Wl,--enable-new-dtags'],
    why: "1.6's wrappers add no run path (1.7.4 added --enable-wrapper-rpath): a program found the tree's libmpi only through LD_LIBRARY_PATH",
  },
];

/**
 * Fabrics (issue 18): with them, Open MPI is built against the prefix's UCX
 * and libfabric (PREFIX below is the install prefix), so a rank on
 * InfiniBand, RoCE, Omni-Path or Slingshot selects its native transport and
 * shared memory and TCP stay the fallback. Their libraries in the tree open
 * the node's driver libraries (libibverbs, ...) only where they exist.
 */
export const fabricsTable: readonly Ranged<string[]>[] = [
  {
    range: '>=3.0.0',
    value: ['--with-ucx=PREFIX', '--with-ofi=PREFIX'],
    why:
      'pml ucx is the default on InfiniBand/RoCE since 3.0 (experimental in 2.x), with osc ucx and (4.0+) btl uct; ' +
      'mtl ofi (libfabric: tcp, shm, verbs, efa, cxi, opx providers) since 1.10',
  },
];

/** With fabrics, components left out of the build. */
const fabricsNoBuildTable: readonly Ranged<string[]>[] = [
  {
    range: '>=4.1.0 <4.1.5',
    value: ['--enable-mca-no-build=osc-ucx'],
    why:
      "osc ucx (one-sided over UCX) segfaults in MPI_Win_free (ucp_mem_unmap -> ucs_rcache_region_invalidate) under mpi4py's test_win, " +
      'at 1 rank, also with UCX_MEM_EVENTS=no; one-sided goes through osc rdma/pt2pt/sm instead (the same run passes)',
  },
];

/** Without fabrics (the seed's stack, or --without fabrics): shared memory and TCP only, whatever the build host has. */
const noFabricsTable: readonly Ranged<string[]>[] = [
  {
    range: '>=1.10.0',
    value: ['--without-ucx', '--without-ofi'],
    why: 'fabric components probed since 1.10: off, so a host with UCX or libfabric headers does not switch them on',
  },
];

/**
 * A git export of a release tag (the mirror's ompi-1.6.5.tar.gz) has no
 * generated configure: these steps make one, in order, in `prepare`. A
 * release tarball has configure and skips them. `tools` go first on PATH
 * under their plain names; `versionFile` sets the tag's VERSION fields to
 * the release's, so ompi_info reports the release and not a developer copy.
 */
interface Bootstrap {
  tools: Record<string, string>;
  versionFile: Record<string, string>;
  steps: { cwd: string; argv: string[] }[];
}

const bootstrapTable: readonly Ranged<Bootstrap>[] = [
  {
    range: '1.6.5',
    value: {
      // Autoconf 2.69 (Debian 12's autoconf2.69): 1.6's configure.ac uses macros 2.70 made obsolete (AC_VERBOSE,
      // AC_HELP_STRING, AC_TRY_*: 525 warnings from the default 2.71); Automake 1.16 and Libtool 2.4.7 as installed
      tools: { autoconf: 'autoconf2.69', autoheader: 'autoheader2.69', autom4te: 'autom4te2.69', autoreconf: 'autoreconf2.69' },
      // the tag's VERSION says greek=rc3, want_svn=1 and no date; the 1.6.5 release tarball's values
      versionFile: { greek: '', want_svn: '0', svn_r: 'r28673', date: '"Jun 26, 2013"' },
      steps: [
        { cwd: '.', argv: ['./autogen.sh'] },
        // autogen.sh moves libtoolize's libltdl into opal/ keeping its Makefile.in, whose aclocal.m4
        // dependencies then name opal/m4/ (absent): make would rerun aclocal there and fail. Regenerate
        // that subpackage in place against the system's libtool macros (autogen.sh's own step for old Automake).
        { cwd: 'opal/libltdl', argv: ['aclocal'] },
        { cwd: 'opal/libltdl', argv: ['automake'] },
        { cwd: 'opal/libltdl', argv: ['autoconf'] },
        // autogen.sh patches config/libtool.m4 and friends after running autoheader, so make would find
        // opal_config.h.in stale and rerun autoheader + config.status mid-build (losing mapRomioFlags' edit);
        // one time stamp on every file, as the git export had, leaves nothing to regenerate
        { cwd: '.', argv: [...STAMP_TREE] },
      ],
    },
    why: 'tested on the v1.6.5 tag; a tag of another release needs its own VERSION values',
  },
];

/** VERSION file text with `fields` set (the lines `name=value`); throws when a field is missing. */
function setVersionFields(text: string, fields: Record<string, string>): string {
  let out = text;
  for (const [k, v] of Object.entries(fields)) {
    const re = new RegExp(`^${k}=.*$`, 'm');
    if (!re.test(out)) throw new RecipeError(`VERSION has no '${k}=' line to set`);
    out = out.replace(re, `${k}=${v}`);
  }
  return out;
}

/** Generate configure in a git export (no-op for a release tarball, which has it). */
async function bootstrapTree(ctx: BuildContext): Promise<void> {
  if (existsSync(join(ctx.srcDir, 'configure'))) return;
  const plan = pickAll(bootstrapTable, ctx.version)[0];
  if (!plan)
    throw new RecipeError(
      `openmpi ${ctx.version}: the tree has no configure (a git export) and the recipe has no bootstrap steps for this version; use the release tarball`,
    );
  const bin = join(ctx.buildDir, 'bootstrap-tools');
  await mkdir(bin, { recursive: true });
  for (const [name, cmd] of Object.entries(plan.tools)) {
    const found = ['/usr/bin', '/bin'].map((d) => join(d, cmd)).find((p) => existsSync(p));
    if (!found) throw new RecipeError(`${cmd} is not installed (needed to bootstrap the openmpi ${ctx.version} git export; see scripts/install-prereqs.sh)`);
    await symlink(found, join(bin, name)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  const versionFile = join(ctx.srcDir, 'VERSION');
  await writeFile(versionFile, setVersionFields(await readFile(versionFile, 'utf8'), plan.versionFile));
  const env = { ...ctx.env, PATH: `${bin}:${ctx.env.PATH ?? '/usr/bin:/bin'}` };
  for (const step of plan.steps) await ctx.shell.run(step.argv[0], step.argv.slice(1), { cwd: join(ctx.srcDir, step.cwd), env });
}

/** The configure header that carries ROMIO's configure flags as a string constant. */
const CONFIG_HEADER = 'opal/include/opal_config.h';

/**
 * ROMIO's complete configure flags (MCA_io_romio<N>_COMPLETE_CONFIGURE_FLAGS,
 * ompi/mca/io/romio321/configure.m4) are compiled into mca_io_romio*.so as a
 * string, and they hold CPPFLAGS with absolute paths into the build tree
 * (-I<build>/opal/mca/event/.../include): the .rodata then differs with the
 * build directory. The compiler shims map that directory in debug info only,
 * so the same mapping is applied to this one #define after configure.
 * Returns the header text and how many defines were changed.
 */
export function mapRomioFlags(header: string, buildDir: string): { text: string; changed: number } {
  let changed = 0;
  const text = header
    .split('\n')
    .map((line) => {
      if (!/^#define MCA_io_romio\w*_COMPLETE_CONFIGURE_FLAGS /.test(line)) return line;
      const out = mapBuildDir(line, buildDir);
      if (out !== line) changed++;
      return out;
    })
    .join('\n');
  return { text, changed };
}

async function mapRomioFlagsIn(ctx: BuildContext): Promise<void> {
  const file = join(ctx.srcDir, CONFIG_HEADER);
  if (!existsSync(file)) return;
  const { text, changed } = mapRomioFlags(await readFile(file, 'utf8'), ctx.buildDir);
  // rewritten in place after configure: make does not regenerate it (config.status' stamp stays newer)
  if (changed) await writeFile(file, text);
}

/**
 * Source patches (recipes/files/openmpi/patches/), applied in prepare by the
 * engine. The first two make a tree find itself: with OPAL_PREFIX unset, the
 * installdirs 'env' component takes the prefix from where the library it is
 * linked into lies (dladdr + realpath: <prefix>/lib/libopen-pal.so -> <prefix>),
 * so bin/mpirun, the wrappers, ompi_info, orted and every MPI program read the
 * tree they come from and never an install at the build prefix. OPAL_PREFIX
 * still wins; the compiled-in prefix stays the fallback when the library is not
 * in a directory named lib.
 */
export const patchesTable: readonly Ranged<string>[] = [
  {
    range: '>=4.1.0 <4.2.0',
    value: 'recipes/files/openmpi/patches/installdirs-self-4.1.patch',
    why: "the prefix from libopen-pal's own location when OPAL_PREFIX is unset (written against 4.1.4's opal_installdirs_env.c)",
  },
  {
    range: '>=4.1.0 <4.2.0',
    value: 'recipes/files/openmpi/patches/pmix3x-self-4.1.patch',
    why:
      "the embedded PMIx 3 keeps its own prefix (pinstalldirs): pmix3x passes OPAL_PREFIX on as PMIX_INSTALL_PREFIX; unset, it now passes opal's " +
      'self-located prefix, replacing a PMIX_INSTALL_PREFIX inherited from the environment mpirun forwards from another host ' +
      '(with the tree at another path there, PMIx found no plugins and the ranks hung in MPI_Init)',
  },
  {
    range: '>=1.6.0 <1.7.0',
    value: 'recipes/files/openmpi/patches/installdirs-self-1.6.patch',
    why: 'the same for 1.6 (opal and orte are linked into libmpi.so.1 too: dladdr names whichever library holds the component, all in <prefix>/lib)',
  },
];

/** The versions this recipe makes self-locating (a patch in patchesTable applies). */
export function selfLocating(version: string): boolean {
  return pickAll(patchesTable, version).some((f) => f.includes('installdirs-self'));
}

/** Installed files the stack does not ship: removed from the staged tree after `make install`. */
const unshippedTable: readonly Ranged<string[]>[] = [
  {
    range: '>=1.6.0 <1.7.0',
    value: ['bin/orte_wrapper_script'],
    why: 'installed always, used only by --enable-script-wrapper-compilers (ortecc is opal_wrapper otherwise); a Perl script with the build prefix written in',
  },
];

/** autotools, plus configure generated for a git export, the ROMIO flags mapping right after configure, and unshipped files dropped. */
const openmpiBuilder: Builder = {
  ...autotools,
  prepare: bootstrapTree,
  async configure(ctx) {
    await autotools.configure(ctx);
    await mapRomioFlagsIn(ctx);
  },
  async install(ctx) {
    await autotools.install(ctx);
    for (const f of pickAll(unshippedTable, ctx.version).flat()) await rm(join(ctx.stagedPrefix, f), { force: true });
  },
};

/** Configure arguments for a version; with `fabrics`, against the UCX and libfabric in `prefix`. */
export function configureArgs(version: string, prefix = '/PREFIX', fabrics = false): string[] {
  const base = pickAll(configureTable, version).flat();
  if (!fabrics) return [...base, ...pickAll(noFabricsTable, version).flat()];
  const f = pickAll(fabricsTable, version).flat();
  if (!f.length)
    throw new RecipeError(
      `Open MPI ${version} has no UCX or libfabric support (pml ucx since 3.0): build it without fabrics (--stack seed, or --without fabrics)`,
    );
  return [...base, ...f.map((a) => a.replace('PREFIX', prefix)), ...pickAll(fabricsNoBuildTable, version).flat()];
}

/** Environment under which the tree at `root` (staged or final) runs with its own libraries. */
function ompiRunEnv(root: string, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return mpirunEnv({
    // the staged libraries first (keeps the system libmpi out)
    ...withTreeLibs(root, base),
    // the install has its final prefix compiled in; this points it at `root`
    OPAL_PREFIX: root,
    PATH: `${join(root, 'bin')}:${base.PATH ?? '/usr/bin:/bin'}`,
  });
}

/** The check programs (recipes/files/openmpi/): C hello (thread level, which libmpi is mapped), C ring, Fortran hello. */
const CHECK_PROGRAMS = ['hello.c', 'ring.c', 'fhello.f90'] as const;

export const requiredFiles = ['bin/mpicc', 'bin/mpicxx', 'bin/mpif77', 'bin/mpif90', 'bin/mpirun', 'bin/mpiexec', 'bin/ompi_info', 'lib/libmpi.so'];

const MPIRUN_TIMEOUT = 180_000;

/** Sanity checks of seed 4.1.5-4.1.9, run against `ctx.root` with its own libraries. */
async function checkOpenMPI(ctx: CheckContext): Promise<void> {
  const { root, runEnv: env, workDir: cwd, shell } = ctx;
  const fail = (check: string, detail: string) => new SanityError(ctx.recipe, check, detail);
  const bin = (n: string) => join(root, 'bin', n);
  requireFiles(ctx.recipe, root, requiredFiles);

  const info = await shell.run(bin('ompi_info'), [], { cwd, env, capture: true, timeoutMs: 60_000 });
  if (!/MPI_THREAD_MULTIPLE: yes/.test(info)) throw fail('thread support', "ompi_info does not report 'MPI_THREAD_MULTIPLE: yes'");

  // a self-locating tree: with OPAL_PREFIX unset, ompi_info names the tree it runs from (here the staged one)
  if (selfLocating(ctx.version)) {
    const bare = { ...env };
    delete bare.OPAL_PREFIX;
    const where = (await shell.run(bin('ompi_info'), ['--path', 'prefix', '--parsable'], { cwd, env: bare, capture: true, timeoutMs: 60_000 })).trim();
    const got = /^path:prefix:(.*)$/m.exec(where)?.[1];
    if (got !== realpathSync(root))
      throw fail('self-location', `with OPAL_PREFIX unset ompi_info reports prefix ${got ?? `(none) in:\n${where}`}, not the tree ${root}`);
  }

  // every program must load this tree's libraries, not a system Open MPI
  const libsOf = async (exe: string) => {
    const bad = resolvedElsewhere(parseLdd(await shell.run('ldd', [exe], { cwd, env, capture: true })), /^lib(mpi|open-rte|open-pal)\.so/, join(root, 'lib'));
    if (bad.length) throw fail('library resolution', `${exe} loads ${bad.join('; ')} instead of ${join(root, 'lib')}`);
  };
  await libsOf(bin('ompi_info'));

  const mpirun = (n: number, argv: string[], extra: string[] = []) => runRanks(shell, bin('mpirun'), n, argv, { cwd, env, timeoutMs: MPIRUN_TIMEOUT, extra });

  // seed 4.1.7: mpirun -n 4 ls
  await writeFile(join(cwd, 'marker.txt'), 'x\n');
  const ls = await mpirun(4, ['ls', 'marker.txt']);
  if (ls.split('\n').filter((l) => l.trim() === 'marker.txt').length !== 4) throw fail('mpirun -n 4 ls', `expected 4 lines 'marker.txt', got:\n${ls}`);

  // seed 4.1.8-4.1.9: a hostfile in Open MPI syntax with slots=
  await writeFile(join(cwd, 'hostfile'), '# mpistack sanity check\nlocalhost slots=4\n');
  const hf = await mpirun(4, ['hostname'], ['--hostfile', join(cwd, 'hostfile')]);
  if (hf.trim().split('\n').length !== 4) throw fail('hostfile run', `expected 4 lines, got:\n${hf}`);

  // C hello and ring with the tree's mpicc, at 1 and 4 ranks
  await copyRecipeFiles('openmpi', CHECK_PROGRAMS, cwd);
  await shell.run(bin('mpicc'), ['-o', 'hello', 'hello.c'], { cwd, env });
  await shell.run(bin('mpicc'), ['-o', 'ring', 'ring.c'], { cwd, env });
  await shell.run(bin('mpif90'), ['-o', 'fhello', 'fhello.f90'], { cwd, env });
  for (const exe of ['hello', 'ring', 'fhello']) await libsOf(join(cwd, exe));
  for (const n of [1, 4]) {
    const h = await mpirun(n, ['./hello']);
    const lines = h.split('\n').filter((l) => l.startsWith('hello '));
    if (lines.length !== n || !lines.every((l) => l.endsWith(`of ${n} thread=1`))) throw fail(`C hello at ${n}`, `unexpected output:\n${h}`);
    const mapped = /^libmpi (\S+)$/m.exec(h)?.[1];
    if (!mapped || !mapped.startsWith(`${join(root, 'lib')}/`))
      throw fail(`C hello at ${n}`, `the running program mapped libmpi from ${mapped ?? '(nowhere)'}, not ${join(root, 'lib')}`);
    const r = await mpirun(n, ['./ring']);
    const sum = (n * (n - 1)) / 2;
    if (!r.includes(`ring ${n} ${sum}`)) throw fail(`C ring at ${n}`, `expected 'ring ${n} ${sum}', got:\n${r}`);
    const f = await mpirun(n, ['./fhello']);
    if (f.split('\n').filter((l) => l.trim().startsWith('fhello ')).length !== n) throw fail(`Fortran hello at ${n}`, `unexpected output:\n${f}`);
  }
}

/** Open MPI; with `fabrics`, after UCX and libfabric and built against them. */
export function openmpiRecipe(o: { fabrics: boolean }): Recipe {
  return o.fabrics ? openmpiWithFabrics : openmpiPlain;
}

const openmpiPlain: Recipe = {
  name: 'openmpi',
  description: 'Open MPI with MPI_THREAD_MULTIPLE and Fortran',
  versions,
  dependencies: [],
  builder: openmpiBuilder,
  configureArgs: (version) => configureArgs(version),
  runEnv: ompiRunEnv,
  check: checkOpenMPI,
  files: recipeFiles('openmpi', CHECK_PROGRAMS),
  patches: patchesTable,
};

const openmpiWithFabrics: Recipe = {
  ...openmpiPlain,
  description: "Open MPI with MPI_THREAD_MULTIPLE and Fortran, its ucx PML and ofi MTL built against the prefix's UCX and libfabric",
  dependencies: ['ucx', 'libfabric'],
  configureArgs: (version, prefix) => configureArgs(version, prefix, true),
};

/** The default stack's Open MPI (with fabrics). */
export const openmpi: Recipe = openmpiWithFabrics;
