// e2e: pack a built stack prefix, unpack it at a path shorter and at one
// longer than the build prefix, hide the build prefix (a tmpfs mounted over it
// in a private mount namespace), and in each tree: ompi_info reports
// MPI_THREAD_MULTIPLE, mpicc/mpicxx build programs that run under mpirun -n 4 /
// -n 2, and ldd and a running rank's /proc/<pid>/maps show only the tree's
// libraries or declared base-system ones (a moved tree that silently loads the
// system's libmpi.so.40 fails here).
//
// Needs MPISTACK_E2E_PREFIX: a built stack prefix (CI provides it). When the
// prefix was copied from where it was built, MPISTACK_E2E_BUILD_PREFIX names
// the original path (default: the prefix's build manifest, else the prefix).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { classifyBase } from '../../scripts/pack/basesystem.js';
import { readElf } from '../../scripts/pack/elf.js';
import { install } from '../../scripts/pack/install.js';
import { pack, readBuildInfo } from '../../scripts/pack/pack.js';
import { mpirunEnv, runLimited } from '../helpers/mpi.js';
import { builtStack } from '../helpers/stack.js';
import { readManifest } from '../../scripts/foundation/manifest.js';

const prefixEnv = process.env.MPISTACK_E2E_PREFIX;
if (!prefixEnv || !existsSync(join(prefixEnv, 'bin/mpirun'))) {
  console.error(
    `pack.relocate e2e: MPISTACK_E2E_PREFIX must name a built stack prefix with bin/mpirun (got ${JSON.stringify(prefixEnv ?? null)}).\n` +
      'Build one (npm run build-stack) or point it at an Open MPI install; when the prefix was copied from where it was built,\n' +
      'also set MPISTACK_E2E_BUILD_PREFIX to the original path.',
  );
  process.exit(1);
}
const prefix = realpathSync(prefixEnv);
const buildPrefix = process.env.MPISTACK_E2E_BUILD_PREFIX ?? readBuildInfo(prefix).prefix ?? prefix;
const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'mpistack-e2e-pack-')));
// libmpi.so.40 (Open MPI 4) or libmpi.so.1 (the seed's 1.6.5)
const LIBMPI = builtStack(prefix).libmpi;

const RING_C = `#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
  int provided, rank, size, token = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const char *dir = getenv("MAPS_DIR");
  if (dir) { /* this rank's mapped libraries, with MPI and its plugins loaded */
    char path[4096], line[4096]; snprintf(path, sizeof path, "%s/maps.%d", dir, rank);
    FILE *in = fopen("/proc/self/maps", "r"), *out = fopen(path, "w");
    while (in && out && fgets(line, sizeof line, in)) fputs(line, out);
    if (in) fclose(in); if (out) fclose(out);
  }
  if (rank == 0) {
    token = 1;
    MPI_Send(&token, 1, MPI_INT, 1 % size, 0, MPI_COMM_WORLD);
    MPI_Recv(&token, 1, MPI_INT, size - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    printf("ring %d of %d provided=%d\\n", token, size, provided);
  } else {
    MPI_Recv(&token, 1, MPI_INT, rank - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    token++;
    MPI_Send(&token, 1, MPI_INT, (rank + 1) % size, 0, MPI_COMM_WORLD);
  }
  MPI_Finalize();
  return 0;
}
`;
const HELLO_CXX = `#include <mpi.h>
#include <iostream>
#include <string>
int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank; MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::string s = "hello from " + std::to_string(rank);
  int sum = 0; MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) std::cout << s << " sum " << sum << std::endl;
  MPI_Finalize();
  return 0;
}
`;

// built --with mpi4py: the interpreter it was built for (the manifest records it)
const mpi4pyPython = (() => {
  return readManifest(prefix).recipes.mpi4py?.env.MPISTACK_PYTHON;
})();

