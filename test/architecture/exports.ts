// Unused exports: a name a module exports that no other file of the
// repository imports (directly, through a re-export such as the recipe kit's
// index, or as part of a namespace import). Such a name is dead code or a
// private helper that should not be exported. Exports read dynamically are
// entry points, not dead: a command's `describe` and `run` (cli.ts loads
// scripts/commands/<name>.js).
import type { SourceFile } from './sources.js';
import { edgesOf, ownExportsOf, type Edge } from './sources.js';

/** Exports a loader reads by name at run time: file pattern -> names. */
export const ENTRY_EXPORTS: readonly { files: RegExp; names: readonly string[] }[] = [
  { files: /^scripts\/commands\/[^_/][^/]*\.ts$/, names: ['describe', 'run'] },
  { files: /^bench\/[^_/][^/]*\.ts$/, names: ['describe', 'run'] },
];

export interface UnusedExport {
  file: string;
  name: string;
  line: number;
}

/** Exports of the files under `checked` (folder prefixes) that no file of `files` imports. */
export function unusedExports(files: readonly SourceFile[], checked: readonly string[]): UnusedExport[] {
  const own = new Map(files.map((f) => [f.path, ownExportsOf(f)]));
  const edges = edgesOf(files);
  const reexports = new Map<string, Edge[]>();
  for (const e of edges) if (e.reexport) reexports.set(e.from, [...(reexports.get(e.from) ?? []), e]);

  /** Where `name`, as exported by `file`, is declared (following re-exports). */
  const origin = (file: string, name: string, seen = new Set<string>()): { file: string; name: string } | undefined => {
    const key = `${file}\0${name}`;
    if (seen.has(key)) return undefined;
    seen.add(key);
    if ((own.get(file) ?? []).some((x) => x.name === name)) return { file, name };
    for (const e of reexports.get(file) ?? []) {
      for (const n of e.names) {
        if (n.imported === '*' && n.local === '*') {
          const hit = origin(e.to, name, seen);
          if (hit) return hit;
        } else if (n.local === name) {
          return origin(e.to, n.imported, seen);
        }
      }
    }
    return undefined;
  };

  const used = new Set<string>();
  const useAll = (file: string, seen = new Set<string>()): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const x of own.get(file) ?? []) used.add(`${file}\0${x.name}`);
    for (const e of reexports.get(file) ?? []) {
      for (const n of e.names) {
        if (n.imported === '*') useAll(e.to, seen);
        else {
          const o = origin(e.to, n.imported);
          if (o) used.add(`${o.file}\0${o.name}`);
        }
      }
    }
  };
  for (const e of edges) {
    if (e.reexport) continue;
    for (const n of e.names) {
      if (n.imported === '*') useAll(e.to);
      else {
        const o = origin(e.to, n.imported);
        if (o) used.add(`${o.file}\0${o.name}`);
      }
    }
  }
  for (const entry of ENTRY_EXPORTS) for (const f of files) if (entry.files.test(f.path)) for (const n of entry.names) used.add(`${f.path}\0${n}`);

  const out: UnusedExport[] = [];
  for (const f of files) {
    if (!checked.some((c) => f.path.startsWith(c))) continue;
    for (const x of own.get(f.path) ?? []) if (!used.has(`${f.path}\0${x.name}`)) out.push({ file: f.path, name: x.name, line: x.line });
  }
  return out;
}
