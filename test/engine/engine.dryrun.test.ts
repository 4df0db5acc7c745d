// `mpistack build --dry-run` prints the plan and executes nothing; bad
// prefixes fail with a clear message.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'cli.js');
const mpistack = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });

test('plan lists version, sources in order (cache, mirror, upstream, Debian) and configure arguments', () => {
  const root = mkdtempSync(join(tmpdir(), 'mpistack-plan-'));
  const cache = join(root, 'cache');
  const prefix = join(root, 'prefix');
  const r = mpistack('build', '--dry-run', `--prefix=${prefix}`, '--cache', cache, '--mirror', 'http://127.0.0.1:9/m', '--jobs', '2');
  assert.is(r.status, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /openmpi 4\.1\.4 \(builder autotools, after ucx, libfabric\)/);
  const order = [
    'cache ',
    'mirror http://127.0.0.1:9/m/openmpi-4.1.4.tar.bz2',
    'https://download.open-mpi.org/release/open-mpi/v4.1/openmpi-4.1.4.tar.bz2',
    'debian source openmpi=4.1.4-3',
  ];
  const at = order.map((s) => out.indexOf(s));
  assert.ok(
    at.every((i) => i >= 0),
    `missing one of ${order.join(' | ')}:\n${out}`,
  );
  assert.equal(
    [...at].sort((a, b) => a - b),
    at,
    'sources in order',
  );
  assert.match(out, new RegExp(`--prefix=${prefix}\\n`));
  assert.match(out, /--enable-orterun-prefix-by-default/);
  assert.not.ok(existsSync(cache), 'dry run created the cache');
  assert.not.ok(existsSync(prefix), 'dry run created the prefix');
});

test('--openmpi 1.6.5 --offline: the seed flags, and only cache entries as sources', () => {
  const r = mpistack('build', '--dry-run', '--prefix=/opt/mpistack', '--openmpi', '1.6.5', '--offline', '--cache', '/nonexistent/c');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /openmpi 1\.6\.5/);
  assert.match(r.stdout, /--enable-opal-multi-threads/);
  assert.match(r.stdout, /--enable-mpi-f77/);
  assert.not.match(r.stdout, /https:\/\//);
});

test('missing, relative prefix and unknown version fail with a clear message', () => {
  const a = mpistack('build', '--dry-run');
  assert.is(a.status, 2, 'a usage error exits 2 (issue 16: one error root, the exit status on the type)');
  assert.match(a.stderr, /--prefix is required/);
  const b = mpistack('build', '--dry-run', '--prefix=opt/x');
  assert.match(b.stderr, /--prefix must be an absolute path, got 'opt\/x'/);
  const c = mpistack('build', '--dry-run', '--prefix=/opt/x', '--openmpi', '9.9.9');
  assert.match(c.stderr, /unknown version \(known: 1\.6\.5, 4\.1\.4, 4\.1\.6, 5\.0\.10\)/);
});

test.run();