/** Everything runs inside a private mount namespace where the build prefix (and the input copy) are empty tmpfs. */
function checkScript(root: string, work: string, hide: string[]): string {
  return [
    'set -u',
    ...hide.map((h) => `mount -t tmpfs -o size=1m mpistack-hidden '${h}' || { echo "@@fail cannot hide ${h}"; exit 90; }`),
    ...hide.map((h) => `[ -z "$(ls -A '${h}')" ] || { echo "@@fail ${h} still visible"; exit 91; }`),
    'unset LD_LIBRARY_PATH OPAL_PREFIX PMIX_PREFIX PRTE_PREFIX MANPATH PKG_CONFIG_PATH',
    `. '${root}/env.sh'`,
    'echo "@@which $(command -v mpirun) $(command -v mpicc) $(command -v node)"',
    'echo "@@opal ${OPAL_PREFIX-unset}"',
    'echo "@@prefix $(ompi_info --path prefix --parsable)"',
    'echo "@@ompi_info"; ompi_info 2>&1 | grep -i "thread support"',
    'echo "@@showme $(mpicc -showme)"',
    'echo "@@pkgconfig $(pkg-config --variable=libdir ompi 2>&1)"',
    `mpicc -o '${work}/ring' '${work}/ring.c' 2>&1 || echo "@@fail mpicc"`,
    `mpicxx -o '${work}/hello' '${work}/hello.cxx' 2>&1 || echo "@@fail mpicxx"`,
    `echo "@@ring"; MAPS_DIR='${work}' timeout 300 mpirun -n 4 '${work}/ring' 2>&1; echo "@@rc $?"`,
    `echo "@@hello"; timeout 300 mpirun -n 2 '${work}/hello' 2>&1; echo "@@rc $?"`,
    `echo "@@ldd"; for f in '${work}/ring' '${work}/hello' '${root}'/bin/* '${root}'/lib/*.so.* '${root}'/lib/openmpi/*.so '${root}'/lib/pmix/*.so; do`,
    '  [ -L "$f" ] && continue; case "$(head -c 4 "$f" | od -An -c | tr -d " ")" in 177ELF) ;; *) continue ;; esac',
    '  ldd "$f" 2>&1 | sed "s|^|$f: |"',
    'done',
    'echo "@@node"; node -e "console.log(process.execPath)"',
    ...(mpi4pyPython
      ? [
          `echo "@@mpi4py"; '${mpi4pyPython}' -c 'import mpi4py; from mpi4py import MPI; print(mpi4py.__file__); print(sorted({l.split()[-1] for l in open("/proc/self/maps") if "/libmpi.so" in l})[0])' 2>&1 || echo "@@fail mpi4py import"`,
        ]
      : []),
    'echo "@@end"',
  ].join('\n');
}

function section(out: string, name: string): string {
  const start = out.indexOf(`@@${name}`);
  if (start < 0) return '';
  const rest = out.slice(start + name.length + 2);
  const next = rest.search(/^@@(?!rc )/m);
  return next < 0 ? rest : rest.slice(0, next);
}

/** A library path is acceptable if it is inside the tree or is a declared base-system library. */
function libOk(path: string, root: string): boolean {
  if (path.startsWith(`${root}/`)) return true;
  // maps show real file names (libz.so.1.2.13): classify by the file's SONAME
  let soname = basename(path);
  try {
    soname = readElf(path)?.soname ?? soname;
  } catch {
    /* keep the file name */
  }
  return !!classifyBase(soname);
}

/** ldd lines that resolve outside the tree and the base system, or not at all. */
function badLddLines(ldd: string[], root: string): string[] {
  return ldd.filter((l) => {
    if (/not found/.test(l)) return true;
    const m = /=> (\/\S+)/.exec(l);
    return m ? !libOk(m[1], root) : false;
  });
}

let tarball = '';

test('pack the prefix', async () => {
  const r = await pack({ prefix, buildPrefix, out: join(tmp, 'out'), version: 'e2e' });
  tarball = r.tarball;
  assert.ok(existsSync(tarball));
  assert.is(r.leaks.filter((h) => !h.allowedBy).length, 0);
});

const shortBase = (() => {
  // shorter than the build prefix: try the temp dir, then a directory at /
  let d = realpathSync(mkdtempSync(join(tmpdir(), 's')));
  if (join(d, 't').length >= buildPrefix.length) {
    rmSync(d, { recursive: true });
    d = mkdtempSync('/m');
  }
  return d;
})();
// the shorter one is unpacked with plain `tar xzf`, the longer with `mpistack install`
const places = [
  { name: 'shorter', root: join(shortBase, 't') },
  { name: 'longer', root: join(tmp, 'a-considerably-longer-directory-name-than-the-build-prefix', 'nested', 'mpistack') },
];

