// Issue 15, item 2: the source unpack check sees exactly what GNU tar
// extracts. Archives written header by header (test/helpers/rawtar.ts): an
// entry only GNU tar can read (non-UTF-8 user name, signed checksum), device
// nodes and FIFOs, setuid/setgid bits and foreign owners, symlinks whose
// target climbs through another symlink (`x -> .`), in either order, writes
// through a symlink, and headers nobody can read. Each refused archive leaves
// no destination and nothing outside it.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ArchiveReadError, UnsafeArchiveError } from '../../scripts/engine/errors.js';
import { unpack } from '../../scripts/engine/unpack.js';
import { dir, file, hardlink, rawTar, rawTarGz, symlink, type RawEntry } from '../helpers/rawtar.js';

function sandbox(): { root: string; archive: (entries: RawEntry[], gz?: boolean) => string; dest: string } {
  const root = mkdtempSync(join(tmpdir(), 'mpistack-hostile-'));
  mkdirSync(join(root, 'outside'));
  let n = 0;
  return {
    root,
    dest: join(root, 'dest'),
    archive: (entries, gz = true) => {
      const p = join(root, `a${n++}.tar${gz ? '.gz' : ''}`);
      writeFileSync(p, gz ? rawTarGz(entries) : rawTar(entries));
      return p;
    },
  };
}

async function refused(s: ReturnType<typeof sandbox>, entries: RawEntry[], entry: RegExp, why: RegExp): Promise<void> {
  const a = s.archive(entries);
  const before = readdirSync(s.root).sort();
  const err = await unpack(a, s.dest).then(
    () => null,
    (e: unknown) => e,
  );
  assert.instance(err, UnsafeArchiveError, `not refused: ${String(err)}`);
  assert.match((err as UnsafeArchiveError).entry, entry);
  assert.match((err as UnsafeArchiveError).reason, why);
  assert.not.ok(existsSync(s.dest), 'the destination was created');
  assert.equal(readdirSync(s.root).sort(), before, 'something was written next to the destination');
  assert.equal(readdirSync(join(s.root, 'outside')), []);
}

test('an entry only GNU tar reads (non-UTF-8 uname, signed checksum) is checked like any other: its absolute symlink is refused', async () => {
  const s = sandbox();
  const sneaky: RawEntry = { ...symlink('pkg/evil', '/etc'), uname: Buffer.from([0xff, 0xfe, 0xe9, 0x80]), checksum: 'signed' };
  // GNU tar itself takes the header (the check must not be the only reader that skips it)
  const probe = s.archive([dir('pkg'), sneaky], false);
  assert.match(execFileSync('tar', ['-tvf', probe], { encoding: 'utf8' }), /pkg\/evil -> \/etc/);
  await refused(s, [dir('pkg'), file('pkg/a', 'a'), sneaky], /^pkg\/evil$/, /absolute path '\/etc'/);
});

test('device nodes and FIFOs are refused', async () => {
  const s = sandbox();
  await refused(s, [dir('pkg'), { name: 'pkg/tty', type: '3', devmajor: 5, devminor: 0 }], /^pkg\/tty$/, /character device node/);
  await refused(s, [dir('pkg'), { name: 'pkg/sda', type: '4', devmajor: 8, devminor: 0 }], /^pkg\/sda$/, /block device node/);
  await refused(s, [dir('pkg'), { name: 'pkg/pipe', type: '6' }], /^pkg\/pipe$/, /FIFO/);
});

test('setuid/setgid bits and foreign owners are never created', async () => {
  const s = sandbox();
  const a = s.archive([
    dir('pkg', { mode: 0o2775, uid: 4242, gid: 4343 }),
    file('pkg/su', '#!/bin/sh\n', { mode: 0o4755, uid: 4242, gid: 4343 }),
    file('pkg/sg', 'x', { mode: 0o2711, uid: 4242 }),
    file('pkg/sticky', 'y', { mode: 0o1777 }),
  ]);
  const top = await unpack(a, s.dest);
  for (const name of ['', 'su', 'sg', 'sticky']) {
    const st = lstatSync(join(top, name));
    assert.is(st.mode & 0o7000, 0, `${name || 'pkg/'} has special bits ${(st.mode & 0o7777).toString(8)}`);
    assert.is(st.uid, process.getuid!(), `${name || 'pkg/'} is owned by ${st.uid}`);
    assert.is(st.gid, process.getgid!(), `${name || 'pkg/'} has group ${st.gid}`);
  }
  assert.is(lstatSync(join(top, 'su')).mode & 0o777, 0o755, 'the permission bits are kept (less the umask)');
});

