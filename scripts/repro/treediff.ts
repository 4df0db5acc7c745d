// Why two builds differ, without diffoscope: compare two packed tarballs
// entry by entry (order, type, mode, link target, size, sha256), and for
// each file whose bytes differ say where: the ELF sections whose bytes
// differ (section table read in-process), the lines of a text file, or the
// printable strings of any other binary.
import { createHash } from 'node:crypto';
import { createWriteStream, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, chmodSync } from 'node:fs';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { UnsafeArchiveError } from '../engine/errors.js';
import { checkEntryPath } from '../foundation/archivepath.js';
import { sha256Text } from '../foundation/hash.js';
import { listTree } from '../foundation/tree.js';
import { hasElfMagic, readSections } from '../pack/elf.js';
import { readTarGz } from '../pack/tar.js';
import { isText } from '../pack/text.js';

/** One entry of a tree as the diff compares it. */
interface DiffEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  size: number;
  /** file sha256, or the link target */
  digest: string;
}

export interface FileDiff {
  path: string;
  /** one line: what differs */
  why: string;
  /** details (differing sections, lines or strings), a few lines at most */
  details: string[];
}

/** Extract a tarball into `dest` (for diffing); returns its entries in archive order. */
export async function extractForDiff(tarball: string, dest: string): Promise<DiffEntry[]> {
  const entries: DiffEntry[] = [];
  mkdirSync(dest, { recursive: true });
  await readTarGz(tarball, async (e, body) => {
    const c = checkEntryPath(e.path);
    if (!c.ok) throw new UnsafeArchiveError(tarball, e.path, c.why);
    const path = c.path;
    const to = join(dest, path);
    if (e.type === 'dir') {
      mkdirSync(to, { recursive: true });
      entries.push({ path, type: 'dir', mode: e.mode, size: 0, digest: '' });
      return;
    }
    mkdirSync(dirname(to), { recursive: true });
    if (e.type === 'symlink') {
      symlinkSync(e.linkname, to);
      entries.push({ path, type: 'symlink', mode: e.mode, size: 0, digest: e.linkname });
      return;
    }
    if (e.type !== 'file') {
      entries.push({ path, type: 'other', mode: e.mode, size: 0, digest: e.typeflag });
      return;
    }
    const h = createHash('sha256');
    const ws = createWriteStream(to, { mode: 0o600 });
    for await (const chunk of body) {
      h.update(chunk);
      if (!ws.write(chunk)) await once(ws, 'drain');
    }
    ws.end();
    await once(ws, 'finish');
    chmodSync(to, e.mode & 0o111 ? 0o755 : 0o644);
    entries.push({ path, type: 'file', mode: e.mode, size: e.size, digest: h.digest('hex') });
  });
  return entries;
}

/** Entries of a directory tree (sorted bytewise: pack's own walk), as extractForDiff gives them for a tarball. */
export function listTreeEntries(root: string): DiffEntry[] {
  return listTree(root).map((e): DiffEntry => {
    const p = join(root, e.path);
    const mode = lstatSync(p).mode & 0o7777;
    if (e.type === 'dir') return { path: e.path, type: 'dir', mode, size: 0, digest: '' };
    if (e.type === 'symlink') return { path: e.path, type: 'symlink', mode: 0o777, size: 0, digest: readlinkSync(p) };
    if (e.type === 'file') return { path: e.path, type: 'file', mode, size: e.size, digest: sha256Text(readFileSync(p)) };
    return { path: e.path, type: 'other', mode, size: 0, digest: '' };
  });
}

/** Printable runs of at least `min` bytes (as `strings -a`). */
export function printableStrings(buf: Buffer, min = 6): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i <= buf.length; i++) {
    const c = i < buf.length ? buf[i] : 0;
    const printable = (c >= 0x20 && c < 0x7f) || c === 0x09;
    if (printable) {
      if (start < 0) start = i;
      continue;
    }
    if (start >= 0 && i - start >= min) out.push(buf.toString('latin1', start, i));
    start = -1;
  }
  return out;
}

/** Items only in a and only in b (multiset difference, order kept), at most `max` of each. */
export function onlyIn(a: readonly string[], b: readonly string[], max = 4): { a: string[]; b: string[]; moreA: number; moreB: number } {
  const count = (xs: readonly string[]) => {
    const m = new Map<string, number>();
    for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
    return m;
  };
  const ca = count(a);
  const cb = count(b);
  const left = (xs: readonly string[], mine: Map<string, number>, other: Map<string, number>) => {
    const seen = new Map<string, number>();
    return xs.filter((x) => {
      const k = (seen.get(x) ?? 0) + 1;
      seen.set(x, k);
      return k > (other.get(x) ?? 0) && k <= mine.get(x)!;
    });
  };
  const oa = left(a, ca, cb);
  const ob = left(b, cb, ca);
  return { a: oa.slice(0, max), b: ob.slice(0, max), moreA: Math.max(0, oa.length - max), moreB: Math.max(0, ob.length - max) };
}

const clip = (s: string, n = 160) => (s.length > n ? `${s.slice(0, n)}...` : s);

function describeOnly(d: ReturnType<typeof onlyIn>, unit: string): string[] {
  const L: string[] = [];
  for (const x of d.a) L.push(`  - ${clip(JSON.stringify(x))}`);
  if (d.moreA) L.push(`  - ... ${d.moreA} more ${unit}`);
  for (const x of d.b) L.push(`  + ${clip(JSON.stringify(x))}`);
  if (d.moreB) L.push(`  + ... ${d.moreB} more ${unit}`);
  return L;
}

