// The shared-library closure of a tree: every ELF object's DT_NEEDED resolved
// the way ld.so would, libraries from outside the tree that are not part of
// the declared base system copied in, and the $ORIGIN-relative RPATH each
// object needs so that it runs wherever the tree lands.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, posix, relative, resolve, sep } from 'node:path';
import { listTree } from '../foundation/tree.js';
import { classifyBase } from './basesystem.js';
import { readElf, type ElfInfo } from './elf.js';

/** Where vendored libraries go inside the tree. */
export const VENDOR_DIR = 'lib/mpistack-vendor';

type DepKind = 'tree' | 'vendored' | 'base' | 'cluster' | 'missing';

interface DepRecord {
  needed: string;
  kind: DepKind;
  /** path inside the tree (tree, vendored) */
  treePath?: string;
  /** where it was found outside the tree (vendored, base, cluster) */
  systemPath?: string;
  why: string;
}

interface ObjectRecord {
  /** path relative to the tree root, posix separators */
  path: string;
  elf: ElfInfo;
  deps: DepRecord[];
  /** the RPATH pack gives it ('' = none) */
  rpath: string;
}

export interface ClosureResult {
  objects: ObjectRecord[];
  vendored: Array<{ soname: string; from: string; to: string; neededBy: string[] }>;
  missing: Array<{ needed: string; neededBy: string }>;
}

// ---------------------------------------------------------------- system dirs

