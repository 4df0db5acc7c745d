// Unpacking refuses `../` entries, absolute paths and symlinks or hard links
// escaping the destination, in .tar.gz, .tar.bz2 and .tar.xz, and writes
// nothing outside. The malicious tarballs are made here with GNU tar.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UnsafeArchiveError } from '../../scripts/engine/errors.js';
import { unpack } from '../../scripts/engine/unpack.js';

const compress = { 'tar.gz': 'gzip', 'tar.bz2': 'bzip2', 'tar.xz': 'xz' } as const;

function make(dir: string, name: string, ext: keyof typeof compress, tarArgs: string[]): string {
  const plain = join(dir, `${name}.tar`);
  execFileSync('tar', ['-cf', plain, ...tarArgs], { cwd: dir, stdio: 'pipe' });
  execFileSync(compress[ext], ['-f', plain]);
  const out = `${plain}${{ gzip: '.gz', bzip2: '.bz2', xz: '.xz' }[compress[ext]]}`;
  return out;
}

async function refuses(archive: string, root: string, entry: RegExp) {
  const dest = join(root, 'dest');
  const before = readdirSync(root).sort();
  const err = await unpack(archive, dest).then(
    () => null,
    (e: unknown) => e,
  );
  assert.instance(err, UnsafeArchiveError, archive);
  assert.match((err as UnsafeArchiveError).entry, entry);
  assert.ok((err as Error).message.includes((err as UnsafeArchiveError).entry));
  assert.not.ok(existsSync(dest), 'destination created although the archive was refused');
  assert.equal(readdirSync(root).sort(), before, 'something was written next to the destination');
}

for (const ext of Object.keys(compress) as (keyof typeof compress)[]) {
  test(`${ext}: '../' entry refused`, async () => {
    const root = mkdtempSync(join(tmpdir(), 'mpistack-unpack-'));
    const w = join(root, 'w');
    mkdirSync(join(w, 'pkg'), { recursive: true });
    writeFileSync(join(w, 'pkg', 'ok.txt'), 'ok');
    writeFileSync(join(root, 'escaped.txt'), 'original');
    const a = make(w, 'dotdot', ext, ['-P', 'pkg/ok.txt', '../escaped.txt']);
    await refuses(a, w, /\.\.\/escaped\.txt$/);
  });

  test(`${ext}: absolute path refused`, async () => {
    const root = mkdtempSync(join(tmpdir(), 'mpistack-unpack-'));
    const w = join(root, 'w');
    mkdirSync(w);
    const victim = join(root, 'abs-victim.txt');
    writeFileSync(victim, 'x');
    const a = make(w, 'abs', ext, ['-P', victim]);
    await refuses(a, w, /^\/.*abs-victim\.txt$/);
  });

  test(`${ext}: symlink escaping the destination refused (and a file through it never written)`, async () => {
    const root = mkdtempSync(join(tmpdir(), 'mpistack-unpack-'));
    const w = join(root, 'w');
    mkdirSync(join(w, 'pkg'), { recursive: true });
    const outside = join(root, 'outside');
    mkdirSync(outside);
    symlinkSync('../../outside', join(w, 'pkg', 'link'));
    const a = make(w, 'sym', ext, ['pkg/link']);
    await refuses(a, w, /^pkg\/link$/);
    symlinkSync(outside, join(w, 'pkg', 'abslink'));
    const b = make(w, 'sym2', ext, ['pkg/abslink']);
    await refuses(b, w, /^pkg\/abslink$/);
    assert.equal(readdirSync(outside), []);
  });

  test(`${ext}: a well-formed archive unpacks, with an internal symlink`, async () => {
    const root = mkdtempSync(join(tmpdir(), 'mpistack-unpack-'));
    const w = join(root, 'w');
    mkdirSync(join(w, 'pkg', 'sub'), { recursive: true });
    writeFileSync(join(w, 'pkg', 'sub', 'f.txt'), 'hello');
    symlinkSync('sub/f.txt', join(w, 'pkg', 'alias'));
    const a = make(w, 'good', ext, ['pkg']);
    const top = await unpack(a, join(root, 'dest'));
    assert.is(top, join(root, 'dest', 'pkg'));
    assert.ok(existsSync(join(top, 'alias')));
  });
}

test.run();
