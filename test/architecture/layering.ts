// The layering rules of ARCHITECTURE.md, read from its table of rooms, and the
// check that holds a set of source files to them.
//
// The table (the one whose header is `| room | files | may import | between
// its own files |`):
//   room                  a name
//   files                 backquoted paths, comma-separated: `dir/` is a folder
//                         (everything below it), anything else one file; a file
//                         belongs to the room with the longest matching path
//   may import            room names, comma-separated; `—` none; `anything`
//   between its own files `yes` (any file of the room may import another) or
//                         `no` (each file stands alone: a recipe never imports
//                         another recipe)
// A violation is an edge to a room not listed, an edge between two files of a
// `no` room, a file (or an import target) in no room, or a circle of imports.
import type { Edge, SourceFile } from './sources.js';
import { edgesOf } from './sources.js';

export interface Room {
  name: string;
  /** folder prefixes (ending in /) and file paths */
  files: string[];
  /** room names, or 'anything' */
  mayImport: string[] | 'anything';
  /** whether a file of the room may import another file of it */
  inside: boolean;
}

export interface Violation {
  kind: 'direction' | 'inside' | 'no-room' | 'circle';
  text: string;
}

const HEADER = /^\|\s*room\s*\|\s*files\s*\|\s*may import\s*\|\s*between its own files\s*\|\s*$/i;

/** The rooms of ARCHITECTURE.md's table; throws when the table is missing or malformed. */
export function parseRooms(markdown: string): Room[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => HEADER.test(l.trim()));
  if (start < 0) throw new Error('ARCHITECTURE.md has no table with the header | room | files | may import | between its own files |');
  const rooms: Room[] = [];
  for (const raw of lines.slice(start + 2)) {
    const line = raw.trim();
    if (!line.startsWith('|')) break;
    const cells = line
      .slice(1, line.endsWith('|') ? -1 : undefined)
      .split('|')
      .map((c) => c.trim());
    if (cells.length !== 4) throw new Error(`ARCHITECTURE.md room row has ${cells.length} cells, not 4: ${line}`);
    const [name, files, may, inside] = cells as [string, string, string, string];
    const paths = [...files.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    if (!name || !paths.length) throw new Error(`ARCHITECTURE.md room row without a name or files: ${line}`);
    if (inside !== 'yes' && inside !== 'no') throw new Error(`ARCHITECTURE.md room ${name}: 'between its own files' is '${inside}', not yes or no`);
    const mayImport =
      may === 'anything'
        ? 'anything'
        : may === '—' || may === '-' || may === ''
          ? []
          : may
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean);
    rooms.push({ name, files: paths, mayImport, inside: inside === 'yes' });
  }
  const names = new Set(rooms.map((r) => r.name));
  if (names.size !== rooms.length) throw new Error('ARCHITECTURE.md names a room twice');
  for (const r of rooms) {
    if (r.mayImport === 'anything') continue;
    for (const m of r.mayImport) if (!names.has(m)) throw new Error(`ARCHITECTURE.md room ${r.name} may import '${m}', which is no room`);
  }
  return rooms;
}

/** The room a repository path belongs to: the longest matching folder or file path. */
export function roomOf(path: string, rooms: readonly Room[]): Room | undefined {
  let best: { room: Room; length: number } | undefined;
  for (const room of rooms) {
    for (const p of room.files) {
      const hit = p.endsWith('/') ? path.startsWith(p) : path === p;
      if (hit && (!best || p.length > best.length)) best = { room, length: p.length };
    }
  }
  return best?.room;
}

/** Strongly connected components of more than one file (or a file importing itself): each as one circle, in import order. */
export function circles(edges: readonly Pick<Edge, 'from' | 'to'>[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...new Set([...(next.get(e.from) ?? []), e.to])].sort());
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  const strong = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      for (;;) {
        const w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
        if (w === v) break;
      }
      const selfLoop = component.length === 1 && (next.get(v) ?? []).includes(v);
      if (component.length > 1 || selfLoop) found.push(cycleThrough(component.sort(), next));
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) strong(v);
  return found;
}

/** One circle through a strongly connected component, shortest from its first file: a -> b -> ... -> a. */
function cycleThrough(component: string[], next: ReadonlyMap<string, string[]>): string[] {
  const inside = new Set(component);
  const start = component[0];
  const parent = new Map<string, string | null>([[start, null]]);
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of next.get(v) ?? []) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const path: string[] = [];
        for (let u: string | null | undefined = v; u !== null && u !== undefined; u = parent.get(u)) path.unshift(u);
        return [...path, start];
      }
      if (!parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...component, start];
}

const where = (e: Edge) => `${e.from}:${e.line}`;

/** Every way `files` break the rooms' rules. */
export function checkLayering(files: readonly SourceFile[], rooms: readonly Room[]): Violation[] {
  const out: Violation[] = [];
  for (const f of files) if (!roomOf(f.path, rooms)) out.push({ kind: 'no-room', text: `${f.path} belongs to no room of ARCHITECTURE.md` });
  const edges = edgesOf(files);
  for (const e of edges) {
    const a = roomOf(e.from, rooms);
    const b = roomOf(e.to, rooms);
    if (!a) continue;
    if (!b) {
      out.push({ kind: 'no-room', text: `${where(e)} imports ${e.to}, which belongs to no room` });
      continue;
    }
    if (a === b) {
      if (!a.inside && e.from !== e.to)
        out.push({ kind: 'inside', text: `${where(e)} imports ${e.to}: a ${a.name} file never imports another ${a.name} file` });
      continue;
    }
    if (a.mayImport !== 'anything' && !a.mayImport.includes(b.name)) {
      out.push({ kind: 'direction', text: `${where(e)} imports ${e.to} (${e.specifier}): ${a.name} -> ${b.name} is not a direction ARCHITECTURE.md allows` });
    }
  }
  for (const c of circles(edges)) out.push({ kind: 'circle', text: `import circle: ${c.join(' -> ')}` });
  return out;
}

/** Edges between rooms, counted (`a -> b: n`), for the closing note and for reading. */
export function roomEdges(files: readonly SourceFile[], rooms: readonly Room[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of edgesOf(files)) {
    const a = roomOf(e.from, rooms)?.name ?? '?';
    const b = roomOf(e.to, rooms)?.name ?? '?';
    if (a === b) continue;
    counts.set(`${a} -> ${b}`, (counts.get(`${a} -> ${b}`) ?? 0) + 1);
  }
  return counts;
}
