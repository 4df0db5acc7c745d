// Python pieces in a packed tree (mpi4py): mpi4py's mpi.cfg names the
// wrappers bare (found on PATH from env.sh) instead of the build prefix,
// __pycache__ bytecode (which records the build path) is removed, env.sh and
// the modulefiles put lib/python3.X/site-packages on PYTHONPATH, and a package
// there imports from the unpacked tree; no build path is left behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pack, pythonPathDirs } from '../../scripts/pack/pack.js';
import { rewriteTextFiles } from '../../scripts/pack/text.js';
import { DEFAULT_PYTHON } from '../../recipes/mpi4py.js';
import { makeFixture } from './fixture.js';

const fx = makeFixture('python');
const site = 'lib/python3.11/site-packages';

test('mpi.cfg: wrappers by name; bytecode removed; PYTHONPATH in env.sh, Lmod and Tcl files; imports from the tree', async () => {
  const pkg = join(fx.prefix, site, 'mpi4py');
  mkdirSync(join(pkg, '__pycache__'), { recursive: true });
  writeFileSync(join(pkg, 'mpi.cfg'), `# Open MPI\n[mpi]\nmpicc = ${fx.prefix}/bin/mpicc\nmpicxx = ${fx.prefix}/bin/mpicxx\n`);
  writeFileSync(
    join(pkg, '__init__.py'),
    'import os\ndef get_config():\n    import configparser\n    p = configparser.ConfigParser()\n    p.read(os.path.join(os.path.dirname(__file__), "mpi.cfg"))\n    return dict(p.items("mpi"))\n',
  );
  // bytecode is binary and records the source path
  writeFileSync(
    join(pkg, '__pycache__', '__init__.cpython-311.pyc'),
    Buffer.concat([Buffer.from([0xa7, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0]), Buffer.from(`${fx.prefix}/${site}/mpi4py/__init__.py`)]),
  );
  assert.equal(pythonPathDirs(fx.prefix), [site]);

  const r = await pack({ prefix: fx.prefix, out: join(fx.tmp, 'out'), node: process.execPath, keepStaging: true });
  const root = r.staging!;
  assert.is(readFileSync(join(root, site, 'mpi4py/mpi.cfg'), 'utf8'), '# Open MPI\n[mpi]\nmpicc = mpicc\nmpicxx = mpicxx\n');
  assert.not.ok(existsSync(join(root, site, 'mpi4py/__pycache__/__init__.cpython-311.pyc')));
  assert.ok(r.text.some((a) => a.rule === 'Python bytecode removed'));
  assert.ok(r.text.some((a) => a.rule === 'mpi4py mpi.cfg: wrappers by name'));
  assert.equal(
    r.leaks.filter((h) => !h.allowedBy),
    [],
  );
  assert.match(readFileSync(join(root, 'env.sh'), 'utf8'), /_mps_prepend PYTHONPATH "\$\{_mps_root\}\/lib\/python3\.11\/site-packages"/);
  assert.match(
    readFileSync(join(root, 'share/lmod/mpistack', `${r.version}.lua`), 'utf8'),
    /prepend_path\("PYTHONPATH", pathJoin\(root, "lib\/python3\.11\/site-packages"\)\)/,
  );
  assert.match(readFileSync(join(root, 'share/modulefiles/mpistack', r.version), 'utf8'), /prepend-path PYTHONPATH \$root\/lib\/python3\.11\/site-packages/);

  const out = execFileSync(
    'bash',
    ['-c', `. '${root}/env.sh'; echo "$PYTHONPATH"; '${DEFAULT_PYTHON}' -c 'import mpi4py; print(mpi4py.__file__); print(mpi4py.get_config()["mpicc"])'`],
    {
      env: { PATH: '/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1' },
      encoding: 'utf8',
    },
  )
    .trim()
    .split('\n');
  assert.equal(out, [`${root}/${site}`, `${root}/${site}/mpi4py/__init__.py`, 'mpicc']);
  rmSync(join(fx.tmp, 'out'), { recursive: true });
});

test('a setting other than a wrapper path is left for the leak check', () => {
  const dir = join(fx.tmp, 'rule');
  mkdirSync(join(dir, site, 'mpi4py'), { recursive: true });
  writeFileSync(join(dir, site, 'mpi4py/mpi.cfg'), '[mpi]\nmpicc = /b/p/bin/mpicc\ninclude_dirs = /b/p/include\n');
  rewriteTextFiles(dir, [`${site}/mpi4py/mpi.cfg`], { aliases: ['/b/p'], others: [] });
  assert.is(readFileSync(join(dir, site, 'mpi4py/mpi.cfg'), 'utf8'), '[mpi]\nmpicc = mpicc\ninclude_dirs = /b/p/include\n');
});

test('no site-packages: no PYTHONPATH line', () => {
  assert.equal(pythonPathDirs(join(fx.tmp, 'nothing-here')), []);
});

test.after(() => rmSync(fx.tmp, { recursive: true, force: true }));
test.run();
