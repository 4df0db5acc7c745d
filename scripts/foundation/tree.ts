// The one walk of a directory tree: every entry under a root, tree-relative
// posix paths, sorted bytewise (so two machines list a tree in one order),
// never following a symlink. Pack, the pack manifest, the build cache, the
// closure walk and the tree diff all list trees with it.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

interface TreeEntry {
  /** tree-relative, posix separators */
  path: string;
  type: 'dir' | 'file' | 'symlink' | 'other';
  /** any execute bit set */
  executable: boolean;
  /** lstat's size (a symlink's is its target's length) */
  size: number;
}

/** Every entry under root, sorted bytewise by path; symlinks are listed, not followed. */
export function listTree(root: string): TreeEntry[] {
  const out: TreeEntry[] = [];
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
