// `mpistack install <tarball> --dest DIR`: check the tarball against the
// SHA256SUMS beside it, unpack into a staging directory inside DIR refusing
// any entry that would land outside (the rules of archivepath.ts: `..`,
// absolute paths, writes through links, links whose target resolves outside
// through the archive's own links), re-check every file against the tree's
// manifest, then rename into place. Only files, directories and symlinks are
// created, files 0644/0755 and owned by the installing user: no device, no
// FIFO, no setuid/setgid bit, no foreign owner. The reader (tar.ts) refuses
// extended headers over 1 MiB, so memory stays bounded whatever the tarball.
//
// On disk, all inside DEST so that every move is a rename on one file system:
//   DEST/.mpistack-install-<pid>-<random>/<top>/   the tree being unpacked and verified (the stage)
//   DEST/<top>.mpistack-previous-<pid>             --force only: the tree being replaced, for the moment
//                                                  between the two renames (a visible name, not a hidden one)
//   DEST/<top>                                     the installed tree
// Crash rules:
//   - A failed install removes its stage, and DEST itself (with the parents it
//     made) when it created DEST; nothing else in DEST is touched.
//   - Every install first cleans up after killed ones (their pid is gone):
//     their stages are removed; a <top>.mpistack-previous-<pid> is renamed back
//     to <top> when <top> is missing (killed between the two renames), and
//     removed when <top> is there (the replacement had completed).
//   - --force moves the previous tree aside only once the new one is verified;
//     if putting the new one in place fails, the previous one is renamed back.
import {
  chmodSync,
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  rmdirSync,
  symlinkSync,
} from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfinementChecker, type EntryKind } from '../foundation/archivepath.js';
import { processAlive } from '../foundation/concurrency.js';
import { MpistackError } from '../foundation/errors.js';
import { sha256File } from '../foundation/hash.js';
import { verifyPackedTree, type VerifyProblem } from './packmanifest.js';
import { readTarGz, TarFormatError, type ReadEntry } from './tar.js';

/** The tarball was not installed; `kind` says why, `lines` the further cases (not `details`: uvu's reporter splits that). */
export class InstallError extends MpistackError {
  override name = 'InstallError';
  constructor(
    readonly kind: 'checksum' | 'unsafe-entry' | 'format' | 'verify' | 'exists' | 'dest',
    message: string,
    readonly lines: string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  override report(): string {
    return [this.message, ...this.lines.map((d) => `  ${d}`)].join('\n');
  }
}

interface InstallOptions {
  tarball: string;
  dest: string;
  /** SHA256SUMS file (default: beside the tarball) */
  sums?: string;
  /** replace an existing tree of the same name */
  force?: boolean;
  log?: (line: string) => void;
}

interface InstallResult {
  root: string;
  entries: number;
  checked: number;
  sha256: string;
  ms: number;
}

const STAGE_PREFIX = '.mpistack-install-';
const STAGE_RE = /^\.mpistack-install-(\d+)-[A-Za-z0-9]{6}$/;
const PREVIOUS_RE = /^(.+)\.mpistack-previous-(\d+)$/;
const previousName = (top: string) => `${top}.mpistack-previous-${process.pid}`;

function readSums(sumsPath: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of readFileSync(sumsPath, 'utf8').split('\n')) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (m) map.set(m[2], m[1]);
  }
  return map;
}

/** What killed installs left in DEST: stages removed, a tree moved aside by --force put back (or removed once replaced). */
function recoverInterrupted(dest: string, log: (line: string) => void = () => {}): void {
  let names: string[];
  try {
    names = readdirSync(dest);
  } catch {
    return;
  }
  for (const n of names) {
    const prev = PREVIOUS_RE.exec(n);
    if (prev && !processAlive(Number(prev[2]))) {
      const top = prev[1];
      if (existsSync(join(dest, top))) {
        rmSync(join(dest, n), { recursive: true, force: true });
        log(`removed ${n}: a killed --force install had already replaced ${top}`);
      } else {
        renameSync(join(dest, n), join(dest, top));
        log(`put back ${top}: a killed --force install had moved it to ${n}`);
      }
    }
  }
  for (const n of names) {
    const m = STAGE_RE.exec(n);
    if (m && !processAlive(Number(m[1]))) {
      rmSync(join(dest, n), { recursive: true, force: true });
      log(`removed ${n}, left by a killed install (pid ${m[1]})`);
    }
  }
}

const KIND: Partial<Record<ReadEntry['type'], EntryKind>> = { file: 'file', dir: 'dir', symlink: 'symlink', hardlink: 'hardlink' };

