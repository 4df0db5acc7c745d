// Unpacking a verified source archive without writing outside the destination.
//
// The check sees exactly what the extractor extracts, because it asks the
// extractor: a first pass lists the archive with GNU tar itself (`tar -tv -P
// --quoting-style=c --numeric-owner`, names as stored, every byte escaped, so
// each line parses unambiguously), and only then does a second pass extract
// with the same GNU tar. An entry GNU tar cannot read makes the listing fail
// (non-zero exit) and so the unpack; a listing line this module cannot parse
// fails it too. No second parser can disagree with the extractor about what
// an entry is (the tar package skipped entries GNU tar extracts, e.g. one
// with a signed header checksum).
//
// Every listed entry goes through the archive path rules of
// scripts/foundation/archivepath.ts (no absolute path, no `..`, nothing written
// through a symlink of the archive, every symlink resolved through the
// archive's symlinks stays inside); device nodes and FIFOs are refused.
// Extraction never restores owners or special bits: `--no-same-owner
// --no-same-permissions` under umask 022, so no setuid/setgid file and no
// file of a foreign owner is created even when running as root. Compression
// (gz, bz2, xz) is detected by GNU tar in both passes.
import { spawn } from 'node:child_process';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ConfinementChecker, type EntryKind } from '../foundation/archivepath.js';
import { ArchiveReadError, UnsafeArchiveError } from './errors.js';

/** One line of GNU tar's verbose listing, names as raw bytes (latin1 strings: one char per byte). */
interface ListedEntry {
  /** the mode string's type letter: - d l h c b p C ... */
  type: string;
  /** the mode string, e.g. -rwsr-xr-x */
  mode: string;
  uid: number;
  gid: number;
  /** name as stored (bytes as latin1) */
  name: string;
  /** symlink target or hard link target (bytes as latin1) */
  link?: string;
}

/** Bytes held in a latin1 string, shown as UTF-8 (what a terminal shows). */
const shown = (latin1: string): string => Buffer.from(latin1, 'latin1').toString('utf8');

const ESCAPES: Record<string, number> = { '\\': 0x5c, '"': 0x22, a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '?': 0x3f, "'": 0x27 };

/** Parse a C-quoted string (GNU quotearg's c style) at `s[i] === '"'`; returns its bytes as latin1 and the index after it. */
function parseCString(s: string, i: number): { value: string; end: number } | undefined {
  if (s[i] !== '"') return undefined;
  const bytes: number[] = [];
  for (let j = i + 1; j < s.length; j++) {
    const ch = s[j];
    if (ch === '"') return { value: Buffer.from(bytes).toString('latin1'), end: j + 1 };
    if (ch !== '\\') {
      for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
      continue;
    }
    const e = s[++j];
    if (e === undefined) return undefined;
    if (e in ESCAPES) {
      bytes.push(ESCAPES[e]);
      continue;
    }
    const oct = /^[0-7]{1,3}/.exec(s.slice(j, j + 3));
    if (!oct) return undefined;
    bytes.push(parseInt(oct[0], 8) & 0xff);
    j += oct[0].length - 1;
  }
  return undefined;
}

/** One listing line; undefined when it is not in the expected shape. */
function parseListingLine(line: string): ListedEntry | undefined {
  const q = line.indexOf('"');
  if (q < 0) return undefined;
  const meta = /^(\S)(\S{9}) +(\d+)\/(\d+) /.exec(line.slice(0, q));
  if (!meta) return undefined;
  const name = parseCString(line, q);
  if (!name) return undefined;
  const rest = line.slice(name.end);
  const entry: ListedEntry = { type: meta[1], mode: meta[1] + meta[2], uid: Number(meta[3]), gid: Number(meta[4]), name: name.value };
  if (rest === '') return entry;
  const linkMark = rest.startsWith(' -> ') ? 4 : rest.startsWith(' link to ') ? 9 : -1;
  if (linkMark < 0) return undefined;
  const link = parseCString(rest, linkMark);
  if (!link || link.end !== rest.length) return undefined;
  entry.link = link.value;
  return entry;
}

