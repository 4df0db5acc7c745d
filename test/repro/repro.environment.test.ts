// The deterministic build environment: an allow-list of the caller's
// variables plus fixed values (in the recipe's resolved env, so in the cache
// key), shims for hostname/whoami/date that really answer what a build must
// see, compiler wrappers that map the build directory, and umask 022.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cacheKey, keyInputs } from '../../scripts/engine/buildcache.js';
import { determinismEnv, stepEnv, writeShims } from '../../scripts/engine/determinism.js';
import { makeShell } from '../../scripts/engine/shell.js';
import { autotools } from '../../recipes/builders/autotools.js';
import { MAPPED_BUILD_DIR, type Recipe } from '../../recipes/kit/index.js';
import { inputsFor } from '../../scripts/engine/plan.js';

const recipe: Recipe = {
  name: 'r',
  description: 'r',
  dependencies: [],
  builder: autotools,
  configureArgs: () => [],
  versions: [{ version: '1.0.0', default: true, sources: [{ kind: 'url', url: 'http://127.0.0.1:9/r.tgz', filename: 'r.tgz', sha256: 'a'.repeat(64) }] }],
  buildEnv: () => ({ MPICC: '/p/bin/mpicc' }),
  check: async () => undefined,
};

test('the fixed values: SOURCE_DATE_EPOCH, UTC, C locale, user and host', () => {
  assert.equal(determinismEnv(1700000000), {
    SOURCE_DATE_EPOCH: '1700000000',
    TZ: 'UTC',
    LC_ALL: 'C',
    LANG: 'C',
    USER: 'mpistack',
    LOGNAME: 'mpistack',
    HOSTNAME: 'mpistack-build',
  });
});

test('a step sees the allow-list, keyed compiler variables and the recipe env; nothing else of the caller', () => {
  const caller = {
    PATH: '/usr/bin:/bin',
    HOME: '/root',
    TMPDIR: '/t',
    npm_config_nodedir: '/n',
    CFLAGS: '-O1',
    TERM: 'xterm',
    DISPLAY: ':0',
    USER: 'alice',
    HOSTNAME: 'laptop',
    LANG: 'de_DE.UTF-8',
    SECRET_TOKEN: 'x',
  };
  const inputs = inputsFor(recipe, { prefix: '/p', sourceDateEpoch: 42 });
  const shims = { bin: '/b/shims/bin', cc: '/b/shims/cc', buildDir: '/b' };
  const conf = stepEnv(caller, inputs.env, shims, 'configure');
  assert.equal(Object.keys(conf).sort(), [
    'CFLAGS',
    'HOME',
    'HOSTNAME',
    'LANG',
    'LC_ALL',
    'LOGNAME',
    'MPICC',
    'PATH',
    'SOURCE_DATE_EPOCH',
    'TMPDIR',
    'TZ',
    'USER',
    'npm_config_nodedir',
  ]);
  assert.is(conf.USER, 'mpistack');
  assert.is(conf.HOSTNAME, 'mpistack-build');
  assert.is(conf.LANG, 'C');
  assert.is(conf.SOURCE_DATE_EPOCH, '42');
  assert.is(conf.MPICC, '/p/bin/mpicc');
  // configure: no compiler wrappers (its compiler tests and recorded compiler paths stay plain)
  assert.is(conf.PATH, ['/b/shims/bin', '/usr/bin', '/bin'].join(delimiter));
  assert.is(stepEnv(caller, inputs.env, shims, 'compile').PATH, ['/b/shims/cc', '/b/shims/bin', '/usr/bin', '/bin'].join(delimiter));
});

test('the deterministic environment is in the cache key: another SOURCE_DATE_EPOCH, another key', () => {
  const key = (sde: number) =>
    cacheKey(
      keyInputs(
        recipe,
        inputsFor(recipe, { prefix: '/p', sourceDateEpoch: sde }),
        { filename: 'r.tgz', sha256: 'a'.repeat(64) },
        { toolchain: { gcc: 'x' }, dependencies: {}, env: { PATH: '/usr/bin' } },
      ),
    );
  assert.is(key(1), key(1));
  assert.is.not(key(1), key(2));
  assert.is(inputsFor(recipe, { prefix: '/p', sourceDateEpoch: 1 }).env.TZ, 'UTC');
});

test('shims: hostname, whoami, date at SOURCE_DATE_EPOCH (an explicit date passes through), cc maps the build directory', () => {
  const buildDir = mkdtempSync(join(tmpdir(), 'mpistack-shims-'));
  return writeShims(buildDir).then((shims) => {
    const inputs = inputsFor(recipe, { prefix: '/p', sourceDateEpoch: 1700000000 });
    const env = stepEnv(process.env, inputs.env, shims, 'compile');
    const sh = (cmd: string) => execFileSync('/bin/sh', ['-c', cmd], { env, encoding: 'utf8', cwd: buildDir }).trim();
    assert.is(sh('hostname'), 'mpistack-build');
    assert.is(sh('whoami'), 'mpistack');
    assert.is(sh('date +%s'), '1700000000');
    assert.is(sh('date'), 'Tue Nov 14 22:13:20 UTC 2023');
    assert.is(sh('date -d @86400 +%s'), '86400');
    const src = join(buildDir, 'src', 'pkg');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'f.c'), '#include <stdio.h>\nint main(void) { puts(__FILE__); return 0; }\n');
    sh(`cc -g -o ${join(src, 'f')} ${join(src, 'f.c')}`);
    assert.is(execFileSync(join(src, 'f'), { encoding: 'utf8' }).trim(), `${MAPPED_BUILD_DIR}/src/pkg/f.c`);
    const strings = execFileSync('strings', ['-a', join(src, 'f')], { encoding: 'utf8' });
    assert.not.ok(strings.includes(buildDir), 'the build directory is in the binary (debug info)');
    // configure-phase PATH: plain compiler
    const conf = stepEnv(process.env, inputs.env, shims, 'configure');
    assert.not.match(execFileSync('/bin/sh', ['-c', 'command -v cc'], { env: conf, encoding: 'utf8' }), buildDir);
  });
});

test("umask 022 for every build command, whatever the caller's", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mpistack-umask-'));
  const old = process.umask(0o077);
  try {
    await makeShell('r', 'build', join(dir, 'log'), { umask: 0o022 }).run('/bin/sh', ['-c', 'echo x > made.txt; mkdir made.d'], {
      cwd: dir,
      env: { PATH: '/usr/bin:/bin' },
    });
    assert.is(statSync(join(dir, 'made.txt')).mode & 0o777, 0o644);
    assert.is(statSync(join(dir, 'made.d')).mode & 0o777, 0o755);
  } finally {
    process.umask(old);
  }
});

test.run();
