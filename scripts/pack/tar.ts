// A deterministic tar.gz writer and a strict reader.
//
// Writer: ustar headers, entries in the order given (the caller sorts), every
// mtime = SOURCE_DATE_EPOCH, uid/gid 0, uname/gname "root", modes normalised
// (0755 directories and executables, 0644 other files, 0777 symlinks), a pax
// 'x' header only for a path or link target too long for ustar (path/linkpath
// records only: no atime/ctime), gzip from node:zlib (header mtime 0, no file
// name, OS byte 3). Same entries in -> same bytes out, for a given zlib.
//
// Reader: strict and bounded. A checksum, a numeric field that is not octal
// (or a size past 2^53), a pax record that does not parse, a truncated body:
// TarFormatError naming the entry. Extended headers (pax 'x'/'g', GNU 'L'/'K')
// larger than MAX_EXTENDED_HEADER are refused before their body is read, so a
// small tarball declaring a 600 MB pax header cannot make the reader buffer it.
// The file and gunzip streams are joined with pipeline and destroyed when the
// reader stops early, so no stream error is left without a listener.
import { createReadStream, createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { pipeline } from 'node:stream';
import { createGunzip, createGzip, constants as zc } from 'node:zlib';
import { MpistackError } from '../foundation/errors.js';
import { PackError } from './run.js';

type EntryType = 'file' | 'dir' | 'symlink';

export interface TarEntry {
  /** archive path, posix, no leading '/', directories without trailing '/' */
  path: string;
  type: EntryType;
  /** executable bit for files (mode becomes 0755 or 0644) */
  executable?: boolean;
  /** for files: where to read the bytes from */
  source?: string;
  size?: number;
  /** for symlinks */
  target?: string;
}

const BLOCK = 512;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function splitUstar(path: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name) return { name, prefix };
  }
  return undefined;
}

function header(f: { name: string; prefix: string; mode: number; size: number; mtime: number; typeflag: string; linkname: string }): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  h.write(f.name, 0, 100, 'utf8');
  h.write(octal(f.mode, 8), 100, 8, 'latin1');
  h.write(octal(0, 8), 108, 8, 'latin1');
  h.write(octal(0, 8), 116, 8, 'latin1');
  h.write(octal(f.size, 12), 124, 12, 'latin1');
  h.write(octal(f.mtime, 12), 136, 12, 'latin1');
  h.write('        ', 148, 8, 'latin1');
  h.write(f.typeflag, 156, 1, 'latin1');
  h.write(f.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'latin1');
  h.write('root', 265, 32, 'latin1');
  h.write('root', 297, 32, 'latin1');
  h.write(octal(0, 8), 329, 8, 'latin1');
  h.write(octal(0, 8), 337, 8, 'latin1');
  h.write(f.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i];
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return h;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function padding(size: number): Buffer {
  const r = size % BLOCK;
  return Buffer.alloc(r ? BLOCK - r : 0, 0);
}

/** The header block(s) for one entry. */
function entryHeaders(e: TarEntry, mtime: number): Buffer[] {
  const typeflag = e.type === 'dir' ? '5' : e.type === 'symlink' ? '2' : '0';
  const mode = e.type === 'dir' ? 0o755 : e.type === 'symlink' ? 0o777 : e.executable ? 0o755 : 0o644;
  const path = e.type === 'dir' ? `${e.path}/` : e.path;
  const size = e.type === 'file' ? (e.size ?? 0) : 0;
  if (size >= 8 ** 11) throw new PackError('tar', `${e.path}: ${size} bytes is too large for a ustar size field`);
  const linkname = e.target ?? '';
  const out: Buffer[] = [];
  let split = splitUstar(path);
  const longLink = Buffer.byteLength(linkname) > 100;
  if (!split || longLink) {
    let records = '';
    if (!split) records += paxRecord('path', path);
    if (longLink) records += paxRecord('linkpath', linkname);
    const body = Buffer.from(records, 'utf8');
    const base = path.replace(/\/$/, '').split('/').pop()!.slice(0, 80);
    out.push(
      header({ name: `PaxHeaders/${base}`, prefix: '', mode: 0o644, size: body.length, mtime, typeflag: 'x', linkname: '' }),
      body,
      padding(body.length),
    );
    split = split ?? { name: path.slice(0, 100), prefix: '' };
  }
  out.push(header({ name: split.name, prefix: split.prefix, mode, size, mtime, typeflag, linkname: longLink ? linkname.slice(0, 100) : linkname }));
  return out;
}

async function write(ws: NodeJS.WritableStream, buf: Buffer): Promise<void> {
  if (!buf.length) return;
  if (!ws.write(buf)) await once(ws, 'drain');
}