test('a symlink climbing through another symlink (x -> ., then esc -> x/x/x/../../../../outside) is refused, in either order', async () => {
  const esc = symlink('pkg/esc', 'x/x/x/../../../../outside');
  const x = symlink('pkg/x', '.');
  await refused(sandbox(), [dir('pkg'), x, esc], /^pkg\/esc$/, /leaves the destination .*through pkg\/x -> \./);
  await refused(sandbox(), [dir('pkg'), esc, x], /^pkg\/esc$/, /leaves the destination/);
  // the same climb with a directory link two levels down
  await refused(
    sandbox(),
    [dir('pkg/a/b'), symlink('pkg/a/b/up', '../..'), symlink('pkg/esc', 'a/b/up/a/b/up/../../..')],
    /^pkg\/esc$/,
    /leaves the destination/,
  );
});

test('writing through a symlink of the archive is refused, whichever comes first', async () => {
  await refused(sandbox(), [dir('pkg/sub'), symlink('pkg/l', 'sub'), file('pkg/l/f', 'x')], /^pkg\/l\/f$/, /its parent pkg\/l is a symlink/);
  await refused(sandbox(), [dir('pkg/l'), file('pkg/l/f', 'x'), symlink('pkg/l', 'sub')], /^pkg\/l$/, /appears twice|entries were written under/);
  await refused(sandbox(), [dir('pkg'), file('pkg/f', 'x'), symlink('pkg/l', '.'), hardlink('pkg/h', 'pkg/l/f')], /^pkg\/h$/, /through the symlink pkg\/l/);
});

test("hard links: to '..' or an absolute path, to a symlink, to nothing earlier: refused", async () => {
  await refused(sandbox(), [dir('pkg'), hardlink('pkg/h', '../outside/x')], /^pkg\/h$/, /'\.\.' component/);
  await refused(sandbox(), [dir('pkg'), hardlink('pkg/h', '/etc/passwd')], /^pkg\/h$/, /absolute path/);
  await refused(sandbox(), [dir('pkg/d'), symlink('pkg/d/s', '../x'), hardlink('h', 'pkg/d/s')], /^h$/, /not an earlier regular file/);
});

test('headers GNU tar cannot read fail the unpack (nothing is skipped silently)', async () => {
  for (const bad of [
    { ...file('pkg/f', 'x'), checksum: 12345 } as RawEntry, // neither the signed nor the unsigned sum
    { ...file('pkg/f', 'x'), sizeField: Buffer.from('zzzzzzzzzzz\0', 'latin1') },
  ]) {
    const s = sandbox();
    const err = await unpack(s.archive([dir('pkg'), bad, symlink('pkg/later', '/etc')]), s.dest).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof ArchiveReadError || err instanceof UnsafeArchiveError, `accepted: ${String(err)}`);
    assert.not.ok(existsSync(s.dest));
  }
});

test('links through links that stay inside, an odd name and a ./ root entry: unpacked as GNU tar does', async () => {
  const s = sandbox();
  const odd = 'pkg/we ird -> "name"\n\\';
  const a = s.archive([
    dir('./'),
    dir('pkg/sub/deep'),
    file('pkg/sub/deep/f', 'hello'),
    symlink('pkg/a', 'b'),
    symlink('pkg/b', 'sub'),
    symlink('pkg/c', 'a/deep/../deep/f'),
    symlink('pkg/self', '.'),
    symlink('pkg/d', 'self/self/sub/deep/f'),
    file(odd, 'odd'),
    file(Buffer.from('pkg/caf\xe9', 'latin1').toString('latin1'), 'latin1 name'),
  ]);
  const top = await unpack(a, s.dest);
  assert.is(top, join(s.dest, 'pkg'));
  assert.is(readFileSync(join(top, 'c'), 'utf8'), 'hello');
  assert.is(readFileSync(join(top, 'd'), 'utf8'), 'hello');
  assert.is(readlinkSync(join(top, 'a')), 'b');
  assert.is(readFileSync(join(s.dest, odd), 'utf8'), 'odd');
});

test.run();
