// `mpistack install <tarball> --dest DIR`: check the tarball against the
// SHA256SUMS beside it, unpack into a staging directory inside DIR refusing
// any entry that would land outside (`..`, absolute paths, links pointing
// out, writes through links), re-check every file against the tree's
// manifest, then rename into place. An interrupted install leaves no partial
// tree under the final name.
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, chmodSync, copyFileSync } from 'node:fs';
import { once } from 'node:events';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { sha256File, verifyTree, type VerifyProblem } from './manifest.js';
import { readTarGz, type ReadEntry } from './tar.js';

export class InstallError extends Error {
  constructor(readonly kind: 'checksum' | 'unsafe-entry' | 'format' | 'verify' | 'exists', message: string, readonly details: string[] = []) {
    super(message);
    this.name = 'InstallError';
  }
  report(): string {
    return [this.message, ...this.details.map((d) => `  ${d}`)].join('\n');
  }
}

export interface InstallOptions {
  tarball: string;
  dest: string;
  /** SHA256SUMS file (default: beside the tarball) */
  sums?: string;
  /** replace an existing tree of the same name */
  force?: boolean;
  log?: (line: string) => void;
}

export interface InstallResult { root: string; entries: number; checked: number; sha256: string; ms: number }

/** Check one archive path; returns its normalised form or a reason to refuse it. */
export function checkEntryPath(path: string): { ok: true; path: string } | { ok: false; why: string } {
  if (!path) return { ok: false, why: 'empty path' };
  if (path.startsWith('/')) return { ok: false, why: 'absolute path' };
  if (path.includes('\0')) return { ok: false, why: 'NUL in path' };
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { ok: false, why: "'..' component" };
  if (!parts.length) return { ok: false, why: 'path names the archive root' };
  return { ok: true, path: parts.join('/') };
}

/** Is a symlink at `path` with `target` confined to the top-level directory `top`? */
export function checkLinkTarget(path: string, target: string, top: string): string | undefined {
  if (!target) return 'empty link target';
  if (target.startsWith('/')) return `absolute link target ${target}`;
  const resolved = posix.normalize(posix.join(posix.dirname(path), target));
  if (resolved === '..' || resolved.startsWith('../') || !(resolved === top || resolved.startsWith(`${top}/`))) return `link target ${target} leaves ${top}/`;
  return undefined;
}

export function readSums(sumsPath: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of readFileSync(sumsPath, 'utf8').split('\n')) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (m) map.set(m[2], m[1]);
  }
  return map;
}

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
  mkdirSync(dest, { recursive: true });
  const stage = mkdtempSync(join(dest, '.mpistack-install-'));
  let top: string | undefined;
  let entries = 0;
  const links = new Set<string>();
  const seen = new Set<string>();
  try {
    const refuse = (e: ReadEntry, why: string): never => { throw new InstallError('unsafe-entry', `refusing ${basename(tarball)}: entry ${JSON.stringify(e.path)}: ${why}`); };
    await readTarGz(tarball, async (e, body) => {
      const c = checkEntryPath(e.path);
      if (!c.ok) refuse(e, c.why);
      const path = (c as { path: string }).path;
      const first = path.split('/')[0];
      if (top === undefined) top = first;
      else if (first !== top) refuse(e, `outside the archive's single top-level directory ${top}/`);
      // never write through a symlink that came from the archive
      const parts = path.split('/');
      for (let i = 1; i < parts.length; i++) if (links.has(parts.slice(0, i).join('/'))) refuse(e, `its parent ${parts.slice(0, i).join('/')} is a symlink`);
      if (seen.has(path)) refuse(e, 'appears twice');
      seen.add(path);
      const to = join(stage, path);
      entries++;
      switch (e.type) {
        case 'dir':
          mkdirSync(to, { recursive: true });
          return;
        case 'symlink': {
          const why = checkLinkTarget(path, e.linkname, top!);
          if (why) refuse(e, why);
          mkdirSync(dirname(to), { recursive: true });
          symlinkSync(e.linkname, to);
          links.add(path);
          return;
        }
        case 'hardlink': {
          const t = checkEntryPath(e.linkname);
          if (!t.ok) refuse(e, `hard link to ${e.linkname}: ${t.why}`);
          const tp = (t as { path: string }).path;
          if (!seen.has(tp) || links.has(tp)) refuse(e, `hard link to ${e.linkname}, which is not an earlier file of the archive`);
          mkdirSync(dirname(to), { recursive: true });
          copyFileSync(join(stage, tp), to);
          return;
        }
        case 'file': {
          mkdirSync(dirname(to), { recursive: true });
          const ws = createWriteStream(to, { mode: 0o600 });
          for await (const chunk of body) if (!ws.write(chunk)) await once(ws, 'drain');
          ws.end();
          await once(ws, 'finish');
          chmodSync(to, e.mode & 0o111 ? 0o755 : 0o644);
          return;
        }
        default:
          refuse(e, `unsupported entry type '${e.typeflag}' (devices, fifos are never packed)`);
      }
    });
    if (!top) throw new InstallError('format', `${basename(tarball)}: empty archive`);
    const root = join(stage, top);
    const { problems, checked } = await verifyTree(root);
    if (problems.length) throw new InstallError('verify', `${basename(tarball)}: unpacked tree does not match its manifest`, problems.map((p: VerifyProblem) => `${p.path}: ${p.problem}`));
    const final = join(dest, top);
    if (existsSync(final)) {
      if (!opts.force) throw new InstallError('exists', `${final} already exists (use --force to replace it)`);
      const old = join(stage, '.old');
      renameSync(final, old);
    }
    renameSync(root, final);
    log(`installed ${final}`);
    return { root: final, entries, checked, sha256, ms: Date.now() - started };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