for (const place of places) {
  test(`${place.name} path than the build prefix: runs with the build prefix hidden`, async () => {
    if (place.name === 'shorter') assert.ok(place.root.length < buildPrefix.length, `${place.root} is not shorter than ${buildPrefix}`);
    else assert.ok(place.root.length > buildPrefix.length);
    const dest = join(tmp, `dest-${place.name}`);
    let installed: string;
    if (place.name === 'shorter') {
      // the user's way on a node: plain tar, no tools of ours
      mkdirSync(dest, { recursive: true });
      const x = await runLimited('tar', ['xzf', tarball, '-C', dest]);
      assert.is(x.code, 0, x.stderr);
      installed = join(dest, 'mpistack');
    } else {
      installed = (await install({ tarball, dest })).root;
    }
    mkdirSync(join(place.root, '..'), { recursive: true });
    renameSync(installed, place.root);
    const root = place.root;
    const work = join(tmp, `work-${place.name}`);
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, 'ring.c'), RING_C);
    writeFileSync(join(work, 'hello.cxx'), HELLO_CXX);
    const script = join(work, 'check.sh');
    const hide = [...new Set([buildPrefix, prefix])].filter((h) => existsSync(h));
    writeFileSync(script, checkScript(root, work, hide));
    const r = await runLimited('unshare', ['-m', '--propagation', 'private', 'bash', script], {
      env: mpirunEnv({ PATH: '/usr/local/bin:/usr/bin:/bin', HOME: process.env.HOME }),
      timeoutMs: 15 * 60_000,
    });
    const out = r.stdout + r.stderr;
    assert.not.ok(r.timedOut, 'check script timed out');
    assert.not.match(out, /@@fail/, out);
    assert.match(out, /@@end/, out);
    assert.is(section(out, 'which').trim(), `${root}/bin/mpirun ${root}/bin/mpicc ${root}/bin/node`);
    // the tree finds itself: env.sh sets no OPAL_PREFIX, and ompi_info names the tree all the same
    assert.is(section(out, 'opal').trim(), 'unset');
    assert.is(section(out, 'prefix').trim(), `path:prefix:${root}`);
    assert.match(section(out, 'ompi_info'), /MPI_THREAD_MULTIPLE: yes/);
    const showme = section(out, 'showme');
    assert.ok(showme.includes(`-L${root}/lib`) && !showme.includes(buildPrefix), `mpicc -showme: ${showme}`);
    assert.is(realpathSync(section(out, 'pkgconfig').trim()), realpathSync(join(root, 'lib')));
    assert.match(section(out, 'ring'), /ring 4 of 4 provided=3/, out);
    assert.match(section(out, 'ring'), /@@rc 0/);
    assert.match(section(out, 'hello'), /hello from 0 sum 1/, out);
    assert.match(section(out, 'hello'), /@@rc 0/);
    assert.is(section(out, 'node').trim(), `${root}/bin/node`);
    if (mpi4pyPython) {
      // python -c 'from mpi4py import MPI' at the new path: the tree's mpi4py, the tree's libmpi
      const [file, libmpi] = section(out, 'mpi4py').trim().split('\n');
      assert.match(file, new RegExp(`^${root}/lib/python3\\.\\d+/site-packages/mpi4py/__init__\\.py$`), out);
      assert.ok(libmpi.startsWith(`${root}/lib/`), `mpi4py's libmpi: ${libmpi}`);
    }

    // ldd: every dependency of every ELF file resolves, inside the tree or to the base system
    const ldd = section(out, 'ldd')
      .split('\n')
      .filter((l) => l.includes('=>') || l.includes('not found'));
    assert.ok(ldd.length > 100, `too few ldd lines (${ldd.length})`);
    const badLdd = badLddLines(ldd, root);
    assert.equal(badLdd, [], badLdd.join('\n'));
    const ringLibmpi = ldd.find((l) => l.startsWith(`${work}/ring: `) && l.includes(`${LIBMPI} =>`));
    assert.ok(ringLibmpi?.includes(`=> ${root}/lib/${LIBMPI}`), `ring's libmpi: ${ringLibmpi}`);

    // /proc/<pid>/maps of each running rank: MPI and every plugin it loaded came from the tree
    for (let rank = 0; rank < 4; rank++) {
      const maps = readFileSync(join(work, `maps.${rank}`), 'utf8')
        .split('\n')
        .map((l) => l.trim().split(/\s+/)[5] ?? '')
        .filter((p) => /\.so(\.|$)/.test(p));
      const uniq = [...new Set(maps)];
      assert.ok(
        uniq.some((p) => p === realpathSync(join(root, 'lib', LIBMPI))),
        `rank ${rank} has no tree libmpi: ${uniq.join(' ')}`,
      );
      assert.ok(
        uniq.some((p) => p.startsWith(`${root}/lib/openmpi/mca_`)),
        `rank ${rank} loaded no plugin from the tree`,
      );
      const bad = uniq.filter((p) => !libOk(p, root));
      assert.equal(bad, [], `rank ${rank} mapped libraries from outside the tree: ${bad.join(' ')}`);
    }
  });
}

test('control: a plain copy of the prefix (no pack) fails the same ldd check', async () => {
  // proves the check above can fail: without $ORIGIN RPATHs a moved tree
  // resolves libmpi from the system (or not at all) once the build prefix is gone
  const root = join(tmp, 'naive', 'mpistack');
  mkdirSync(join(tmp, 'naive'), { recursive: true });
  const cp = await runLimited('cp', ['-a', prefix, root]);
  assert.is(cp.code, 0, cp.stderr);
  const hide = [...new Set([buildPrefix, prefix])].filter((h) => existsSync(h));
  const script = join(tmp, 'naive', 'check.sh');
  writeFileSync(
    script,
    [
      ...hide.map((h) => `mount -t tmpfs -o size=1m mpistack-hidden '${h}' || exit 90`),
      'unset LD_LIBRARY_PATH',
      `export OPAL_PREFIX='${root}'`,
      `ldd '${root}/bin/ompi_info' '${root}/bin/orted' 2>&1`,
    ].join('\n'),
  );
  const r = await runLimited('unshare', ['-m', '--propagation', 'private', 'bash', script], { timeoutMs: 120_000 });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const ldd = r.stdout.split('\n').filter((l) => l.includes('=>') || l.includes('not found'));
  const bad = badLddLines(ldd, root);
  assert.ok(
    bad.some((l) => /libmpi\.so\.\d+|libopen-pal\.so\.\d+/.test(l)),
    `expected libmpi/libopen-pal from outside the tree:\n${r.stdout}`,
  );
});

test.after(() => {
  rmSync(tmp, { recursive: true, force: true });
  rmSync(shortBase, { recursive: true, force: true });
});
test.run();
