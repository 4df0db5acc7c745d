// toolchain.cmake finds its tree from its own location: the same file, copied
// into two trees (one moved after the first run), names each tree's wrappers,
// MPI_HOME and Boost_ROOT; an explicit -DMPISTACK_ROOT wins. The recipe
// installs it as share/mpistack/toolchain.cmake after Boost, and the file
// travels unchanged through pack (no build path in it).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allRecipes } from '../../recipes/index.js';
import { TOOLCHAIN_FILE, TOOLCHAIN_SOURCE, toolchain } from '../../recipes/toolchain.js';
import { rewriteTextFiles } from '../../scripts/pack/text.js';
import { packageRoot } from '../../scripts/foundation/package.js';
import { selectRecipes } from '../../scripts/engine/plan.js';

const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'mpistack-toolchain-')));
const source = join(packageRoot(), TOOLCHAIN_SOURCE);
const SHOW = `include("\${TC}")
foreach(v MPISTACK_ROOT CMAKE_C_COMPILER CMAKE_CXX_COMPILER CMAKE_Fortran_COMPILER MPI_HOME Boost_ROOT MPIEXEC_EXECUTABLE)
  message("\${v}=\${\${v}}")
endforeach()
message("OPAL_PREFIX=$ENV{OPAL_PREFIX}")
`;

function tree(dir: string, fortran: boolean): string {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'share/mpistack'), { recursive: true });
  if (fortran) writeFileSync(join(dir, 'bin/mpifort'), '');
  copyFileSync(source, join(dir, TOOLCHAIN_FILE));
  return join(dir, TOOLCHAIN_FILE);
}

function show(tc: string, extra: string[] = []): Record<string, string> {
  writeFileSync(join(tmp, 'show.cmake'), SHOW);
  const env = { ...process.env };
  delete env.OPAL_PREFIX;
  // cmake -P prints message() on stderr
  const out = execFileSync('sh', ['-c', 'cmake "$@" 2>&1', 'sh', `-DTC=${tc}`, ...extra, '-P', join(tmp, 'show.cmake')], { encoding: 'utf8', env });
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

test("computed from the file's own location, before and after the tree moves", () => {
  const a = join(tmp, 'a', 'mpistack');
  let v = show(tree(a, true));
  assert.is(v.MPISTACK_ROOT, a);
  assert.is(v.CMAKE_C_COMPILER, `${a}/bin/mpicc`);
  assert.is(v.CMAKE_CXX_COMPILER, `${a}/bin/mpicxx`);
  assert.is(v.CMAKE_Fortran_COMPILER, `${a}/bin/mpifort`);
  assert.is(v.MPI_HOME, a);
  assert.is(v.Boost_ROOT, a);
  assert.is(v.MPIEXEC_EXECUTABLE, `${a}/bin/mpiexec`);
  assert.is(v.OPAL_PREFIX, a, 'configure-time wrapper calls find the moved tree');
  const b = join(tmp, 'elsewhere', 'deeper', 'mpistack');
  mkdirSync(join(b, '..'), { recursive: true });
  renameSync(a, b);
  v = show(join(b, TOOLCHAIN_FILE));
  assert.is(v.MPISTACK_ROOT, b);
  assert.is(v.CMAKE_CXX_COMPILER, `${b}/bin/mpicxx`);
});

test('no mpifort in the tree: no Fortran compiler set; -DMPISTACK_ROOT overrides the location', () => {
  const c = join(tmp, 'c');
  const v = show(tree(c, false));
  assert.is(v.CMAKE_Fortran_COMPILER, '');
  assert.is(show(join(c, TOOLCHAIN_FILE), ['-DMPISTACK_ROOT=/opt/other']).CMAKE_CXX_COMPILER, '/opt/other/bin/mpicxx');
});

test('the recipe: installed after Boost, prefix-independent; pack leaves the file as it is', () => {
  assert.equal(
    selectRecipes(allRecipes).map((r) => r.name),
    ['ucx', 'libfabric', 'openmpi', 'boost', 'node-mpi', 'runtime', 'toolchain'],
  );
  assert.equal(toolchain.dependencies, ['boost']);
  assert.ok(toolchain.prefixIndependent);
  const d = join(tmp, 'packed');
  tree(d, false);
  const before = readFileSync(join(d, TOOLCHAIN_FILE), 'utf8');
  assert.equal(rewriteTextFiles(d, [TOOLCHAIN_FILE], { aliases: [d], others: [] }), []);
  assert.is(readFileSync(join(d, TOOLCHAIN_FILE), 'utf8'), before);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
