// Boost recipe data: version ranges resolve to the right tool, bootstrap and
// b2 arguments and user-config for each version in the table.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { b2CommandLine, userConfigText } from '../../recipes/builders/b2.js';
import { boost, boostRecipe, defaultVersion, expectedFiles, plan, ranges, versions } from '../../recipes/boost.js';
import { allRecipes } from '../../recipes/index.js';
import { findVersion, pick } from '../../recipes/kit/index.js';
import { resolveInputs, selectRecipes } from '../../scripts/engine/plan.js';

const prefix = '/stack/prefix';

test('versions table: 1.41.0, 1.81.0 (default, with the Debian source package), 1.83.0, each with a sha256', () => {
  assert.equal(
    versions.map((v) => v.version),
    ['1.41.0', '1.81.0', '1.83.0'],
  );
  assert.is(defaultVersion, '1.81.0');
  assert.is(findVersion(boost).version, '1.81.0');
  for (const v of versions) {
    const up = v.sources[0];
    assert.is(up.kind, 'url', `${v.version}: upstream first`);
    assert.match(up.sha256, /^[0-9a-f]{64}$/, `${v.version} sha256`);
    if (up.kind === 'url') {
      assert.ok(up.url.startsWith('https://') && up.url.endsWith(`boost_${v.version.replaceAll('.', '_')}.tar.bz2`), `${v.version} url ${up.url}`);
      assert.is(up.filename, `boost_${v.version.replaceAll('.', '_')}.tar.bz2`);
    }
  }
  assert.equal(versions.find((v) => v.version === '1.81.0')!.sources[1], {
    kind: 'debian',
    name: 'boost1.81',
    version: '1.81.0-5+deb12u1',
    filename: 'boost1.81_1.81.0.orig.tar.xz',
    sha256: '449afecf5ef98edc0a46826cde6af98d1fb95c2e92962fa8c9e3eb1e8a2928ec',
  });
  assert.equal(
    versions.filter((v) => v.version !== '1.81.0').map((v) => v.sources.length),
    [1, 1],
    '1.41.0 and 1.83.0: upstream only',
  );
  const all = versions.flatMap((v) => v.sources.map((s) => s.sha256));
  assert.is(new Set(all).size, all.length, 'no copy-pasted checksum');
});

test('registered right after openmpi (itself after ucx and libfabric) in the default stack, which it depends on', () => {
  assert.equal(boost.dependencies, ['openmpi']);
  assert.equal(
    selectRecipes(allRecipes)
      .map((r) => r.name)
      .slice(2, 4),
    ['openmpi', 'boost'],
  );
  assert.is(boost.builder.name, 'b2');
});

test('configureArgs (dry run, cache key) carry the whole plan and change with the prefix', () => {
  const a = resolveInputs(boost, '/a').configureArgs;
  assert.ok(a.includes('bootstrap.sh --with-libraries=mpi,serialization'));
  assert.ok(a.includes('user-config.jam: using mpi : /a/bin/mpicxx ;'));
  assert.ok(a.includes('b2 dll-path=/a/lib'));
  assert.ok(a.includes('b2 link=shared'));
  assert.not.equal(resolveInputs(boost, '/b').configureArgs, a);
  assert.ok(resolveInputs(boostRecipe({ python: '/usr/bin/python3' }), '/a').configureArgs.includes('bootstrap.sh --with-python=/usr/bin/python3'));
});

test('every range entry says why', () => {
  for (const [name, table] of Object.entries(ranges)) {
    for (const r of table as { range: string; why: string }[]) assert.ok(r.why.length > 10, `${name} ${r.range}`);
  }
});

test('1.41.0 uses bjam and appends to tools/build/v2/user-config.jam (the seed), no --user-config flag', () => {
  const p = plan('1.41.0', { prefix });
  assert.is(p.tool, 'bjam');
  assert.equal(p.userConfig, { path: 'tools/build/v2/user-config.jam', mode: 'append', passFlag: false });
  const cmd = b2CommandLine(p, '/src', { jobs: 2, installPrefix: '/stage/stack/prefix' });
  assert.is(cmd[0], './bjam');
  assert.not.ok(cmd.some((a) => a.startsWith('--user-config')));
  assert.not.ok(cmd.includes('--ignore-site-config'));
  assert.is(p.grammar, undefined);
  assert.is(p.cmakeConfigs, false);
  assert.not.ok(expectedFiles('1.41.0').some((f) => f.includes('cmake')));
});

for (const version of ['1.81.0', '1.83.0']) {
  test(`${version} uses b2 with a private user-config.jam, the grammar hook and CMake configs`, () => {
    const p = plan(version, { prefix });
    assert.is(p.tool, 'b2');
    assert.equal(p.userConfig, { path: 'user-config.jam', mode: 'write', passFlag: true });
    assert.equal(p.grammar, { dir: 'tools/build/src/engine', input: 'jamgram.y', output: 'jamgram.cpp' });
    assert.is(p.cmakeConfigs, true);
    const cmd = b2CommandLine(p, '/src', { jobs: 2, installPrefix: '/stage/stack/prefix' });
    assert.equal(cmd, [
      './b2',
      '--user-config=/src/user-config.jam',
      'link=shared',
      'threading=multi',
      'variant=release',
      '--layout=system',
      '--debug-configuration',
      '--ignore-site-config',
      'dll-path=/stack/prefix/lib',
      '-j2',
      '--prefix=/stage/stack/prefix',
      'install',
    ]);
    assert.ok(expectedFiles(version).includes(`lib/cmake/Boost-${version}/BoostConfig.cmake`));
  });
}

test('bootstrap: mpi and serialization only, explicit toolset, no ICU; python only when asked', () => {
  const p = plan('1.81.0', { prefix });
  assert.equal(p.bootstrapArgs, ['--with-libraries=mpi,serialization', '--with-toolset=gcc', '--without-icu', '--prefix=/stack/prefix']);
  assert.not.ok(p.userConfigLines.some((l) => l.includes('python')));
  const py = plan('1.81.0', { prefix, python: '/usr/bin/python3' });
  assert.ok(py.bootstrapArgs.includes('--with-libraries=mpi,serialization,python'));
  assert.ok(py.bootstrapArgs.includes('--with-python=/usr/bin/python3'));
  assert.ok(py.userConfigLines.includes('using python : : /usr/bin/python3 ;'));
});

test("user-config names the prefix's own mpicxx by absolute path, never a bare or system wrapper", () => {
  for (const v of versions) {
    const text = userConfigText(plan(v.version, { prefix }));
    assert.match(text, /^using mpi : \/stack\/prefix\/bin\/mpicxx ;$/m);
    assert.not.match(text, /using mpi ;/);
    assert.not.match(text, /\/usr\/bin\/mpi/);
  }
});

test('a version outside every range is an error, not a silent default', () => {
  assert.throws(() => pick(ranges.tool, 'not-a-version', 'b2 tool'), /no b2 tool entry/);
});

test.run();
