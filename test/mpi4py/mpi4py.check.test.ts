// The mpi4py sanity check itself (the seed's 4.2.4-4.2.5: rank 0 sends a
// dictionary, rank 1 prints it; plus Query_thread, get_config()['mpicc'],
// where mpi4py came from and which libmpi the ranks mapped), run for real at 2
// ranks under Debian's mpirun with Debian's python3-mpi4py: it passes when told
// that is the expected install, and the same output fails, naming each
// problem, when the stack's prefix is expected (a system mpi4py is exactly
// what the check must catch).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { CHECK_DICT, CHECK_PROGRAM, checkArgs, checkMpi4py, DEFAULT_PYTHON, judgeCheck } from '../../recipes/mpi4py.js';
import { makeShell } from '../../scripts/engine/shell.js';
import { SanityError } from '../../recipes/kit/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'mpistack-mpi4py-check-'));
const shell = makeShell('mpi4py', 'check', join(tmp, 'check.log'));
// Debian's python3-mpi4py and Open MPI (scripts/install-prereqs.sh)
const sysSite = dirname(dirname(execFileSync(DEFAULT_PYTHON, ['-c', 'import mpi4py; print(mpi4py.__file__)'], { encoding: 'utf8' }).trim()));
const sysLibmpi = execFileSync('sh', ['-c', `readlink -f "$(ldconfig -p | sed -n 's/.*libmpi.so.40 (libc6,x86-64) => //p' | head -1)"`], {
  encoding: 'utf8',
}).trim();
const sysMpicc = execFileSync(DEFAULT_PYTHON, ['-c', 'import mpi4py; print(mpi4py.get_config()["mpicc"])'], { encoding: 'utf8' }).trim();
const sysPrefix = '/usr';

test('at 2 ranks: rank 1 prints the dictionary rank 0 sent; thread level, mpicc, import location and libmpi reported', async () => {
  const report = await checkMpi4py({
    python: DEFAULT_PYTHON,
    siteDir: sysSite,
    mpiPrefix: sysPrefix,
    mpicc: sysMpicc,
    workDir: tmp,
    shell,
    env: process.env,
    libDir: dirname(sysLibmpi),
  });
  assert.equal(report.received, CHECK_DICT);
  assert.is(report.infos.length, 2);
  for (const i of report.infos) {
    assert.ok(i.file.startsWith(`${sysSite}/mpi4py/`), i.file);
    assert.is(i.size, 2);
    assert.ok(i.libmpi.length > 0);
  }
});

test('the same output judged against a stack prefix: imported from elsewhere, another libmpi and mpicc, each named', async () => {
  const out = await shell.run('mpirun', ['-n', '2', DEFAULT_PYTHON, join(tmp, CHECK_PROGRAM), ...checkArgs()], {
    cwd: tmp,
    env: {
      ...process.env,
      OMPI_ALLOW_RUN_AS_ROOT: '1',
      OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
      OMPI_MCA_btl_vader_single_copy_mechanism: 'none',
      PYTHONPATH: sysSite,
    },
    capture: true,
  });
  const j = judgeCheck(out, { siteDir: '/stack/prefix/lib/python3.11/site-packages', libDir: '/stack/prefix/lib', mpicc: '/stack/prefix/bin/mpicc', ranks: 2 });
  const text = j.problems.join('\n');
  assert.match(text, /rank 0 imported mpi4py from .*, not \/stack\/prefix\/lib\/python3\.11\/site-packages/);
  assert.match(text, /rank 1 mapped libmpi .*not from \/stack\/prefix\/lib/);
  assert.match(text, /get_config\(\)\['mpicc'\] is .*, not \/stack\/prefix\/bin\/mpicc/);
  assert.not.match(text, /rank 1 printed/, 'the dictionary itself arrived');
});

test('a missing or wrong dictionary fails the check', () => {
  const one = (rank: number, thread = true) => ({
    rank,
    size: 2,
    file: '/p/s/mpi4py/__init__.py',
    thread_multiple: thread,
    mpicc: '/p/bin/mpicc',
    libmpi: ['/p/lib/libmpi.so.40.30.4'],
  });
  const infos = (...xs: object[]) => `mpi4py-infos ${JSON.stringify(xs)}`;
  const o = { siteDir: '/p/s', libDir: '/p/lib', mpicc: '/p/bin/mpicc', ranks: 2 };
  assert.equal(judgeCheck(`${infos(one(0), one(1))}\nmpi4py-recv {"answer": 42, "greeting": "hello from rank 0", "squares": [0, 1, 4, 9]}\n`, o).problems, []);
  assert.match(judgeCheck(`${infos(one(0), one(1))}\n`, o).problems.join(), /rank 1 printed nothing/);
  assert.match(judgeCheck(`${infos(one(0), one(1))}\nmpi4py-recv {"answer": 41}\n`, o).problems.join(), /rank 1 printed \{"answer": 41\}/);
  assert.match(
    judgeCheck(`${infos(one(0))}\nmpi4py-recv {"answer": 42, "greeting": "hello from rank 0", "squares": [0, 1, 4, 9]}\n`, o).problems.join(),
    /1 of 2 ranks reported/,
  );
  assert.match(
    judgeCheck(`${infos(one(0, false), one(1))}\nmpi4py-recv {"answer": 42, "greeting": "hello from rank 0", "squares": [0, 1, 4, 9]}\n`, o).problems.join(),
    /not MPI_THREAD_MULTIPLE/,
  );
});

test('checkMpi4py throws a SanityError naming the problems when the install is not the expected one', async () => {
  let err: unknown;
  try {
    await checkMpi4py({
      python: DEFAULT_PYTHON,
      siteDir: sysSite,
      mpiPrefix: sysPrefix,
      mpicc: '/stack/prefix/bin/mpicc',
      workDir: tmp,
      shell,
      env: process.env,
      libDir: dirname(sysLibmpi),
    });
  } catch (e) {
    err = e;
  }
  assert.instance(err, SanityError);
  assert.match((err as Error).message, /get_config\(\)\['mpicc'\] is .*not \/stack\/prefix\/bin\/mpicc/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
