// Tar archives written header by header, for fault tests: every field of the
// 512-byte ustar header is ours to set, including values no well-behaved
// writer produces (a signed checksum, a non-UTF-8 user name, a size field in
// base-256 or garbage, device nodes, FIFOs, setuid bits, foreign owners, pax
// and GNU long-name headers of any size). Layout (POSIX ustar):
//   name 0..100 | mode 100..108 | uid 108..116 | gid 116..124 | size 124..136 | mtime 136..148
//   chksum 148..156 | typeflag 156 | linkname 157..257 | magic 257..263 | version 263..265
//   uname 265..297 | gname 297..329 | devmajor 329..337 | devminor 337..345 | prefix 345..500
import { gzipSync } from 'node:zlib';

export interface RawEntry {
  name: string | Buffer;
  /** typeflag: '0' file, '1' hard link, '2' symlink, '3' char device, '4' block device, '5' dir, '6' FIFO, 'x' pax, 'L' GNU long name, 'K' GNU long link */
  type?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkname?: string | Buffer;
  uname?: string | Buffer;
  gname?: string | Buffer;
  devmajor?: number;
  devminor?: number;
  prefix?: string | Buffer;
  /** the data after the header (padded to 512); its length is the size unless `size` or `sizeField` says otherwise */
  body?: Buffer;
  size?: number;
  /** the 12 raw bytes of the size field */
  sizeField?: Buffer;
  /** how the checksum is computed: POSIX (unsigned bytes), as old writers did (signed bytes), or a given number */
  checksum?: 'unsigned' | 'signed' | number;
  /** 'gnu': magic "ustar  \0" (old GNU format) */
  magic?: 'ustar' | 'gnu';
}

const BLOCK = 512;
const octal = (n: number, width: number) => Buffer.from(`${n.toString(8).padStart(width - 1, '0')}\0`, 'latin1');
const bytes = (v: string | Buffer) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v);

export function header(e: RawEntry): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  const put = (v: Buffer, off: number, len: number) => v.copy(h, off, 0, Math.min(len, v.length));
  const size = e.size ?? e.body?.length ?? 0;
  put(bytes(e.name), 0, 100);
  put(octal(e.mode ?? (e.type === '5' ? 0o755 : 0o644), 8), 100, 8);
  put(octal(e.uid ?? 0, 8), 108, 8);
  put(octal(e.gid ?? 0, 8), 116, 8);
  put(e.sizeField ?? octal(size, 12), 124, 12);
  put(octal(e.mtime ?? 315532800, 12), 136, 12);
  h.write(e.type ?? '0', 156, 1, 'latin1');
  put(bytes(e.linkname ?? ''), 157, 100);
  put(Buffer.from(e.magic === 'gnu' ? 'ustar  \0' : 'ustar\x0000', 'latin1'), 257, 8);
  put(bytes(e.uname ?? 'root'), 265, 32);
  put(bytes(e.gname ?? 'root'), 297, 32);
  put(octal(e.devmajor ?? 0, 8), 329, 8);
  put(octal(e.devminor ?? 0, 8), 337, 8);
  if (e.prefix !== undefined) put(bytes(e.prefix), 345, 155);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += e.checksum === 'signed' ? (h[i] << 24) >> 24 : h[i];
  const value = typeof e.checksum === 'number' ? e.checksum : sum;
  // a negative (signed) sum is written as GNU tar reads it back: octal of the two's complement in 6 digits
  const field = value < 0 ? value & 0o777777 : value;
  h.write(`${field.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return h;
}

const pad = (n: number) => Buffer.alloc((BLOCK - (n % BLOCK)) % BLOCK, 0);

/** A tar stream of the entries and the two zero blocks that end it. */
export function rawTar(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(header(e));
    if (e.body) parts.push(e.body, pad(e.body.length));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}

export const rawTarGz = (entries: RawEntry[]): Buffer => gzipSync(rawTar(entries));

/** A pax extended header body ('x'): `len key=value\n` records. */
export function paxBody(records: Record<string, string>): Buffer {
  let out = '';
  for (const [k, v] of Object.entries(records)) {
    const body = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(body) + 1;
    while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
    out += `${len}${body}`;
  }
  return Buffer.from(out, 'utf8');
}

/** Convenience: directory, file and symlink entries of a plain tree. */
export const dir = (name: string, extra: Partial<RawEntry> = {}): RawEntry => ({ name: name.endsWith('/') ? name : `${name}/`, type: '5', ...extra });
export const file = (name: string, content = '', extra: Partial<RawEntry> = {}): RawEntry => ({ name, type: '0', body: Buffer.from(content), ...extra });
export const symlink = (name: string, target: string, extra: Partial<RawEntry> = {}): RawEntry => ({ name, type: '2', linkname: target, ...extra });
export const hardlink = (name: string, target: string, extra: Partial<RawEntry> = {}): RawEntry => ({ name, type: '1', linkname: target, ...extra });