/** Which ELF sections of two files differ (by name), with sizes. */
function elfSectionDiff(a: string, b: string): { sections: string[]; details: string[] } {
  const sa = readSections(a);
  const sb = readSections(b);
  const ba = readFileSync(a);
  const bb = readFileSync(b);
  const hash = (buf: Buffer, s: { offset: number; size: number }) => sha256Text(buf.subarray(s.offset, s.offset + s.size));
  const mb = new Map(sb.map((s) => [s.name, s]));
  const sections: string[] = [];
  const details: string[] = [];
  for (const s of sa) {
    const o = mb.get(s.name);
    mb.delete(s.name);
    if (!o) {
      sections.push(s.name);
      details.push(`section ${s.name}: only in the first build`);
      continue;
    }
    if (s.size !== o.size || hash(ba, s) !== hash(bb, o)) {
      sections.push(s.name);
      const strs = onlyIn(printableStrings(ba.subarray(s.offset, s.offset + s.size)), printableStrings(bb.subarray(o.offset, o.offset + o.size)), 3);
      details.push(`section ${s.name}: ${s.size === o.size ? `${s.size} bytes, content differs` : `${s.size} vs ${o.size} bytes`}`);
      details.push(...describeOnly(strs, 'strings'));
    }
  }
  for (const name of mb.keys()) {
    sections.push(name);
    details.push(`section ${name}: only in the second build`);
  }
  if (!sections.length) details.push('every section is identical: the ELF headers or section table differ (layout)');
  return { sections, details };
}

/** Why two files with different bytes differ (a and b are paths to the two versions). */
function explainFileDiff(path: string, a: string, b: string): FileDiff {
  const ba = readFileSync(a);
  const bb = readFileSync(b);
  if (hasElfMagic(ba) && hasElfMagic(bb)) {
    const { sections, details } = elfSectionDiff(a, b);
    return { path, why: `ELF: ${sections.length ? `sections ${sections.join(', ')} differ` : 'headers differ'}`, details };
  }
  if (isText(ba) && isText(bb)) {
    const d = onlyIn(ba.toString('utf8').split('\n'), bb.toString('utf8').split('\n'));
    const n = d.a.length + d.moreA + d.b.length + d.moreB;
    return {
      path,
      why: n
        ? `text: ${d.a.length + d.moreA} lines only in the first build, ${d.b.length + d.moreB} only in the second`
        : 'text: same lines in a different order',
      details: describeOnly(d, 'lines'),
    };
  }
  const d = onlyIn(printableStrings(ba), printableStrings(bb));
  const n = d.a.length + d.moreA + d.b.length + d.moreB;
  return {
    path,
    why: n ? 'binary: printable strings differ' : `binary: ${ba.length} vs ${bb.length} bytes, same printable strings`,
    details: describeOnly(d, 'strings'),
  };
}

/**
 * Every difference between two trees given their entry lists (archive order)
 * and their extracted roots: entries only in one, a different archive order,
 * type, mode, link target, and for files with different bytes, why.
 */
export function diffEntries(ea: readonly DiffEntry[], eb: readonly DiffEntry[], rootA: string, rootB: string): FileDiff[] {
  const out: FileDiff[] = [];
  const mb = new Map(eb.map((e) => [e.path, e]));
  const ma = new Map(ea.map((e) => [e.path, e]));
  for (const e of ea) if (!mb.has(e.path)) out.push({ path: e.path, why: `only in the first build (${e.type})`, details: [] });
  for (const e of eb) if (!ma.has(e.path)) out.push({ path: e.path, why: `only in the second build (${e.type})`, details: [] });
  const common = (xs: readonly DiffEntry[], other: Map<string, DiffEntry>) => xs.filter((e) => other.has(e.path)).map((e) => e.path);
  const oa = common(ea, mb);
  const ob = common(eb, ma);
  const firstMoved = oa.findIndex((p, i) => p !== ob[i]);
  if (firstMoved >= 0) {
    out.push({
      path: '(archive order)',
      why: `the entries are in a different order from entry ${firstMoved}`,
      details: [`  first build: ${oa.slice(firstMoved, firstMoved + 3).join(', ')}`, `  second build: ${ob.slice(firstMoved, firstMoved + 3).join(', ')}`],
    });
  }
  for (const a of ea) {
    const b = mb.get(a.path);
    if (!b) continue;
    if (a.type !== b.type) {
      out.push({ path: a.path, why: `a ${a.type} in the first build, a ${b.type} in the second`, details: [] });
      continue;
    }
    if (a.type === 'symlink' && a.digest !== b.digest) {
      out.push({ path: a.path, why: `link target ${a.digest} vs ${b.digest}`, details: [] });
      continue;
    }
    if (a.mode !== b.mode) out.push({ path: a.path, why: `mode ${a.mode.toString(8)} vs ${b.mode.toString(8)}`, details: [] });
    if (a.type === 'file' && a.digest !== b.digest) out.push(explainFileDiff(a.path, join(rootA, a.path), join(rootB, a.path)));
  }
  return out;
}

/** Plain text report lines for a list of differences. */
export function formatDiffs(diffs: readonly FileDiff[]): string[] {
  const L: string[] = [];
  for (const d of diffs) {
    L.push(`${d.path}: ${d.why}`);
    L.push(...d.details.map((l) => `  ${l}`));
  }
  return L;
}
