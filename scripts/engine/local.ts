// Sources that are this checkout itself (the Node binding, the runtime): no
// download, but the same contract as a release archive. Their sha256 is a
// content hash over the sorted file list (path, executable bit, bytes), so it
// changes when a used file changes and only then, and it goes into the
// manifest (and a cache key) like any archive's checksum.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { LocalSource } from '../../recipes/kit/contract.js';
import { packageRoot } from '../foundation/package.js';
import { LocalSourceError } from './errors.js';

/** Every file under the source's paths (relative to `root`), sorted; build output and maps left out. */
export function listLocal(paths: readonly string[], root = packageRoot()): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = join(root, rel);
    if (!existsSync(abs)) throw new LocalSourceError(`local source path ${rel} does not exist under ${root}; run 'npm run build' first if it is build output`);
    const st = statSync(abs);
    if (st.isDirectory()) {
      for (const name of readdirSync(abs).sort()) if (name !== 'build' && name !== 'node_modules') walk(`${rel}/${name}`);
    } else if (st.isFile() && !rel.endsWith('.map')) out.push(rel);
  };
  for (const p of paths) walk(p);
  return [...new Set(out)].sort();
}

/** sha256 over (path, executable bit, content) of every listed file. */
export function hashLocal(paths: readonly string[], root = packageRoot()): string {
  const h = createHash('sha256');
  for (const rel of listLocal(paths, root)) {
    const abs = join(root, rel);
    h.update(`${rel}\0${statSync(abs).mode & 0o111 ? 'x' : '-'}\0`);
    const body = readFileSync(abs);
    h.update(`${body.length}\0`);
    h.update(body);
  }
  return h.digest('hex');
}

/**
 * Copy the listed files into the content-addressed cache as a directory
 * (<cache>/sources/<sha256>/<filename>/), staged then renamed; a cached copy is
 * reused only when its content hash still matches.
 */
export async function fetchLocal(src: LocalSource, cacheDir: string, root = packageRoot()): Promise<string> {
  const final = join(cacheDir, 'sources', src.sha256, src.filename);
  if (existsSync(final)) {
    // the cached tree keeps the checkout's relative layout, so it rehashes the same way
    if (hashLocal(src.paths, final) === src.sha256) return final;
    await rm(final, { recursive: true, force: true });
  }
  await mkdir(join(cacheDir, 'tmp'), { recursive: true });
  const tmp = await mkdtemp(join(cacheDir, 'tmp', 'local-'));
  try {
    const tree = join(tmp, src.filename);
    for (const rel of listLocal(src.paths, root)) {
      await mkdir(dirname(join(tree, rel)), { recursive: true });
      await cp(join(root, rel), join(tree, rel), { preserveTimestamps: true });
    }
    const got = hashLocal(src.paths, tree);
    if (got !== src.sha256)
      throw new LocalSourceError(`local source ${src.filename} changed while it was copied (expected ${src.sha256}, got ${got}); run the build again`);
    await mkdir(dirname(final), { recursive: true });
    await rename(tree, final);
    return final;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
