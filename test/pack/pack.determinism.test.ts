// Same prefix, packed twice (different output directories, different file
// mtimes, a different umask-ish mode on one file) -> byte-identical tarballs;
// the archive carries SOURCE_DATE_EPOCH, uid/gid 0, normalised modes, sorted
// entries and a gzip header without name or time.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pack } from '../../scripts/pack/pack.js';
import { readTarGz, type ReadEntry } from '../../scripts/pack/tar.js';
import { makeFixture } from './fixture.js';

const fx = makeFixture('determinism');
const SDE = 1700000000;

test('pack twice gives identical bytes; header fields are normalised', async () => {
  const a = await pack({ prefix: fx.prefix, out: join(fx.tmp, 'out-a'), node: false, version: '1.2.3', sourceDateEpoch: SDE });
  // disturb what must not matter: mtimes and group/other permission bits
  utimesSync(join(fx.prefix, 'bin/app'), new Date(), new Date(2001, 1, 1));
  chmodSync(join(fx.prefix, 'lib/pkgconfig/fx.pc'), 0o600);
  await new Promise((r) => setTimeout(r, 1100));
  const b = await pack({ prefix: fx.prefix, out: join(fx.tmp, 'out-b-longer-name'), node: false, version: '1.2.3', sourceDateEpoch: SDE });
  assert.is(a.sha256, b.sha256);
  assert.ok(readFileSync(a.tarball).equals(readFileSync(b.tarball)));
  assert.is(readFileSync(join(fx.tmp, 'out-a/SHA256SUMS'), 'utf8'), `${a.sha256}  mpistack-1.2.3-linux-x86_64.tar.gz\n`);

  const gz = readFileSync(a.tarball);
  // ID1 ID2 CM=deflate FLG=0 (no FNAME, no FCOMMENT) MTIME=0 XFL=0 OS=3
  assert.equal([...gz.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);

  const entries: ReadEntry[] = [];
  await readTarGz(a.tarball, async (e) => {
    entries.push(e);
  });
  const paths = entries.map((e) => e.path);
  assert.equal(
    paths,
    [...paths].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)),
  );
  assert.is(paths[0], 'mpistack/');
  for (const e of entries) {
    if (e.type === 'dir') assert.is(e.mode, 0o755, e.path);
    else if (e.type === 'symlink') assert.is(e.mode, 0o777, e.path);
    else assert.ok(e.mode === 0o755 || e.mode === 0o644, `${e.path}: ${e.mode.toString(8)}`);
  }
  assert.is(entries.find((e) => e.path === 'mpistack/lib/pkgconfig/fx.pc')!.mode, 0o644);
  assert.is(entries.find((e) => e.path === 'mpistack/bin/app')!.mode, 0o755);
  // GNU tar's view: owner root/root (uid 0), every mtime = SOURCE_DATE_EPOCH, no pax time records
  const listing = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvzf', a.tarball], { encoding: 'utf8', env: { TZ: 'UTC', PATH: process.env.PATH } });
  for (const line of listing.trim().split('\n')) {
    assert.match(line, /^\S+ 0\/0 /, line);
    assert.match(line, / 2023-11-14 22:13:20 /, line);
  }
  const raw = execFileSync('sh', ['-c', `gzip -dc '${a.tarball}' | strings | grep -c -E 'atime=|ctime=|mtime=' || true`], { encoding: 'utf8' });
  assert.is(raw.trim(), '0');
});

test('an interrupted pack leaves no tarball under the final name', async () => {
  // a leak makes pack fail after the tree is staged: nothing may appear in out/
  const out = join(fx.tmp, 'out-fail');
  mkdirSync(join(fx.prefix, 'share/doc'), { recursive: true });
  writeFileSync(join(fx.prefix, 'share/doc/leak.txt'), `built in ${fx.prefix}\n`);
  await pack({ prefix: fx.prefix, out, node: false, version: '1.2.3' }).then(
    () => assert.unreachable('the planted build path should have failed the pack'),
    (e: Error) => assert.match(e.message, /build-machine paths/),
  );
  rmSync(join(fx.prefix, 'share/doc'), { recursive: true });
  assert.equal(execFileSync('ls', ['-A', out], { encoding: 'utf8' }).trim(), '');
});

test.after(() => rmSync(fx.tmp, { recursive: true, force: true }));
test.run();
