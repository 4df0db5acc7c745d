// Hashing: the sha256 of a file and of a text, and the one canonical JSON text
// of a value (sorted keys at every level), so that equal values hash equal.
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readFileSync } from 'node:fs';

/** Below this size a file is hashed from one read: stream setup costs more than hashing a few hundred KB. */
const ONE_READ_MAX = 8 * 1024 * 1024;

/** sha256 (hex) of a file's bytes; `size` saves an lstat when the caller has it. */
export async function sha256File(path: string, size?: number): Promise<string> {
  const h = createHash('sha256');
  if ((size ?? lstatSync(path).size) < ONE_READ_MAX) return h.update(readFileSync(path)).digest('hex');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** sha256 (hex) of a text (UTF-8) or bytes. */
export function sha256Text(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** JSON with object keys sorted at every level and undefined members left out: one text per value. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined);
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
