// Where the entries of an archive land, decided as the kernel resolves paths.
// One implementation for the three places that need it: the source unpack
// check (engine/unpack.ts, fed from GNU tar's own listing), `install`
// (pack/install.ts, fed from its reader while it writes) and `verify`
// (pack/packmanifest.ts, fed from the tree on disk); in foundation because
// the engine and pack both need it and neither imports the other.
//
// The rules, for a tree confined to a scope (the destination's root for
// sources, the single top directory for install and verify):
//  1. An entry's path is relative, has no `..` component and no NUL
//     (`checkEntryPath`); only a directory may name the root itself (`./`).
//  2. Nothing is written through a symlink of the archive: no parent of an
//     entry's path, nor of a hard link's target, is a symlink of the archive,
//     whichever of the two comes first (GNU tar creates such symlinks late, as
//     placeholders, so order cannot be relied on).
//  3. A symlink's path appears once, and is not also another entry's path.
//  4. Every symlink's target, resolved component by component through the
//     archive's symlinks (all of them, not only earlier ones: a later link can
//     change where an earlier target leads) with `..` taken after following,
//     as the kernel does, never leaves the scope, not even on the way. A
//     textual check is not enough: `x -> .` makes `x/x/x/../../../..` climb
//     three levels more than it reads. An absolute target is refused, and so
//     is a resolution that needs more than 40 links (the kernel's ELOOP limit:
//     a checker that gave up earlier than the kernel could miss an escape).
//  5. A hard link points at an earlier regular file of the archive (never at
//     a symlink: link(2) would copy the symlink, with its relative target, to
//     another directory).
//  6. One path, one kind: a path is not a file (or link) and also a directory
//     (explicitly, or as the parent of other entries); GNU tar would fail half
//     way through such an archive, so the check refuses it first.
// Components that are not symlinks of the archive are taken as directories:
// the destination is new, so nothing else can be there.
import { posix } from 'node:path';

export type EntryKind = 'file' | 'dir' | 'symlink' | 'hardlink';

interface ArchiveEntry {
  /** as stored in the archive */
  path: string;
  kind: EntryKind;
  /** symlink: its target; hardlink: the archive path it links to */
  linkTarget?: string;
}

interface ConfinementProblem {
  /** the entry, as stored */
  path: string;
  why: string;
}

/** The kernel's limit on symlinks followed in one resolution (ELOOP). */
const MAX_LINK_FOLLOWS = 40;

/** Check one archive path; returns its normalised form (no `.`, no empty components) or a reason to refuse it. */
export function checkEntryPath(path: string): { ok: true; path: string } | { ok: false; why: string } {
  if (!path) return { ok: false, why: 'empty path' };
  if (path.startsWith('/')) return { ok: false, why: 'absolute path' };
  if (/^[A-Za-z]:/.test(path)) return { ok: false, why: 'absolute path (drive letter)' };
  if (path.includes('\0')) return { ok: false, why: 'NUL in path' };
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { ok: false, why: "'..' component" };
  if (!parts.length) return { ok: false, why: 'path names the archive root' };
  return { ok: true, path: parts.join('/') };
}

type Resolution = { kind: 'inside'; path: string } | { kind: 'outside'; why: string } | { kind: 'loop'; why: string };

/**
 * Resolve `target` as the symlink at `linkPath` would lead, through the
 * symlinks of `links` (normalised path -> target), confined to `scope` ('' =
 * the archive root, else a top directory). Every intermediate location must
 * stay in the scope. `scopeName` is how messages call the scope.
 */
export function resolveLink(
  linkPath: string,
  target: string,
  links: ReadonlyMap<string, string>,
  scope = '',
  scopeName = scope ? `${scope}/` : 'the destination',
): Resolution {
  const scoped = scope ? scope.split('/') : [];
  const within = (stack: string[]) => stack.length >= scoped.length && scoped.every((c, i) => stack[i] === c);
  const stack = posix.dirname(linkPath) === '.' ? [] : posix.dirname(linkPath).split('/');
  if (target.startsWith('/')) return { kind: 'outside', why: `its target '${target}' is an absolute path` };
  const todo = target.split('/').reverse(); // a stack: the next component last
  const via: string[] = [];
  let follows = 0;
  while (todo.length) {
    const c = todo.pop()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (stack.length === 0 || !within(stack.slice(0, -1))) {
        const where = stack.length ? `'${stack.join('/')}/..'` : "'..' of the root";
        return { kind: 'outside', why: `its target '${target}' leaves ${scopeName} at ${where}${via.length ? ` (through ${via.join(', ')})` : ''}` };
      }
      stack.pop();
      continue;
    }
    const here = [...stack, c].join('/');
    const next = links.get(here);
    if (next === undefined) {
      stack.push(c);
      continue;
    }
    if (++follows > MAX_LINK_FOLLOWS) return { kind: 'loop', why: `its target '${target}' does not resolve within ${MAX_LINK_FOLLOWS} links (a loop)` };
    via.push(`${here} -> ${next}`);
    if (next.startsWith('/')) return { kind: 'outside', why: `its target '${target}' goes through ${here} -> ${next}, an absolute path` };
    // the link's target is relative to the link's own directory, which is `stack`
    for (const n of next.split('/').reverse()) todo.push(n);
  }
  return { kind: 'inside', path: stack.join('/') };
}