/** ld.so.conf's `include` globs: wildcards in the last path component only (what glibc's own files use). */
function simpleGlob(pattern: string): string[] {
  const dir = dirname(pattern);
  const base = pattern.slice(dir.length + 1);
  if (!/[*?[]/.test(base)) return existsSync(pattern) ? [pattern] : [];
  const re = new RegExp(
    `^${base
      .replace(/[.+^${}()|\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  try {
    return readdirSync(dir)
      .filter((n) => re.test(n))
      .sort()
      .map((n) => join(dir, n));
  } catch {
    return [];
  }
}

/** Directories ld.so searches after RPATH/RUNPATH: ld.so.conf (what ldconfig caches), then the defaults. */
function systemLibDirs(confPath = '/etc/ld.so.conf'): string[] {
  const dirs: string[] = [];
  const seen = new Set<string>();
  const parse = (file: string, depth: number) => {
    if (depth > 8 || seen.has(file)) return;
    seen.add(file);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return;
    }
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      if (!line) continue;
      const inc = /^include\s+(.+)$/.exec(line);
      if (inc) {
        const pattern = isAbsolute(inc[1]) ? inc[1] : join(dirname(file), inc[1]);
        for (const f of simpleGlob(pattern)) parse(f, depth + 1);
      } else if (!line.startsWith('hwcap')) {
        dirs.push(line);
      }
    }
  };
  parse(confPath, 0);
  // glibc's built-in trusted directories (x86_64 multiarch and lib64 layouts)
  dirs.push('/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib');
  return [...new Set(dirs)];
}

// ---------------------------------------------------------------- rpath

/** Expand one RPATH/RUNPATH string into directories ($ORIGIN, ${ORIGIN}, $LIB, $PLATFORM for x86_64). */
export function expandRpath(rpath: string | undefined, origin: string): string[] {
  if (!rpath) return [];
  return rpath
    .split(':')
    .filter(Boolean)
    .map((d) =>
      d
        .replace(/\$\{ORIGIN\}|\$ORIGIN(?![A-Za-z0-9_])/g, origin)
        .replace(/\$\{LIB\}|\$LIB(?![A-Za-z0-9_])/g, 'lib64')
        .replace(/\$\{PLATFORM\}|\$PLATFORM(?![A-Za-z0-9_])/g, 'x86_64'),
    );
}

/**
 * The RPATH an object at `objectDir` needs to find libraries in `depDirs`
 * (all tree-relative, posix): `$ORIGIN`-relative entries, in first-use order,
 * without duplicates. Every entry stays inside the tree by construction.
 */
export function computeRpath(objectDir: string, depDirs: readonly string[]): string {
  const out: string[] = [];
  for (const d of depDirs) {
    const rel = posix.relative(objectDir === '' ? '.' : objectDir, d === '' ? '.' : d);
    const entry = rel === '' ? '$ORIGIN' : `$ORIGIN/${rel}`;
    if (!out.includes(entry)) out.push(entry);
  }
  return out.join(':');
}

// ---------------------------------------------------------------- walk

function toPosix(p: string): string {
  return sep === '/' ? p : p.split(sep).join('/');
}

interface ClosureOptions {
  /** the staging tree being made stand-alone */
  root: string;
  /**
   * Absolute paths the tree's binaries were built for (the build prefix, the
   * input directory): an RPATH entry under one of them means the same place
   * inside `root`.
   */
  aliases: string[];
  systemDirs?: string[];
}

/** Does the ELF file at `path` have `a`'s class and machine? (results cached per walk) */
function sameArch(a: ElfInfo, path: string, archCache: Map<string, string>): boolean {
  let arch = archCache.get(path);
  if (arch === undefined) {
    try {
      const b = readElf(path);
      arch = b ? `${b.bits}/${b.machine}` : '';
    } catch {
      arch = '';
    }
    archCache.set(path, arch);
  }
  return arch === `${a.bits}/${a.machine}`;
}

/**
 * Walk every ELF object in the tree, vendor what is missing, and compute
 * each object's RPATH. Copies vendored libraries into `root/VENDOR_DIR`;
 * does not run patchelf (the caller applies `rpath`).
 */
export function walkClosure(opts: ClosureOptions): ClosureResult {
  const root = resolve(opts.root);
  const systemDirs = opts.systemDirs ?? systemLibDirs();
  const aliases = opts.aliases.map((a) => resolve(a)).filter((a) => a !== root);
  const insideTree = (abs: string) => abs === root || abs.startsWith(root + '/');
  /** map a directory named by an RPATH into the staging tree when it points at the build location */
  const mapDir = (d: string): string => {
    for (const a of aliases) {
      if (d === a) return root;
      if (d.startsWith(a + '/')) return root + d.slice(a.length);
    }
    return d;
  };
  const treeLibDirs = new Set<string>();
  const vendored = new Map<string, { soname: string; from: string; to: string; neededBy: string[] }>();
  const missing: ClosureResult['missing'] = [];
  const objects: ObjectRecord[] = [];
  const seen = new Set<string>();
  const archCache = new Map<string, string>();

  const queue: string[] = [];
  for (const rel of listTree(root)
    .filter((e) => e.type === 'file')
    .map((e) => e.path)) {
    let elf: ElfInfo | undefined;
    try {
      elf = readElf(join(root, rel));
    } catch {
      elf = undefined;
    }
    if (!elf || !elf.dynamic || (elf.type !== 2 && elf.type !== 3)) continue;
    queue.push(rel);
    // a shared library's directory is a tree library directory
    if (elf.soname || /\.so(\.|$)/.test(rel)) treeLibDirs.add(posix.dirname(rel));
  }
  const treeDirsOrdered = [...treeLibDirs].sort((a, b) => (a === 'lib' ? -1 : b === 'lib' ? 1 : a.localeCompare(b)));

  const findIn = (dirs: string[], name: string, self: ElfInfo): string | undefined => {
    for (const d of dirs) {
      const p = join(d, name);
      if (existsSync(p) && statSync(p).isFile() && sameArch(self, p, archCache)) return p;
    }
    return undefined;
  };

  while (queue.length) {
    const rel = queue.shift()!;
    if (seen.has(rel)) continue;
    seen.add(rel);
    const abs = join(root, rel);
    const elf = readElf(abs)!;
    const origin = dirname(abs);
    const deps: DepRecord[] = [];
    // RPATH is ignored by ld.so when RUNPATH is present
    const own = expandRpath(elf.runpath ?? elf.rpath, origin).map(mapDir);
    for (const needed of elf.needed) {
      const base = classifyBase(needed);
      let found: string | undefined;
      let how = '';
      if (needed.includes('/')) {
        const p = mapDir(isAbsolute(needed) ? needed : resolve(origin, needed));
        if (existsSync(p)) {
          found = p;
          how = 'path in DT_NEEDED';
        }
      }
      if (!found) {
        found = findIn(own, needed, elf);
        if (found) how = `${elf.runpath ? 'RUNPATH' : 'RPATH'} ${elf.runpath ?? elf.rpath}`;
      }
      if (!found && !base) {
        found = findIn(
          treeDirsOrdered.map((d) => join(root, d)),
          needed,
          elf,
        );
        if (found) how = 'a library directory of the tree (loaded already when the tree runs)';
      }
      if (found && insideTree(found)) {
        deps.push({ needed, kind: 'tree', treePath: toPosix(relative(root, found)), why: `found via ${how}` });
        continue;
      }
      if (base) {
        const sys = found ?? findIn(systemDirs, needed, elf);
        deps.push({ needed, kind: base.kind, systemPath: sys, why: base.why });
        continue;
      }
      if (!found) {
        found = findIn(systemDirs, needed, elf);
        if (found) how = 'the system library path (ld.so.conf and defaults)';
      }
      if (!found) {
        deps.push({ needed, kind: 'missing', why: 'not found in RPATH/RUNPATH, the tree or the system library path' });
        missing.push({ needed, neededBy: rel });
        continue;
      }
      // vendor it: a real file named by its soname
      const to = `${VENDOR_DIR}/${needed}`;
      let v = vendored.get(needed);
      if (!v) {
        const real = realpathSync(found);
        mkdirSync(join(root, VENDOR_DIR), { recursive: true });
        // a new inode (copy + rename): never write into a file that may be a hard link to the input
        copyFileSync(real, join(root, `${to}.mpistack-tmp`));
        chmodSync(join(root, `${to}.mpistack-tmp`), 0o755);
        renameSync(join(root, `${to}.mpistack-tmp`), join(root, to));
        v = { soname: needed, from: found, to, neededBy: [] };
        vendored.set(needed, v);
        treeLibDirs.add(VENDOR_DIR);
        if (!treeDirsOrdered.includes(VENDOR_DIR)) treeDirsOrdered.push(VENDOR_DIR);
        queue.push(to);
      }
      v.neededBy.push(rel);
      deps.push({ needed, kind: 'vendored', treePath: to, systemPath: found, why: `not in the base-system list; found at ${found} via ${how}` });
    }
    const depDirs = deps.filter((d) => d.treePath).map((d) => posix.dirname(d.treePath!));
    objects.push({ path: rel, elf, deps, rpath: computeRpath(posix.dirname(rel), depDirs) });
  }
  objects.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { objects, vendored: [...vendored.values()], missing };
}
