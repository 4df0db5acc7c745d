// The kernel as the oracle for "does this symlink lead outside the tree": a
// target is walked one component at a time and each step is resolved by
// realpath(3) on the real file system, so every symlink that resolves is
// followed by the kernel, not by our code. Two cases the kernel cannot answer
// are expanded here: a dangling symlink (realpath fails; its target is walked
// in its place) and a component that does not exist (taken as a directory
// that a build could create later, so `..` after it comes back). Independent
// of scripts/pack/archivepath.ts, which it is used to check.
import { lstatSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';

export type KernelVerdict = 'inside' | 'escape' | 'unresolvable';

const within = (p: string, root: string) => p === root || p.startsWith(root + sep);

function lstatKind(p: string): 'symlink' | 'dir' | 'other' | 'missing' {
  try {
    const st = lstatSync(p);
    return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'other';
  } catch {
    return 'missing';
  }
}

/** Where the symlink at `link` (an absolute path under `root`) leads, step by step; 'escape' as soon as a step is outside root. */
export function kernelVerdict(link: string, root: string): KernelVerdict {
  const realRoot = realpathSync(root);
  const target = readlinkSync(link);
  let cur = target.startsWith('/') ? '/' : realpathSync(dirname(link));
  let virtual = false; // cur is below a component that does not exist
  const todo = target.split('/').reverse();
  let expanded = 0;
  while (todo.length) {
    const c = todo.pop()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      cur = dirname(cur); // cur is canonical (or canonical + missing names): its parent needs no lookup
      if (virtual && lstatKind(cur) !== 'missing') virtual = false;
    } else if (virtual) {
      cur = join(cur, c);
    } else {
      const p = `${cur}/${c}`;
      try {
        cur = realpathSync(p);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ELOOP' || code === 'ENOTDIR') return 'unresolvable';
        if (code !== 'ENOENT') throw e;
        if (lstatKind(p) === 'symlink') {
          // dangling: walk its target in its place (relative to cur)
          if (++expanded > 40) return 'unresolvable';
          const t = readlinkSync(p);
          if (t.startsWith('/')) cur = '/';
          for (const n of t.split('/').reverse()) todo.push(n);
          continue;
        }
        cur = p;
        virtual = true;
      }
    }
    if (!within(cur, realRoot)) return 'escape';
  }
  return 'inside';
}

/** Every symlink under root (not following links), absolute paths. */
export function symlinksUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.push(p);
      else if (st.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}
