// The staging tree starts as hard links to the input prefix (a data copy of
// a large prefix costs more than gzip'ing it). Every change in staging must
// therefore replace a file, never write into it: these helpers are the only
// way pack.ts, text.ts and closure.ts change a staged file.
import { copyFileSync, linkSync, lstatSync, renameSync, rmSync, writeFileSync } from 'node:fs';

const TMP_SUFFIX = '.mpistack-tmp';

/**
 * Write `data` to a new inode and rename it over `path` (a hard link to the
 * input stays untouched). When either step fails (`path` is a directory, the
 * disk is full), the temporary file is removed before the error is thrown.
 */
export function writeReplace(path: string, data: string | Buffer, mode?: number): void {
  let m = mode;
  if (m === undefined) {
    try {
      m = lstatSync(path).mode & 0o777;
    } catch {
      m = 0o644;
    }
  }
  const tmp = path + TMP_SUFFIX;
  try {
    writeFileSync(tmp, data, { mode: m });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Give `path` its own inode before a tool (patchelf, strip) rewrites it in place. */
export function privatize(path: string): void {
  const st = lstatSync(path);
  if (!st.isFile() || st.nlink <= 1) return;
  const tmp = path + TMP_SUFFIX;
  copyFileSync(path, tmp);
  renameSync(tmp, path);
}

/** Hard-link `from` to `to`, or copy when linking is not possible (another filesystem, no permission). */
export function linkOrCopy(from: string, to: string): 'link' | 'copy' {
  try {
    linkSync(from, to);
    return 'link';
  } catch {
    copyFileSync(from, to);
    return 'copy';
  }
}
