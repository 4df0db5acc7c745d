// install refuses tarballs whose entries would land outside DEST: `../`
// entries, absolute paths, symlinks pointing out, writes through a symlink,
// and a tarball whose checksum does not match SHA256SUMS. The tarballs are
// made with GNU tar (-P keeps the dangerous names), not by our writer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InstallError, install } from '../../scripts/pack/install.js';

const tmp = mkdtempSync(join(tmpdir(), 'mpistack-evil-'));

/** tar czf with GNU tar from `cwd`, then a SHA256SUMS line beside it. */
function makeTar(name: string, cwd: string, members: string[], extra: string[] = []): string {
  const out = join(tmp, 'tarballs', name);
  mkdirSync(join(tmp, 'tarballs'), { recursive: true });
  execFileSync('tar', ['-czPf', out, ...extra, ...members], { cwd });
  const sum = createHash('sha256').update(readFileSync(out)).digest('hex');
  appendFileSync(join(tmp, 'tarballs', 'SHA256SUMS'), `${sum}  ${name}\n`);
  return out;
}

async function refused(tarball: string, dest: string, kind: InstallError['kind'], why: RegExp): Promise<void> {
  try {
    await install({ tarball, dest });
  } catch (e) {
    assert.instance(e, InstallError);
    assert.is((e as InstallError).kind, kind, (e as Error).message);
    assert.match((e as Error).message, why);
    // nothing left behind in DEST: no tree, no staging directory
    assert.equal(readdirSync(dest), [], `left in ${dest}: ${readdirSync(dest).join(', ')}`);
    return;
  }
  assert.unreachable(`${tarball} was installed`);
}

function src(name: string): string {
  const d = join(tmp, 'src', name);
  mkdirSync(join(d, 'mpistack/bin'), { recursive: true });
  writeFileSync(join(d, 'mpistack/bin/ok'), 'ok\n');
  return d;
}

test('a ../ entry is refused and nothing is written outside DEST', async () => {
  const d = src('dotdot');
  mkdirSync(join(d, 'sub'), { recursive: true });
  writeFileSync(join(d, 'escaped.txt'), 'pwned\n');
  // run tar from d/sub so the member is literally '../escaped.txt'
  const t = makeTar('dotdot.tar.gz', join(d, 'sub'), ['../mpistack', '../escaped.txt']);
  assert.match(execFileSync('tar', ['-tzf', t], { encoding: 'utf8' }), /^\.\.\/escaped\.txt$/m);
  const dest = join(tmp, 'dest-dotdot', 'inner');
  mkdirSync(dest, { recursive: true });
  await refused(t, dest, 'unsafe-entry', /'\.\.' component/);
  assert.not.ok(existsSync(join(tmp, 'dest-dotdot', 'escaped.txt')));
});

test('an absolute path is refused', async () => {
  const d = src('abs');
  const t = makeTar('abs.tar.gz', d, ['mpistack', join(d, 'mpistack/bin/ok')]);
  assert.match(execFileSync('tar', ['-tzf', t], { encoding: 'utf8' }), /^\//m);
  const dest = join(tmp, 'dest-abs');
  mkdirSync(dest);
  await refused(t, dest, 'unsafe-entry', /absolute path/);
});

test('a symlink pointing outside is refused (absolute and relative)', async () => {
  const d = src('link');
  symlinkSync('/etc', join(d, 'mpistack/etc-link'));
  const t = makeTar('link-abs.tar.gz', d, ['mpistack']);
  const dest = join(tmp, 'dest-link');
  mkdirSync(dest);
  await refused(t, dest, 'unsafe-entry', /links to the absolute path '\/etc'/);
  const d2 = src('link2');
  symlinkSync('../../outside', join(d2, 'mpistack/bin/up'));
  await refused(makeTar('link-rel.tar.gz', d2, ['mpistack']), dest, 'unsafe-entry', /leaves mpistack\//);
});

test('writing through a symlink from the archive is refused', async () => {
  const d = src('through');
  symlinkSync('bin', join(d, 'mpistack/alias'));
  // a second member whose path goes through the link: tar stores it as given
  mkdirSync(join(d, 'real/mpistack/alias'), { recursive: true });
  writeFileSync(join(d, 'real/mpistack/alias/x'), 'x\n');
  const t = makeTar('through.tar.gz', d, ['mpistack', '-C', join(d, 'real'), 'mpistack/alias/x']);
  const dest = join(tmp, 'dest-through');
  mkdirSync(dest);
  await refused(t, dest, 'unsafe-entry', /parent mpistack\/alias is a symlink/);
});

test('a tarball that does not match SHA256SUMS is refused before unpacking', async () => {
  const d = src('sum');
  const t = makeTar('sum.tar.gz', d, ['mpistack']);
  appendFileSync(t, Buffer.from([0])); // one byte of corruption
  const dest = join(tmp, 'dest-sum');
  mkdirSync(dest);
  await refused(t, dest, 'checksum', /does not match SHA256SUMS/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
