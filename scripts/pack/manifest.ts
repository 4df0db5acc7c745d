// The file manifest inside a packed tree (share/mpistack/pack-manifest.json):
// every directory, file (size, sha256, executable) and symlink (target).
// `mpistack verify DIR` and `mpistack install` re-check a tree against it,
// and check that every symlink of the tree, resolved through the tree's own
// symlinks as the kernel does (archivepath.ts), stays inside it: a manifest
// that records a link leading out does not make the link safe.
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { resolveLink } from './archivepath.js';

export const MANIFEST_PATH = 'share/mpistack/pack-manifest.json';

export type ManifestEntry =
  | { type: 'dir' }
  | { type: 'file'; size: number; sha256: string; executable: boolean }
  | { type: 'symlink'; target: string };

export interface PackManifest {
  format: 1;
  name: 'mpistack';
  version: string;
  sourceDateEpoch: number;
  /** where it was built (informational: the tree does not use it) is deliberately not recorded */
  files: Record<string, ManifestEntry>;
}

export async function sha256File(path: string, size?: number): Promise<string> {
  const h = createHash('sha256');
  // small files in one read: stream setup costs more than hashing a few hundred KB
  if ((size ?? lstatSync(path).size) < 8 * 1024 * 1024) return h.update(readFileSync(path)).digest('hex');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Every entry under root, tree-relative posix paths, sorted bytewise; not following symlinks. */
export function listTree(root: string): Array<{ path: string; type: 'dir' | 'file' | 'symlink' | 'other'; executable: boolean; size: number }> {
  const out: Array<{ path: string; type: 'dir' | 'file' | 'symlink' | 'other'; executable: boolean; size: number }> = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(rel ? join(root, rel) : root)) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, r));
      const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
      out.push({ path: r, type, executable: (st.mode & 0o111) !== 0, size: st.size });
      if (type === 'dir') walk(r);
    }
  };
  walk('');
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export async function buildManifest(root: string, version: string, sourceDateEpoch: number): Promise<PackManifest> {
  const files: Record<string, ManifestEntry> = {};
  for (const e of listTree(root)) {
    if (e.path === MANIFEST_PATH) continue;
    if (e.type === 'dir') files[e.path] = { type: 'dir' };
    else if (e.type === 'symlink') files[e.path] = { type: 'symlink', target: readlinkSync(join(root, e.path)) };
    else if (e.type === 'file') files[e.path] = { type: 'file', size: e.size, sha256: await sha256File(join(root, e.path), e.size), executable: e.executable };
    else throw new Error(`${e.path}: not a file, directory or symlink`);
  }
  return { format: 1, name: 'mpistack', version, sourceDateEpoch, files };
}

export interface VerifyProblem { path: string; problem: string }

/** Compare a tree against its manifest. Empty result = the tree is exactly what was packed. */
export async function verifyTree(root: string): Promise<{ manifest: PackManifest; problems: VerifyProblem[]; checked: number }> {
  let manifest: PackManifest;
  try {
    manifest = JSON.parse(readFileSync(join(root, MANIFEST_PATH), 'utf8')) as PackManifest;
  } catch (e) {
    throw new Error(`${root}: no readable ${MANIFEST_PATH} (${(e as Error).message}); is this a packed mpistack tree?`, { cause: e });
  }
  const problems: VerifyProblem[] = [];
  const actual = new Map(listTree(root).map((e) => [e.path, e]));
  let checked = 0;
  for (const [path, want] of Object.entries(manifest.files)) {
    const got = actual.get(path);
    actual.delete(path);
    checked++;
    if (!got) { problems.push({ path, problem: 'missing' }); continue; }
    if (got.type !== want.type) { problems.push({ path, problem: `is a ${got.type}, manifest says ${want.type}` }); continue; }
    if (want.type === 'symlink') {
      const t = readlinkSync(join(root, path));
      if (t !== want.target) problems.push({ path, problem: `link target ${JSON.stringify(t)}, manifest says ${JSON.stringify(want.target)}` });
    } else if (want.type === 'file') {
      if (got.size !== want.size) problems.push({ path, problem: `size ${got.size}, manifest says ${want.size}` });
      else if ((await sha256File(join(root, path), got.size)) !== want.sha256) problems.push({ path, problem: 'sha256 differs from the manifest' });
      if (got.executable !== want.executable) problems.push({ path, problem: got.executable ? 'is executable, manifest says not' : 'is not executable, manifest says it is' });
    }
  }
  actual.delete(MANIFEST_PATH);
  for (const path of actual.keys()) problems.push({ path, problem: 'not in the manifest (added after packing)' });
  problems.push(...escapingLinks(root));
  return { manifest, problems, checked };
}

/** Symlinks of the tree at `root` whose target, followed through the tree's symlinks, leaves it. */
export function escapingLinks(root: string): VerifyProblem[] {
  const links = new Map<string, string>();
  for (const e of listTree(root)) if (e.type === 'symlink') links.set(e.path, readlinkSync(join(root, e.path)));
  const out: VerifyProblem[] = [];
  for (const [path, target] of links) {
    const r = resolveLink(path, target, links, '', 'the tree');
    if (r.kind !== 'inside') out.push({ path, problem: r.why });
  }
  return out;
}