/** Write entries (already in their final order) as a gzip'd tar to `outPath`. Returns the number of entries written. */
export async function writeTarGz(outPath: string, entries: readonly TarEntry[], mtime: number, level = 6): Promise<number> {
  const gz = createGzip({ level, memLevel: 8, strategy: zc.Z_DEFAULT_STRATEGY, chunkSize: 256 * 1024 });
  const file: WriteStream = createWriteStream(outPath);
  const done = new Promise<void>((res, rej) => {
    file.on('finish', () => res());
    file.on('error', rej);
    gz.on('error', rej);
  });
  gz.pipe(file);
  for (const e of entries) {
    for (const b of entryHeaders(e, mtime)) await write(gz, b);
    if (e.type === 'file' && e.size && e.size < 8 * 1024 * 1024) {
      const body = readFileSync(e.source!);
      if (body.length !== e.size) throw new PackError('tar', `${e.source}: size changed while packing (${e.size} -> ${body.length})`);
      await write(gz, body);
      await write(gz, padding(e.size));
    } else if (e.type === 'file' && e.size) {
      let n = 0;
      for await (const chunk of createReadStream(e.source!, { highWaterMark: 1024 * 1024 })) {
        n += (chunk as Buffer).length;
        await write(gz, chunk as Buffer);
      }
      if (n !== e.size) throw new PackError('tar', `${e.source}: size changed while packing (${e.size} -> ${n})`);
      await write(gz, padding(e.size));
    }
  }
  await write(gz, Buffer.alloc(BLOCK * 2, 0));
  gz.end();
  await done;
  return entries.length;
}

// ---------------------------------------------------------------- reader

export interface ReadEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';
  typeflag: string;
  mode: number;
  size: number;
  linkname: string;
}

function cstr(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return s.toString('utf8', 0, z < 0 ? len : z);
}

/** An octal header field (spaces and NULs around it allowed); TarFormatError for anything else. */
function parseOctal(b: Buffer, off: number, len: number, field: string): number {
  const s = b
    .toString('latin1', off, off + len)
    .replace(/\0.*$/s, '')
    .trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarFormatError(`the ${field} field is not an octal number (${JSON.stringify(b.toString('latin1', off, off + len))})`);
  const n = parseInt(s, 8);
  if (!Number.isSafeInteger(n)) throw new TarFormatError(`the ${field} field ${s} is too large`);
  return n;
}

/** The largest extended header (pax 'x'/'g', GNU long name 'L'/'K') the reader takes: Linux paths are at most 4096 bytes. */
const MAX_EXTENDED_HEADER = 1024 * 1024;

/** Byte source over a stream: exact reads, and bounded reads for large bodies. */
class Bytes {
  private bufs: Buffer[] = [];
  private len = 0;
  private ended = false;
  private it: AsyncIterator<Buffer>;
  constructor(stream: AsyncIterable<Buffer>) {
    this.it = stream[Symbol.asyncIterator]();
  }
  private async fill(n: number): Promise<void> {
    while (this.len < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else {
        this.bufs.push(r.value);
        this.len += r.value.length;
      }
    }
  }
  async exact(n: number): Promise<Buffer | undefined> {
    await this.fill(n);
    if (this.len < n) return undefined;
    const all = this.bufs.length === 1 ? this.bufs[0] : Buffer.concat(this.bufs);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.bufs = rest.length ? [rest] : [];
    this.len = rest.length;
    return out;
  }
  /** up to n bytes (at least 1 unless at end) */
  async some(n: number): Promise<Buffer | undefined> {
    await this.fill(1);
    if (!this.len) return undefined;
    const first = this.bufs[0];
    if (first.length <= n) {
      this.bufs.shift();
      this.len -= first.length;
      return first;
    }
    this.bufs[0] = first.subarray(n);
    this.len -= n;
    return first.subarray(0, n);
  }
}

/** A tarball the strict reader refuses: names the entry and what is wrong with it. */
export class TarFormatError extends MpistackError {
  override name = 'TarFormatError';
}

/**
 * Read a .tar.gz entry by entry. `onEntry` is called with the header; for
 * files it receives an async iterator of the body's chunks, which it must
 * consume fully (or the reader skips what is left).
 */
export async function readTarGz(path: string, onEntry: (e: ReadEntry, body: AsyncIterable<Buffer>) => Promise<void>): Promise<void> {
  // pipeline: an error of either stream reaches the iterator, none is left unhandled
  const gunzip = pipeline(createReadStream(path), createGunzip(), () => {
    /* reported through the iterator */
  });
  try {
    await readEntries(new Bytes(gunzip as AsyncIterable<Buffer>), onEntry);
  } finally {
    gunzip.destroy();
  }
}

