// Issue 15, items 2 and 3, for `mpistack install` and `verify`: links that
// climb through other links, memory bounded against a huge pax header, a bad
// size field failing cleanly (one clear message, no stray 'error' trace),
// nothing left behind (a --dest it created, the stage of a killed install)
// and --force never leaving the previous tree under a hidden name.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, watch, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InstallError, install } from '../../scripts/pack/install.js';
import { dir, file, header, paxBody, symlink } from '../helpers/rawtar.js';
import { rawTarball, validTarball } from './installable.js';
import { buildPackManifest, verifyPackedTree } from '../../scripts/pack/packmanifest.js';
import { PACK_MANIFEST } from '../../scripts/foundation/layout.js';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '../../scripts/cli.js');
const work = mkdtempSync(join(tmpdir(), 'mpistack-install-hostile-'));

async function refused(tarball: string, dest: string, kind: InstallError['kind'], why: RegExp): Promise<InstallError> {
  const err = await install({ tarball, dest }).then(
    () => null,
    (e: unknown) => e,
  );
  assert.instance(err, InstallError, `installed: ${String(err)}`);
  assert.is((err as InstallError).kind, kind, (err as Error).message);
  assert.match((err as Error).message, why);
  return err as InstallError;
}

test('a link climbing through another link (x -> ., esc -> x/x/x/../../../../outside) is refused, in either order', async () => {
  const esc = symlink('mpistack/esc', 'x/x/x/../../../../outside');
  const x = symlink('mpistack/x', '.');
  const dest = join(work, 'dest-climb');
  mkdirSync(dest);
  await refused(
    rawTarball(work, 'climb1', [dir('mpistack'), x, esc]),
    dest,
    'unsafe-entry',
    /entry "mpistack\/esc": its target .* leaves mpistack\/ .*through mpistack\/x -> \./,
  );
  await refused(rawTarball(work, 'climb2', [dir('mpistack'), esc, x]), dest, 'unsafe-entry', /leaves mpistack\//);
  assert.equal(readdirSync(dest), []);
});

test('verify reports a link that climbs out through another link, though the manifest records both', async () => {
  const t = await validTarball(work, 'verify-climb', (root) => {
    mkdirSync(join(root, 'bin'));
    writeFileSync(join(root, 'bin/ok'), 'ok\n');
  });
  const { root } = await install({ tarball: t, dest: join(work, 'dest-verify') });
  assert.equal((await verifyPackedTree(root)).problems, []);
  // as a hostile tarball accepted by a textual check would have left it
  symlinkSync('.', join(root, 'x'));
  symlinkSync('x/x/x/../../../../outside', join(root, 'esc'));
  writeFileSync(join(root, PACK_MANIFEST), JSON.stringify(await buildPackManifest(root, '1.0', 0))); // as if packed that way
  const { problems } = await verifyPackedTree(root);
  assert.is(problems.length, 1, JSON.stringify(problems));
  assert.is(problems[0].path, 'esc');
  assert.match(problems[0].problem, /leaves the tree .*through x -> \./);
  const r = spawnSync(process.execPath, [cli, 'verify', root], { encoding: 'utf8' });
  assert.is(r.status, 1);
  assert.match(r.stdout, /^esc: its target 'x\/x\/x\/\.\.\/\.\.\/\.\.\/\.\.\/outside' leaves the tree/m);
});

test('a pax header declaring 600 MB is refused before it is read: memory stays bounded', async () => {
  // 600 MB of pax data that compress to well under 1 MB, streamed (never in memory here either)
  const out = join(work, 'tarballs', 'hugepax.tar.gz');
  mkdirSync(dirname(out), { recursive: true });
  const gz = createGzip({ level: 1 });
  const done = once(gz.pipe(createWriteStream(out)), 'finish');
  const size = 600 * 1024 * 1024;
  gz.write(header({ name: 'PaxHeaders/x', type: 'x', size }));
  const chunk = Buffer.alloc(4 * 1024 * 1024, 0x31);
  for (let n = 0; n < size; n += chunk.length) if (!gz.write(chunk)) await once(gz, 'drain');
  gz.end(Buffer.alloc(1024, 0));
  await done;
  assert.ok(statSync(out).size < 5 * 1024 * 1024, 'the tarball is small');
  rawTarball(work, 'unused', []); // SHA256SUMS exists
  const sum = spawnSync('sha256sum', [out], { encoding: 'utf8' }).stdout.split(' ')[0];
  writeFileSync(join(work, 'tarballs', 'SHA256SUMS'), `${readFileSync(join(work, 'tarballs', 'SHA256SUMS'), 'utf8')}${sum}  hugepax.tar.gz\n`);
  // in a child process, to read its peak memory
  const probe = `import { install } from ${JSON.stringify(join(here, '../../scripts/pack/install.js'))};
    let outcome; try { await install({ tarball: ${JSON.stringify(out)}, dest: ${JSON.stringify(join(work, 'dest-pax'))} }); outcome = 'installed'; }
    catch (e) { outcome = { name: e.name, kind: e.kind, message: e.message }; }
    console.log(JSON.stringify({ outcome, maxRssKiB: process.resourceUsage().maxRSS }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const { outcome, maxRssKiB } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { outcome: { kind: string; message: string }; maxRssKiB: number };
  assert.is(outcome.kind, 'format', JSON.stringify(outcome));
  assert.match(outcome.message, /extended header of 629145600 bytes is larger than the 1048576 bytes accepted/);
  assert.ok(maxRssKiB < 250 * 1024, `peak memory ${Math.round(maxRssKiB / 1024)} MiB`);
  assert.not.ok(existsSync(join(work, 'dest-pax')), 'the --dest it created is gone');
});

test('extended headers each under the cap but many in a row: bounded together', async () => {
  const record = (i: number) => paxBody({ [`SCHILY.xattr.user.k${i}`]: 'v'.repeat(600 * 1024) });
  const entries = [dir('mpistack'), ...[0, 1, 2].map((i) => ({ name: 'PaxHeaders/f', type: 'x', body: record(i) })), file('mpistack/f', 'x')];
  const dest = join(work, 'dest-manypax');
  const err = await refused(rawTarball(work, 'manypax', entries), dest, 'format', /extended headers of more than 1048576 bytes in all before one entry/);
  assert.ok(err);
  assert.not.ok(existsSync(dest));
});

test('a bad size field: one clear error, no unhandled stream error, and the --dest it created (and its parents) removed', () => {
  const t = rawTarball(work, 'badsize', [dir('mpistack'), { ...file('mpistack/f', 'hello'), sizeField: Buffer.from('zzzzzzzzzzz\0', 'latin1') }]);
  const dest = join(work, 'fresh', 'deeper', 'dest');
  const r = spawnSync(process.execPath, [cli, 'install', t, '--dest', dest], { encoding: 'utf8' });
  assert.is(r.status, 1);
  assert.match(r.stderr, /not a well-formed tarball: .*the size field is not an octal number/);
  assert.not.match(r.stderr, /Unhandled 'error' event|node:events|ENOENT/);
  assert.not.ok(existsSync(join(work, 'fresh')), 'the directories install created are gone');
});

test('a truncated body: refused, the stream error reported once, nothing left', async () => {
  const full = readFileSync(rawTarball(work, 'whole', [dir('mpistack'), file('mpistack/f', 'x'.repeat(200_000))]));
  const { gunzipSync, gzipSync } = await import('node:zlib');
  const t = rawTarball(work, 'truncated', gzipSync(gunzipSync(full).subarray(0, 100_000)));
  const dest = join(work, 'dest-trunc');
  const r = spawnSync(process.execPath, [cli, 'install', t, '--dest', dest], { encoding: 'utf8' });
  assert.is(r.status, 1);
  assert.match(r.stderr, /truncated archive/);
  assert.not.match(r.stderr, /Unhandled 'error' event|node:events/);
  assert.not.ok(existsSync(dest));
});

test('setuid bits, foreign owners and devices in a tarball: never created', async () => {
  const dest = join(work, 'dest-modes');
  mkdirSync(dest);
  await refused(
    rawTarball(work, 'dev', [dir('mpistack'), { name: 'mpistack/tty', type: '3', devmajor: 5 }]),
    dest,
    'unsafe-entry',
    /unsupported entry type '3'/,
  );
  await refused(rawTarball(work, 'fifo', [dir('mpistack'), { name: 'mpistack/p', type: '6' }]), dest, 'unsafe-entry', /unsupported entry type '6'/);
  // a setuid file of a foreign owner: the manifest check fails it, but what was written never had the bits
  const t = await validTarball(work, 'modes', (root) => {
    writeFileSync(join(root, 'tool'), '#!/bin/sh\n');
  });
  const { root } = await install({ tarball: t, dest });
  assert.is(statSync(join(root, 'tool')).mode & 0o7000, 0);
  assert.is(statSync(join(root, 'tool')).uid, process.getuid!());
});

test('a killed install: its stage is left, and the next install removes it', async () => {
  // a tarball whose unpacking takes a while (256 MiB of zeros)
  const out = join(work, 'tarballs', 'slow.tar.gz');
  const gz = createGzip({ level: 1 });
  const done = once(gz.pipe(createWriteStream(out)), 'finish');
  const size = 256 * 1024 * 1024;
  gz.write(header({ name: 'mpistack/', type: '5' }));
  gz.write(header({ name: 'mpistack/big', type: '0', size }));
  const chunk = Buffer.alloc(4 * 1024 * 1024, 0);
  for (let n = 0; n < size; n += chunk.length) if (!gz.write(chunk)) await once(gz, 'drain');
  gz.end(Buffer.alloc(1024, 0));
  await done;
  const sum = spawnSync('sha256sum', [out], { encoding: 'utf8' }).stdout.split(' ')[0];
  writeFileSync(join(work, 'tarballs', 'SHA256SUMS'), `${readFileSync(join(work, 'tarballs', 'SHA256SUMS'), 'utf8')}${sum}  slow.tar.gz\n`);
  const dest = join(work, 'dest-killed');
  mkdirSync(dest);
  const child = spawn(process.execPath, [cli, 'install', out, '--dest', dest], { stdio: 'ignore' });
  const stagePid = child.pid!;
  const closed = once(child, 'close');
  // SIGKILL as soon as its stage appears (inotify, not a sleep); if it ends first, the checks below say so
  const w = watch(dest, () => {
    if (readdirSync(dest).some((n) => n.startsWith(`.mpistack-install-${stagePid}-`))) {
      w.close();
      child.kill('SIGKILL');
    }
  });
  const [code, signal] = (await closed) as [number | null, NodeJS.Signals | null];
  w.close();
  assert.is(signal, 'SIGKILL', `the install ended by itself (exit ${code}) before its stage was seen`);
  const left = readdirSync(dest);
  assert.equal(left.length, 1, `expected the killed install's stage: ${left.join(', ')}`);
  assert.match(left[0], new RegExp(`^\\.mpistack-install-${stagePid}-`));
  const lines: string[] = [];
  const t = await validTarball(work, 'after-kill', (root) => {
    writeFileSync(join(root, 'f'), 'f\n');
  });
  await install({ tarball: t, dest, log: (l) => lines.push(l) });
  assert.equal(readdirSync(dest), ['mpistack']);
  assert.ok(
    lines.some((l) => l.includes(`left by a killed install (pid ${stagePid})`)),
    lines.join('\n'),
  );
});

test('--force: the previous tree is replaced; a --force killed between its two renames is repaired by the next install', async () => {
  const dest = join(work, 'dest-force');
  const v1 = await validTarball(work, 'v1', (root) => {
    writeFileSync(join(root, 'version'), '1\n');
  });
  const v2 = await validTarball(work, 'v2', (root) => {
    writeFileSync(join(root, 'version'), '2\n');
  });
  await install({ tarball: v1, dest });
  await refused(v2, dest, 'exists', /already exists \(use --force/);
  await install({ tarball: v2, dest, force: true });
  assert.is(readFileSync(join(dest, 'mpistack/version'), 'utf8'), '2\n');
  assert.equal(readdirSync(dest), ['mpistack'], 'nothing but the tree');
  // the state a --force install killed between its two renames leaves: the previous tree at its
  // visible aside name, nothing at DEST/mpistack; its pid is that of a process that is gone
  const gone = spawnSync('true').pid;
  const { renameSync } = await import('node:fs');
  renameSync(join(dest, 'mpistack'), join(dest, `mpistack.mpistack-previous-${gone}`));
  mkdirSync(join(dest, `.mpistack-install-${gone}-AbC123/mpistack`), { recursive: true });
  const lines: string[] = [];
  await refused(v1, dest, 'exists', /already exists/); // put back first, so v1 does not silently take its place
  await install({ tarball: v1, dest, force: true, log: (l) => lines.push(l) });
  assert.equal(readdirSync(dest), ['mpistack']);
  assert.is(readFileSync(join(dest, 'mpistack/version'), 'utf8'), '1\n');
});

test('--force killed after the swap: the previous tree left aside is removed by the next install', async () => {
  const dest = join(work, 'dest-force2');
  const v1 = await validTarball(work, 'w1', (root) => {
    writeFileSync(join(root, 'version'), '1\n');
  });
  await install({ tarball: v1, dest });
  const gone = spawnSync('true').pid;
  mkdirSync(join(dest, `mpistack.mpistack-previous-${gone}`));
  writeFileSync(join(dest, `mpistack.mpistack-previous-${gone}`, 'old'), 'old\n');
  const lines: string[] = [];
  await install({ tarball: v1, dest, force: true, log: (l) => lines.push(l) });
  assert.equal(readdirSync(dest), ['mpistack']);
  assert.ok(
    lines.some((l) => /removed mpistack\.mpistack-previous-\d+: a killed --force install had already replaced mpistack/.test(l)),
    lines.join('\n'),
  );
});

test.after(() => rmSync(work, { recursive: true, force: true }));
test.run();
