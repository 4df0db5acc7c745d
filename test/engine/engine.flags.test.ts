// Version ranges -> configure flags, for every version the recipe lists and
// the series boundaries the ranges encode.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { configureArgs, configureTable, versions } from '../../recipes/openmpi.js';
import { openmpi } from '../../recipes/openmpi.js';
import { resolveInputs } from '../../scripts/engine/plan.js';

const has = (args: string[], ...flags: string[]) => flags.every((f) => args.includes(f));

test('1.6.5 (the seed): both thread flags, f77 + f90, orterun prefix', () => {
  const a = configureArgs('1.6.5');
  assert.ok(
    has(
      a,
      '--enable-mpi-thread-multiple',
      '--enable-opal-multi-threads',
      '--enable-mpi-f77',
      '--enable-mpi-f90',
      '--enable-orterun-prefix-by-default',
      '--with-hwloc=internal',
    ),
    a.join(' '),
  );
  assert.not.ok(a.includes('--enable-mpi-fortran'));
  assert.not.ok(
    a.some((x) => x.startsWith('--with-pmix')),
    'no PMIx in 1.6',
  );
});

test('1.7-2.x: only --enable-mpi-thread-multiple, one Fortran flag', () => {
  for (const v of ['1.7.0', '1.10.7', '2.1.6']) {
    const a = configureArgs(v);
    assert.ok(has(a, '--enable-mpi-thread-multiple', '--enable-mpi-fortran'), `${v}: ${a.join(' ')}`);
    assert.not.ok(a.includes('--enable-opal-multi-threads'), v);
    assert.not.ok(a.includes('--enable-mpi-f77'), v);
  }
});

test('4.1.4 and 4.1.6: no thread flag (always on), internal hwloc/libevent/pmix, orterun prefix', () => {
  for (const v of ['3.0.0', '4.1.4', '4.1.6']) {
    const a = configureArgs(v);
    assert.not.ok(a.includes('--enable-mpi-thread-multiple'), v);
    assert.ok(
      has(
        a,
        '--enable-mpi-fortran',
        '--with-hwloc=internal',
        '--with-libevent=internal',
        '--with-pmix=internal',
        '--enable-orterun-prefix-by-default',
        '--without-ucx',
      ),
      `${v}: ${a.join(' ')}`,
    );
    assert.not.ok(a.includes('--enable-prte-prefix-by-default'), v);
  }
});

test('5.0.x: PRRTE prefix flag instead of the ORTE one, internal PRRTE, no verbs option', () => {
  const latest = versions.filter((v) => v.version.startsWith('5.0.')).map((v) => v.version);
  assert.is(latest.length, 1);
  const a = configureArgs(latest[0]);
  assert.ok(has(a, '--enable-prte-prefix-by-default', '--with-prrte=internal', '--enable-mpi-fortran'), a.join(' '));
  assert.not.ok(a.includes('--enable-orterun-prefix-by-default'));
  assert.not.ok(a.includes('--without-verbs'));
});

test('every range entry says why; every version has a sha256 on every source', () => {
  for (const r of configureTable) assert.ok(r.why.length > 10, r.range);
  for (const v of versions) for (const s of v.sources) assert.match(s.sha256, /^[0-9a-f]{64}$/, `${v.version} ${s.filename}`);
  assert.equal(
    versions.map((v) => v.version),
    ['1.6.5', '4.1.4', '4.1.6', '5.0.10'],
  );
});

test('4.1.4 is the default and has upstream then the Debian source package', () => {
  const inp = resolveInputs(openmpi, '/opt/x');
  assert.is(inp.version, '4.1.4');
  assert.equal(
    inp.sources.map((s) => s.kind),
    ['url', 'debian'],
  );
  const deb = inp.sources[1];
  assert.ok(deb.kind === 'debian' && deb.name === 'openmpi' && deb.version === '4.1.4-3');
  assert.is(inp.sources[0].kind === 'url' && inp.sources[0].url.endsWith('/v4.1/openmpi-4.1.4.tar.bz2'), true);
  assert.equal(resolveInputs(openmpi, '/opt/x'), resolveInputs(openmpi, '/opt/x'), 'pure');
});

test.run();