const KIND: Record<string, EntryKind> = { '-': 'file', C: 'file', d: 'dir', l: 'symlink', h: 'hardlink' };
const REFUSED: Record<string, string> = {
  c: 'is a character device node: a source archive never needs one',
  b: 'is a block device node: a source archive never needs one',
  p: 'is a FIFO: a source archive never needs one (reading it would block the build)',
};

function runTar(args: string[], onLine: ((line: string) => void) | undefined): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    // umask 022: --no-same-permissions takes the modes from the archive less the umask; ours, not the caller's
    const child = spawn('sh', ['-c', 'umask 022 && exec tar "$@"', 'tar', ...args], {
      stdio: ['ignore', onLine ? 'pipe' : 'ignore', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += b.toString();
    });
    child.on('error', reject);
    if (onLine) createInterface({ input: child.stdout!, crlfDelay: Infinity }).on('line', onLine);
    child.on('close', (code) => resolvePromise({ code, stderr }));
  });
}

/** List the archive with GNU tar and throw at the first entry that is unsafe or cannot be read. Returns the names (bytes as latin1). */
async function checkArchive(archive: string): Promise<string[]> {
  const names: string[] = [];
  const checker = new ConfinementChecker({ allowRootEntry: true });
  let bad: Error | undefined;
  const listed = await runTar(['-t', '-v', '-P', '--quoting-style=c', '--numeric-owner', '-f', archive], (line) => {
    if (bad) return;
    const e = parseListingLine(line);
    if (!e) {
      bad = new ArchiveReadError(archive, `GNU tar listed an entry this check cannot parse: ${JSON.stringify(line)}`);
      return;
    }
    names.push(e.name);
    const refused = REFUSED[e.type];
    const kind = KIND[e.type];
    if (refused || !kind) {
      bad = new UnsafeArchiveError(
        archive,
        shown(e.name),
        refused ?? `has an entry type GNU tar lists as '${e.type}' (only files, directories, symlinks and hard links are unpacked)`,
      );
      return;
    }
    const p = checker.add({ path: e.name, kind, linkTarget: e.link });
    if (p) bad = new UnsafeArchiveError(archive, shown(p.path), shown(p.why));
  });
  if (listed.code !== 0)
    throw new ArchiveReadError(archive, `GNU tar cannot read it (exit ${listed.code}): ${listed.stderr.trim().split('\n').slice(-5).join('; ')}`);
  if (bad) throw bad;
  const [linkProblem] = checker.finish();
  if (linkProblem) throw new UnsafeArchiveError(archive, shown(linkProblem.path), shown(linkProblem.why));
  return names;
}

/** GNU tar extraction: owners and setuid/setgid/sticky bits never restored. */
async function extract(archive: string, dest: string): Promise<void> {
  const r = await runTar(['-x', '-f', archive, '-C', dest, '--no-same-owner', '--no-same-permissions', '--delay-directory-restore'], undefined);
  if (r.code !== 0) throw new ArchiveReadError(archive, `tar -x exited ${r.code}: ${r.stderr.trim().split('\n').slice(-5).join('; ')}`);
}

/** Unpack into `dest` (created); returns the single top directory if there is one, else dest. A failed extraction removes what it made. */
export async function unpack(archive: string, dest: string): Promise<string> {
  await checkArchive(archive);
  const created = await mkdir(dest, { recursive: true });
  try {
    await extract(archive, dest);
  } catch (e) {
    if (created !== undefined) await rm(created, { recursive: true, force: true });
    throw e;
  }
  const top = await readdir(dest, { withFileTypes: true });
  return top.length === 1 && top[0].isDirectory() ? join(dest, top[0].name) : dest;
}
