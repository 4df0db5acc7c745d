// The file manifest inside a packed tree (share/mpistack/pack-manifest.json,
// foundation/layout.ts): every directory, file (size, sha256, executable) and
// symlink (target). `mpistack verify DIR` and `mpistack install` re-check a
// tree against it, and check that every symlink of the tree, resolved through
// the tree's own symlinks as the kernel does (foundation/archivepath.ts),
// stays inside it: a manifest that records a link leading out does not make
// the link safe.
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { resolveLink } from '../foundation/archivepath.js';
import { MpistackError } from '../foundation/errors.js';
import { sha256File } from '../foundation/hash.js';
import { PACK_MANIFEST } from '../foundation/layout.js';
import { listTree } from '../foundation/tree.js';
import { PackError } from './run.js';

type PackedEntry = { type: 'dir' } | { type: 'file'; size: number; sha256: string; executable: boolean } | { type: 'symlink'; target: string };

interface PackManifest {
  format: 1;
  name: 'mpistack';
  version: string;
  sourceDateEpoch: number;
  /** where it was built (informational: the tree does not use it) is deliberately not recorded */
  files: Record<string, PackedEntry>;
}

/** The manifest of the tree at root as it is now (the manifest file itself left out). */
export async function buildPackManifest(root: string, version: string, sourceDateEpoch: number): Promise<PackManifest> {
  const files: Record<string, PackedEntry> = {};
  for (const e of listTree(root)) {
    if (e.path === PACK_MANIFEST) continue;
    if (e.type === 'dir') files[e.path] = { type: 'dir' };
    else if (e.type === 'symlink') files[e.path] = { type: 'symlink', target: readlinkSync(join(root, e.path)) };
    else if (e.type === 'file') files[e.path] = { type: 'file', size: e.size, sha256: await sha256File(join(root, e.path), e.size), executable: e.executable };
    else throw new PackError('manifest', `${e.path}: not a file, directory or symlink`);
  }
  return { format: 1, name: 'mpistack', version, sourceDateEpoch, files };
}

/** A tree with no readable pack manifest: not a packed mpistack tree (or a damaged one). */
class NotPackedError extends MpistackError {
  override name = 'NotPackedError';
}

export interface VerifyProblem {
  path: string;
  problem: string;
}

/** Compare a tree against its manifest. Empty result = the tree is exactly what was packed. */
export async function verifyPackedTree(root: string): Promise<{ manifest: PackManifest; problems: VerifyProblem[]; checked: number }> {
  let manifest: PackManifest;
  try {
    manifest = JSON.parse(readFileSync(join(root, PACK_MANIFEST), 'utf8')) as PackManifest;
  } catch (e) {
    throw new NotPackedError(`${root}: no readable ${PACK_MANIFEST} (${(e as Error).message}); is this a packed mpistack tree?`, { cause: e });
  }
  const problems: VerifyProblem[] = [];
  const actual = new Map(listTree(root).map((e) => [e.path, e]));
  let checked = 0;
  for (const [path, want] of Object.entries(manifest.files)) {
    const got = actual.get(path);
    actual.delete(path);
    checked++;
    if (!got) {
      problems.push({ path, problem: 'missing' });
      continue;
    }
    if (got.type !== want.type) {
      problems.push({ path, problem: `is a ${got.type}, manifest says ${want.type}` });
      continue;
    }
    if (want.type === 'symlink') {
      const t = readlinkSync(join(root, path));
      if (t !== want.target) problems.push({ path, problem: `link target ${JSON.stringify(t)}, manifest says ${JSON.stringify(want.target)}` });
    } else if (want.type === 'file') {
      if (got.size !== want.size) problems.push({ path, problem: `size ${got.size}, manifest says ${want.size}` });
      else if ((await sha256File(join(root, path), got.size)) !== want.sha256) problems.push({ path, problem: 'sha256 differs from the manifest' });
      if (got.executable !== want.executable) {
        problems.push({ path, problem: got.executable ? 'is executable, manifest says not' : 'is not executable, manifest says it is' });
      }
    }
  }
  actual.delete(PACK_MANIFEST);
  for (const path of actual.keys()) problems.push({ path, problem: 'not in the manifest (added after packing)' });
  problems.push(...escapingLinks(root));
  return { manifest, problems, checked };
}

/** Symlinks of the tree at `root` whose target, followed through the tree's symlinks, leaves it. */
function escapingLinks(root: string): VerifyProblem[] {
  const links = new Map<string, string>();
  for (const e of listTree(root)) if (e.type === 'symlink') links.set(e.path, readlinkSync(join(root, e.path)));
  const out: VerifyProblem[] = [];
  for (const [path, target] of links) {
    const r = resolveLink(path, target, links, '', 'the tree');
    if (r.kind !== 'inside') out.push({ path, problem: r.why });
  }
  return out;
}
