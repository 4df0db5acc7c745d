// Moving a staged tree into the prefix so that a failure leaves the prefix
// as it was: every file, or whole directory the prefix does not have yet, is
// renamed in (same file system), files it replaces
// are first renamed aside into a backup directory, and a failure undoes the
// steps done so far in reverse order. Directories created on the way are
// removed again on rollback.
import { lstat, mkdir, readdir, rename, rm, rmdir, copyFile, readlink, symlink, unlink } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { StageError } from './errors.js';

/**
 * Copy the contents of directory `from` into `to` (created): symlinks as
 * symlinks, modes and times kept, reflinks where the file system has them.
 * coreutils' `cp -a`: for Boost's 15,000-file tree Node's fs.cp took 18-21 s
 * here, `cp -a` 8-16 s (this disk's writes are the floor). Copies, not hard
 * links: an installed file edited in place (etc/openmpi-mca-params.conf) must
 * not change the build cache entry it came from.
 */
export async function copyTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  await new Promise<void>((resolve, reject) => {
    const p = spawn('cp', ['-a', '--', `${from}/.`, to], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.on('error', reject);
    p.on('close', (code) =>
      code === 0 ? resolve() : reject(new StageError(`copying ${from} to ${to} failed (cp exit ${code}): ${err.trim().split('\n').slice(0, 3).join('; ')}`)),
    );
  });
}

type Step =
  { kind: 'mkdir'; path: string } | { kind: 'aside'; from: string; to: string } | { kind: 'place'; path: string } | { kind: 'placeDir'; path: string };

interface Merge {
  /** undo everything (leaves the prefix as before the merge) */
  rollback(): Promise<void>;
  /** forget the undo information (drops replaced files) */
  commit(): Promise<void>;
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    const st = await lstat(from);
    if (st.isSymbolicLink()) await symlink(await readlink(from), to);
    else await copyFile(from, to);
    await unlink(from);
  }
}

/** Merge `staged` (a tree laid out like the prefix) into `prefix`; backup dir must be on the prefix's file system. */
export async function mergeTree(staged: string, prefix: string, backupDir: string): Promise<Merge> {
  const steps: Step[] = [];
  const undo = async () => {
    for (const s of steps.reverse()) {
      if (s.kind === 'place') await rm(s.path, { force: true });
      else if (s.kind === 'placeDir') await rm(s.path, { recursive: true, force: true });
      else if (s.kind === 'aside') await moveFile(s.to, s.from);
      else await rmdir(s.path).catch(() => undefined);
    }
    steps.length = 0;
    await rm(backupDir, { recursive: true, force: true });
  };
  try {
    const mk = async (d: string) => {
      const missing: string[] = [];
      for (let p = d; !(await exists(p)); p = dirname(p)) missing.unshift(p);
      for (const p of missing) {
        await mkdir(p);
        steps.push({ kind: 'mkdir', path: p });
      }
    };
    await mk(prefix);
    await mkdir(backupDir, { recursive: true });
    const aside = async (dest: string, rel: string) => {
      const to = join(backupDir, rel);
      await mkdir(dirname(to), { recursive: true });
      await moveFile(dest, to);
      steps.push({ kind: 'aside', from: dest, to });
    };
    const mergeDir = async (rel: string): Promise<void> => {
      const entries = (await readdir(join(staged, rel), { withFileTypes: true })).sort((x, y) => (x.name < y.name ? -1 : 1));
      for (const e of entries) {
        const r = join(rel, e.name);
        const dest = join(prefix, r);
        const st = await lstat(dest).catch(() => null);
        if (e.isDirectory()) {
          if (st?.isDirectory()) {
            await mergeDir(r);
            continue;
          }
          if (st) await aside(dest, r);
          // nothing of it in the prefix yet: one rename moves the whole directory
          // (a first install or a restore into an empty prefix: Boost's 15,000
          // headers in one step); across file systems, file by file
          try {
            await rename(join(staged, r), dest);
            steps.push({ kind: 'placeDir', path: dest });
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
            await mk(dest);
            await mergeDir(r);
          }
          continue;
        }
        if (st) {
          if (st.isDirectory()) throw new StageError(`cannot replace directory ${dest} with a file`);
          await aside(dest, r);
        }
        await moveFile(join(staged, r), dest);
        steps.push({ kind: 'place', path: dest });
      }
    };
    await mergeDir('');
  } catch (e) {
    await undo();
    throw e;
  }
  return {
    rollback: undo,
    commit: async () => {
      steps.length = 0;
      await rm(backupDir, { recursive: true, force: true });
    },
  };
}