export async function install(opts: InstallOptions): Promise<InstallResult> {
  const started = Date.now();
  const log = opts.log ?? (() => {});
  const tarball = resolve(opts.tarball);
  const sumsPath = resolve(opts.sums ?? join(dirname(tarball), 'SHA256SUMS'));
  if (!existsSync(sumsPath)) throw new InstallError('checksum', `${sumsPath}: no SHA256SUMS beside the tarball; refusing to install an unchecked tarball`);
  const want = readSums(sumsPath).get(basename(tarball));
  if (!want) throw new InstallError('checksum', `${sumsPath} has no line for ${basename(tarball)}`);
  const sha256 = await sha256File(tarball);
  if (sha256 !== want) throw new InstallError('checksum', `${basename(tarball)}: sha256 ${sha256} does not match SHA256SUMS (${want})`);
  log(`checksum ok: ${sha256}`);

  const dest = resolve(opts.dest);
  let createdFrom: string | undefined;
  try {
    createdFrom = mkdirSync(dest, { recursive: true });
  } catch (e) {
    throw new InstallError('dest', `cannot create --dest ${dest}: ${(e as Error).message}`, [], { cause: e });
  }
  recoverInterrupted(dest, log);
  const stage = mkdtempSync(join(dest, `${STAGE_PREFIX}${process.pid}-`));
  let installed = false;
  try {
    const r = await unpackVerifyAndPlace(tarball, dest, stage, opts, log);
    installed = true;
    return { ...r, sha256, ms: Date.now() - started };
  } finally {
    rmSync(stage, { recursive: true, force: true });
    // a --dest this install created goes again when nothing was installed (and only if empty: rmdir refuses otherwise)
    if (!installed && createdFrom !== undefined) {
      for (let d = dest; ; d = dirname(d)) {
        try {
          rmdirSync(d);
        } catch {
          break;
        }
        if (d === createdFrom) break;
      }
    }
  }
}

async function unpackVerifyAndPlace(
  tarball: string,
  dest: string,
  stage: string,
  opts: InstallOptions,
  log: (line: string) => void,
): Promise<{ root: string; entries: number; checked: number }> {
  let top: string | undefined;
  let checker: ConfinementChecker | undefined;
  let entries = 0;
  const seen = new Set<string>();
  const name = basename(tarball);
  const refuse = (e: ReadEntry, why: string): never => {
    throw new InstallError('unsafe-entry', `refusing ${name}: entry ${JSON.stringify(e.path)}: ${why}`);
  };
  try {
    await readTarGz(tarball, async (e, body) => {
      const kind = KIND[e.type];
      if (!kind) refuse(e, `unsupported entry type '${e.typeflag}' (devices, fifos are never packed)`);
      if (top === undefined) {
        const first = e.path.split('/').filter((p) => p !== '' && p !== '.')[0];
        top = first ?? '';
        checker = new ConfinementChecker({ scope: top });
      }
      const problem = checker!.add({ path: e.path, kind: kind!, linkTarget: e.type === 'symlink' || e.type === 'hardlink' ? e.linkname : undefined });
      if (problem) refuse(e, problem.why);
      const path = e.path
        .split('/')
        .filter((p) => p !== '' && p !== '.')
        .join('/');
      if (seen.has(path)) refuse(e, 'appears twice');
      seen.add(path);
      const to = join(stage, path);
      entries++;
      switch (e.type) {
        case 'dir':
          mkdirSync(to, { recursive: true });
          return;
        case 'symlink':
          mkdirSync(dirname(to), { recursive: true });
          symlinkSync(e.linkname, to);
          return;
        case 'hardlink': {
          const tp = e.linkname
            .split('/')
            .filter((p) => p !== '' && p !== '.')
            .join('/');
          mkdirSync(dirname(to), { recursive: true });
          copyFileSync(join(stage, tp), to);
          return;
        }
        default: {
          mkdirSync(dirname(to), { recursive: true });
          // pipeline: a failing body (truncated archive) or file ends both, and no 'error' goes unheard
          await pipeline(Readable.from(body), createWriteStream(to, { mode: 0o600 }));
          chmodSync(to, e.mode & 0o111 ? 0o755 : 0o644);
        }
      }
    });
  } catch (e) {
    if (e instanceof TarFormatError) throw new InstallError('format', `${name}: not a well-formed tarball: ${e.message}`, [], { cause: e });
    throw e;
  }
  if (!top) throw new InstallError('format', `${name}: empty archive`);
  const linkProblems = checker!.finish();
  if (linkProblems.length) {
    const [first, ...more] = linkProblems;
    throw new InstallError(
      'unsafe-entry',
      `refusing ${name}: entry ${JSON.stringify(first.path)}: ${first.why}`,
      more.map((p) => `also ${p.path}: ${p.why}`),
    );
  }
  const root = join(stage, top);
  let verified: Awaited<ReturnType<typeof verifyPackedTree>>;
  try {
    verified = await verifyPackedTree(root);
  } catch (e) {
    throw new InstallError('verify', `${name}: ${(e as Error).message}`, [], { cause: e });
  }
  const { problems, checked } = verified;
  if (problems.length)
    throw new InstallError(
      'verify',
      `${name}: unpacked tree does not match its manifest`,
      problems.map((p: VerifyProblem) => `${p.path}: ${p.problem}`),
    );
  const final = join(dest, top);
  if (!existsSync(final)) {
    renameSync(root, final);
  } else {
    if (!opts.force) throw new InstallError('exists', `${final} already exists (use --force to replace it)`);
    const previous = join(dest, previousName(top));
    renameSync(final, previous);
    try {
      renameSync(root, final);
    } catch (e) {
      renameSync(previous, final);
      throw e;
    }
    rmSync(previous, { recursive: true, force: true });
  }
  log(`installed ${final}`);
  return { root: final, entries, checked };
}
