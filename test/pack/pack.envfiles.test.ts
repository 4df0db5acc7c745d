// env.sh finds its tree from its own path in bash (relative path, through a
// symlinked directory, sourced twice), in dash with MPISTACK_ROOT, refuses
// loudly in dash without it; the Tcl modulefile computes the same root.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envSh, lmodFile, tclFile, type EnvSpec } from '../../scripts/pack/envfiles.js';

const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'mpistack-env-')));
const root = join(tmp, 'a b', 'mpistack'); // a space in the path, on purpose
const spec: EnvSpec = { version: '1.0.0', ompiMajor: 4, hasManDir: true, pkgConfigDirs: ['lib/pkgconfig'], needsLdLibraryPath: false };
mkdirSync(join(root, 'share/modulefiles/mpistack'), { recursive: true });
writeFileSync(join(root, 'env.sh'), envSh(spec));
writeFileSync(join(root, 'share/modulefiles/mpistack/1.0.0'), tclFile(spec));
symlinkSync(join(tmp, 'a b'), join(tmp, 'link'));

const show = 'printf "%s|%s|%s|%s|%s\\n" "$OPAL_PREFIX" "$PATH" "$MANPATH" "$PKG_CONFIG_PATH" "${LD_LIBRARY_PATH-unset}"';
const sh = (shell: string, script: string, env: NodeJS.ProcessEnv = {}) =>
  execFileSync(shell, ['-c', script], { cwd: tmp, env: { PATH: '/usr/bin:/bin', ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('bash: relative path, symlinked directory, sourced twice', () => {
  const [opal, path, man, pkg, ld] = sh('bash', `. "a b/mpistack/env.sh"; . "./link/mpistack/env.sh"; ${show}`).trim().split('|');
  assert.is(opal, root);
  assert.is(path, `${root}/bin:/usr/bin:/bin`);
  assert.is(man, `${root}/share/man:`);
  assert.is(pkg, `${root}/lib/pkgconfig`);
  assert.is(ld, 'unset');
});

test('dash: works with MPISTACK_ROOT, refuses without it', () => {
  const out = sh('dash', `MPISTACK_ROOT="${root}" . "${root}/env.sh"; ${show}`).trim().split('|');
  assert.is(out[0], root);
  const r = execFileSync('dash', ['-c', `. "${root}/env.sh" 2>&1; ${show}`], { env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
  assert.match(r, /cannot tell where this file is/);
  assert.match(r, /^\|\/usr\/bin:\/bin\|/m);
});

test('5.x trees also set PMIX_PREFIX and PRTE_PREFIX', () => {
  const five = envSh({ ...spec, ompiMajor: 5 });
  assert.match(five, /export PMIX_PREFIX="\$\{_mps_root\}"/);
  assert.match(five, /export PRTE_PREFIX="\$\{_mps_root\}"/);
  assert.not.match(envSh(spec), /PRTE_PREFIX/);
  assert.match(lmodFile({ ...spec, ompiMajor: 5 }), /setenv\("PRTE_PREFIX", root\)/);
});

test('a self-locating tree: env.sh and both modulefiles set no OPAL_PREFIX (nor 5.x PMIX/PRTE_PREFIX), still PATH', () => {
  for (const major of [4, 5]) {
    const self = { ...spec, ompiMajor: major, selfLocating: true };
    assert.not.match(envSh(self), /_PREFIX/);
    assert.not.match(lmodFile(self), /_PREFIX/);
    assert.not.match(tclFile(self), /_PREFIX/);
    assert.match(envSh(self), /_mps_prepend PATH "\$\{_mps_root\}\/bin"/);
  }
  const dir = join(tmp, 'self', 'mpistack');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'env.sh'), envSh({ ...spec, selfLocating: true }));
  const [opal, path] = sh('bash', `. "${dir}/env.sh"; ${show}`).trim().split('|');
  assert.is(opal, '');
  assert.is(path, `${dir}/bin:/usr/bin:/bin`);
});

test('Tcl modulefile computes the tree from its own path', () => {
  // minimal stand-ins for the modulecmd commands the file uses
  const stub = [
    'proc setenv {k v} { puts "setenv $k=$v" }',
    'proc prepend-path {k v} { puts "prepend $k=$v" }',
    'proc module-whatis {args} {}',
    'proc conflict {args} {}',
    `set ModulesCurrentModulefile {${join(tmp, 'link/mpistack/share/modulefiles/mpistack/1.0.0')}}`,
    `source $ModulesCurrentModulefile`,
  ].join('\n');
  writeFileSync(join(tmp, 'stub.tcl'), stub);
  const out = execFileSync('tclsh', [join(tmp, 'stub.tcl')], { encoding: 'utf8' });
  // file normalize resolves the symlinked directory: the tree's real location
  assert.ok(out.split('\n').includes(`setenv OPAL_PREFIX=${root}`), out);
  assert.ok(out.split('\n').includes(`prepend PATH=${root}/bin`), out);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