/**
 * Feeds entries in archive order; `add` says at once what is wrong with an
 * entry given what came before (a writer can refuse before writing it),
 * `finish` what is wrong with the whole (rule 4 needs every symlink).
 */
export class ConfinementChecker {
  /** normalised symlink path -> target */
  readonly links = new Map<string, string>();
  private readonly stored = new Map<string, string>(); // normalised -> as stored, for messages
  private readonly kinds = new Map<string, EntryKind>();
  /** every proper prefix of an entry path or hard link target: written under */
  private readonly parents = new Set<string>();

  constructor(private readonly opts: { scope?: string; allowRootEntry?: boolean } = {}) {}

  /** The first problem with this entry, or undefined; a problem-free entry is recorded. */
  add(e: ArchiveEntry): ConfinementProblem | undefined {
    const refuse = (why: string): ConfinementProblem => ({ path: e.path, why });
    // `./` (the root itself, as `tar c .` stores it) is harmless as a directory where the scope is the root
    if (this.opts.allowRootEntry && e.kind === 'dir' && /^[./]+$/.test(e.path) && !e.path.includes('..') && !e.path.startsWith('/')) return undefined;
    const c = checkEntryPath(e.path);
    if (!c.ok) return refuse(c.why);
    const path = c.path;
    const scope = this.opts.scope;
    if (scope && path !== scope && !path.startsWith(`${scope}/`)) return refuse(`outside the archive's single top-level directory ${scope}/`);
    const through = this.linkAmongParents(path);
    if (through) return refuse(`its parent ${through} is a symlink of the archive: it would be written through it`);
    const fileParent = this.fileAmongParents(path);
    if (fileParent) return refuse(`its parent ${fileParent} is a file of the archive, not a directory`);
    const prev = this.kinds.get(path);
    if (prev !== undefined && (prev === 'symlink' || e.kind === 'symlink')) return refuse(`appears twice, once as a symlink`);
    if (prev !== undefined && (prev === 'dir') !== (e.kind === 'dir')) return refuse(`appears twice, as a ${prev} and as a ${e.kind}`);
    if (e.kind !== 'dir' && this.parents.has(path)) return refuse(`is a ${e.kind}, but entries were written under that path`);
    if (e.kind === 'symlink') {
      if (e.linkTarget === undefined || e.linkTarget === '') return refuse('symlink with an empty target');
      if (e.linkTarget.includes('\0')) return refuse('NUL in the link target');
      if (e.linkTarget.startsWith('/')) return refuse(`links to the absolute path '${e.linkTarget}'`);
    }
    if (e.kind === 'hardlink') {
      const t = checkEntryPath(e.linkTarget ?? '');
      if (!t.ok) return refuse(`hard link to '${e.linkTarget ?? ''}': ${t.why}`);
      const tThrough = this.linkAmongParents(t.path);
      if (tThrough) return refuse(`hard link to '${e.linkTarget}' through the symlink ${tThrough}`);
      const tk = this.kinds.get(t.path);
      if (tk !== 'file' && tk !== 'hardlink') return refuse(`hard link to '${e.linkTarget}', which is not an earlier regular file of the archive`);
      this.addParents(t.path);
    }
    this.kinds.set(path, e.kind);
    this.stored.set(path, e.path);
    this.addParents(path);
    if (e.kind === 'symlink') this.links.set(path, e.linkTarget!);
    return undefined;
  }

  /** Rule 4 over every symlink, in archive order of their first appearance. */
  finish(): ConfinementProblem[] {
    const out: ConfinementProblem[] = [];
    for (const [path, target] of this.links) {
      const r = resolveLink(path, target, this.links, this.opts.scope ?? '');
      if (r.kind !== 'inside') out.push({ path: this.stored.get(path) ?? path, why: r.why });
    }
    return out;
  }

  private linkAmongParents(path: string): string | undefined {
    for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) {
      const p = path.slice(0, i);
      if (this.links.has(p)) return p;
    }
    return undefined;
  }

  private fileAmongParents(path: string): string | undefined {
    for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) {
      const k = this.kinds.get(path.slice(0, i));
      if (k === 'file' || k === 'hardlink') return path.slice(0, i);
    }
    return undefined;
  }

  private addParents(path: string): void {
    for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) this.parents.add(path.slice(0, i));
  }
}
