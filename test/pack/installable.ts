// Tarballs `mpistack install` accepts (a tree with its pack manifest, written
// by pack's own tar writer, SHA256SUMS beside it), and hostile ones written
// header by header (test/helpers/rawtar.ts) with a SHA256SUMS line, so that
// install gets past the checksum and meets the fault itself.
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTarGz, type TarEntry } from '../../scripts/pack/tar.js';
import { rawTarGz, type RawEntry } from '../helpers/rawtar.js';
import { buildPackManifest } from '../../scripts/pack/packmanifest.js';
import { listTree } from '../../scripts/foundation/tree.js';
import { PACK_MANIFEST } from '../../scripts/foundation/layout.js';

function addSum(tarball: string): string {
  const dir = join(tarball, '..');
  appendFileSync(join(dir, 'SHA256SUMS'), `${createHash('sha256').update(readFileSync(tarball)).digest('hex')}  ${tarball.slice(dir.length + 1)}\n`);
  return tarball;
}

/** A valid tarball of `<work>/<name>/mpistack` (made by `fill`), manifest included. */
export async function validTarball(work: string, name: string, fill: (root: string) => void): Promise<string> {
  const base = join(work, 'src', name);
  const root = join(base, 'mpistack');
  mkdirSync(join(root, 'share/mpistack'), { recursive: true });
  fill(root);
  writeFileSync(join(root, PACK_MANIFEST), JSON.stringify(await buildPackManifest(root, '1.0', 0)));
  const entries: TarEntry[] = [{ path: 'mpistack', type: 'dir' }];
  for (const e of listTree(root)) {
    const path = `mpistack/${e.path}`;
    if (e.type === 'dir') entries.push({ path, type: 'dir' });
    else if (e.type === 'symlink') entries.push({ path, type: 'symlink', target: readlinkSync(join(root, e.path)) });
    else entries.push({ path, type: 'file', source: join(root, e.path), size: e.size, executable: e.executable });
  }
  mkdirSync(join(work, 'tarballs'), { recursive: true });
  const out = join(work, 'tarballs', `${name}.tar.gz`);
  await writeTarGz(out, entries, 0);
  return addSum(out);
}

/** A tarball of raw entries, with its SHA256SUMS line. */
export function rawTarball(work: string, name: string, entries: RawEntry[] | Buffer): string {
  mkdirSync(join(work, 'tarballs'), { recursive: true });
  const out = join(work, 'tarballs', `${name}.tar.gz`);
  writeFileSync(out, Buffer.isBuffer(entries) ? entries : rawTarGz(entries));
  return addSum(out);
}