async function readEntries(src: Bytes, onEntry: (e: ReadEntry, body: AsyncIterable<Buffer>) => Promise<void>): Promise<void> {
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  let previous = '(the first entry)';
  let extendedBytes = 0; // extended headers read since the last entry: bounded together, not only one by one
  for (;;) {
    const h = await src.exact(BLOCK);
    if (!h) throw new TarFormatError('truncated archive: no end-of-archive blocks');
    if (h.every((b) => b === 0)) return;
    const where = `header after ${previous}`;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    const field = <T>(f: () => T): T => {
      try {
        return f();
      } catch (e) {
        throw e instanceof TarFormatError ? new TarFormatError(`${where}: ${e.message}`) : e;
      }
    };
    if (sum !== field(() => parseOctal(h, 148, 8, 'checksum'))) throw new TarFormatError(`${where}: bad header checksum`);
    const typeflag = String.fromCharCode(h[156] || 48);
    const size = field(() => parseOctal(h, 124, 12, 'size'));
    const readBody = async (): Promise<Buffer> => {
      if (size > MAX_EXTENDED_HEADER) {
        throw new TarFormatError(
          `${where}: a '${typeflag}' extended header of ${size} bytes is larger than the ${MAX_EXTENDED_HEADER} bytes accepted ` +
            '(paths are at most 4096 bytes): a damaged or hostile tarball',
        );
      }
      extendedBytes += size;
      if (extendedBytes > MAX_EXTENDED_HEADER) {
        throw new TarFormatError(`${where}: extended headers of more than ${MAX_EXTENDED_HEADER} bytes in all before one entry: a damaged or hostile tarball`);
      }
      const b = await src.exact(size + padding(size).length);
      if (!b) throw new TarFormatError(`${where}: truncated archive`);
      return b.subarray(0, size);
    };
    if (typeflag === 'x' || typeflag === 'g') {
      const body = await readBody();
      // records are `<length in bytes> <key>=<value>\n`: lengths count bytes, so parse the bytes
      for (let i = 0; typeflag === 'x' && i < body.length;) {
        const sp = body.indexOf(0x20, i);
        const lenText = sp > i ? body.toString('latin1', i, sp) : '';
        const len = /^[0-9]+$/.test(lenText) ? Number(lenText) : NaN;
        const eq = sp < 0 ? -1 : body.indexOf(0x3d, sp + 1);
        if (!Number.isSafeInteger(len) || len <= sp - i + 1 || i + len > body.length || body[i + len - 1] !== 0x0a || eq < 0 || eq >= i + len - 1) {
          throw new TarFormatError(`${where}: bad pax record at byte ${i}`);
        }
        pax[body.toString('utf8', sp + 1, eq)] = body.toString('utf8', eq + 1, i + len - 1);
        i += len;
      }
      continue;
    }
    if (typeflag === 'L' || typeflag === 'K') {
      const v = cstr(await readBody(), 0, size);
      if (typeflag === 'L') longName = v;
      else longLink = v;
      continue;
    }
    const magic = h.toString('latin1', 257, 262);
    const prefix = magic === 'ustar' ? cstr(h, 345, 155) : '';
    let name = cstr(h, 0, 100);
    if (prefix) name = `${prefix}/${name}`;
    name = pax.path ?? longName ?? name;
    const linkname = pax.linkpath ?? longLink ?? cstr(h, 157, 100);
    if (pax.size !== undefined && !/^[0-9]+$/.test(pax.size)) throw new TarFormatError(`${name}: pax size ${JSON.stringify(pax.size)} is not a whole number`);
    const realSize = pax.size !== undefined ? Number(pax.size) : size;
    if (!Number.isSafeInteger(realSize)) throw new TarFormatError(`${name}: size ${pax.size} is too large`);
    pax = {};
    longName = undefined;
    longLink = undefined;
    extendedBytes = 0;
    const type: ReadEntry['type'] =
      typeflag === '0' || typeflag === '7' ? 'file' : typeflag === '5' ? 'dir' : typeflag === '2' ? 'symlink' : typeflag === '1' ? 'hardlink' : 'other';
    const entry: ReadEntry = { path: name, type, typeflag, mode: field(() => parseOctal(h, 100, 8, 'mode')), size: type === 'file' ? realSize : 0, linkname };
    previous = JSON.stringify(name);
    let left = entry.size;
    const body: AsyncIterable<Buffer> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          if (left <= 0) return { done: true, value: undefined };
          const b = await src.some(left);
          if (!b) throw new TarFormatError('truncated archive');
          left -= b.length;
          return { done: false, value: b };
        },
      }),
    };
    await onEntry(entry, body);
    while (left > 0) {
      const b = await src.some(left);
      if (!b) throw new TarFormatError('truncated archive');
      left -= b.length;
    }
    const pad = padding(entry.size).length;
    if (pad && !(await src.exact(pad))) throw new TarFormatError('truncated archive');
  }
}
