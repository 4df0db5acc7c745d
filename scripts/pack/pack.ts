// `mpistack pack`: turn a built stack prefix into a stand-alone, relocatable
// tree and write it as a deterministic tarball.
//
//   copy (hardlink-safe) -> bundle node -> [strip] -> vendor the library closure
//   -> $ORIGIN RPATHs -> rewrite text files -> env.sh + modulefiles
//   -> leak check -> manifest -> sorted tar.gz (temp file + rename) -> SHA256SUMS
//
// The input prefix is never modified: everything happens in a staging copy.
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { mapLimit } from '../foundation/concurrency.js';
import { sha256File } from '../foundation/hash.js';
import { BUILD_MANIFEST, DEFAULT_SOURCE_DATE_EPOCH, LOGS_DIR, PACK_MANIFEST } from '../foundation/layout.js';
import { readManifest } from '../foundation/manifest.js';
import { packageVersion } from '../foundation/package.js';
import { listTree } from '../foundation/tree.js';
import { walkClosure, type ClosureResult } from './closure.js';
import { isElfFile, patchRpathInPlace } from './elf.js';
import { linkOrCopy, privatize, writeReplace } from './fsutil.js';
import { ENV_SH, LMOD_DIR, TCL_DIR, envSh, lmodFile, tclFile, type EnvSpec } from './envfiles.js';
import { formatHit, scanLeaks, type LeakHit, type Needle } from './leak.js';
import { buildPackManifest } from './packmanifest.js';
import { PackError, tool } from './run.js';
import { writeTarGz, type TarEntry } from './tar.js';
import { rewriteTextFiles, type TextAction } from './text.js';

const TOP_DIR = 'mpistack';
const NODE_IN_TREE = 'bin/node';
/**
 * Left out of the tree: the build's per-phase logs. They record the build
 * (its directories, staging paths, compiler lines) and stay in the built
 * prefix for whoever debugs that build; a packed tree does not need them.
 */
const NOT_PACKED = [LOGS_DIR];

interface PackOptions {
  /** the built prefix to pack (read only) */
  prefix: string;
  /** output directory for the tarball and SHA256SUMS */
  out: string;
  /** the path the prefix was configured for, when it was moved since (default: the build manifest's, else `prefix`) */
  buildPrefix?: string;
  /** build directories to check for leaks (default: none beyond the cache directories: the engine builds below its cache) */
  buildDirs?: string[];
  /** cache directories to check for leaks (default: the build manifest's) */
  cacheDirs?: string[];
  home?: string;
  /** the version in the tarball's name (default: this package's) */
  version?: string;
  sourceDateEpoch?: number;
  /** node binary to bundle (default: the running node); false: bundle none */
  node?: string | false;
  strip?: boolean;
  keepStaging?: boolean;
  gzipLevel?: number;
  log?: (line: string) => void;
}

interface PackResult {
  tarball: string;
  sha256: string;
  size: number;
  version: string;
  sourceDateEpoch: number;
  closure: ClosureResult;
  patched: number;
  text: TextAction[];
  links: Array<{ path: string; from: string; to: string }>;
  leaks: LeakHit[];
  staging?: string;
  timings: Record<string, number>;
}

/** What the build manifest (foundation/manifest.ts) tells pack: where the prefix was built, from which cache, with which date. */
interface BuildInfo {
  prefix?: string;
  cacheDirs: string[];
  sourceDateEpoch?: number;
}

export function readBuildInfo(prefix: string): BuildInfo {
  if (!existsSync(join(prefix, BUILD_MANIFEST))) return { cacheDirs: [] };
  const m = readManifest(prefix);
  return { prefix: m.prefix || undefined, cacheDirs: m.cacheDir ? [m.cacheDir] : [], sourceDateEpoch: m.sourceDateEpoch };
}

/** The mpistack package's version, or 0.0.0 where pack runs outside the package. */
function ownPackageVersion(): string {
  try {
    return packageVersion();
  } catch {
    return '0.0.0';
  }
}

function tarballName(version: string): string {
  return `mpistack-${version}-linux-x86_64.tar.gz`;
}

const within = (p: string, root: string) => p === root || p.startsWith(root + '/');

/**
 * Stage the prefix: directories created, regular files hard-linked (copied
 * when that fails); every later change replaces a file (fsutil.ts), so the
 * input is never written. Symlinks:
 * relative ones that stay inside are kept; absolute ones into the prefix become
 * relative; anything pointing outside is replaced by a copy of its target.
 */
function stageCopy(src: string, stage: string, aliases: string[], links: PackResult['links']): void {
  const srcReal = realpathSync(src);
  mkdirSync(stage, { recursive: true });
  const walk = (rel: string) => {
    for (const name of readdirSync(join(src, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (NOT_PACKED.includes(r)) continue;
      const from = join(src, r);
      const to = join(stage, r);
      const st = lstatSync(from);
      if (st.isDirectory()) {
        mkdirSync(to);
        walk(r);
        continue;
      }
      if (st.isFile()) {
        linkOrCopy(from, to);
        continue;
      }
      if (!st.isSymbolicLink()) throw new PackError('copy', `${r}: not a file, directory or symlink; cannot be packed`);
      const target = readlinkSync(from);
      let abs = isAbsolute(target) ? target : resolve(dirname(join(srcReal, r)), target);
      for (const a of aliases) if (within(abs, a)) abs = srcReal + abs.slice(a.length);
      if (within(abs, srcReal)) {
        const rt = relative(dirname(join(srcReal, r)), abs) || '.';
        symlinkSync(rt, to);
        if (rt !== target) links.push({ path: r, from: target, to: rt });
        continue;
      }
      if (!existsSync(abs)) throw new PackError('copy', `${r}: symlink to ${target} points outside the prefix and does not exist`);
      const real = realpathSync(abs);
      if (statSync(real).isDirectory()) throw new PackError('copy', `${r}: symlink to the directory ${target} outside the prefix; cannot be packed`);
      linkOrCopy(real, to);
      links.push({ path: r, from: target, to: '(copy of the target: it is outside the prefix)' });
    }
  };
  walk('');
}

function ompiMajor(root: string): number {
  if (existsSync(join(root, 'bin/prte'))) return 5;
  const pc = join(root, 'lib/pkgconfig/ompi.pc');
  if (existsSync(pc)) {
    const m = /^Version:\s*(\d+)/m.exec(readFileSync(pc, 'utf8'));
    if (m) return Number(m[1]);
  }
  return 4;
}

/**
 * Whether the tree's Open MPI finds its own prefix: its ompi_info, run with
 * nothing set (no OPAL_PREFIX, no LD_LIBRARY_PATH), names `root`. False when
 * it names another path (the compiled-in prefix: an unpatched version) or
 * there is no ompi_info.
 */
async function findsItself(root: string): Promise<boolean> {
  const exe = join(root, 'bin/ompi_info');
  if (!existsSync(exe)) return false;
  const r = await tool('self-location', [exe, '--path', 'prefix', '--parsable'], { env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' }, allowFail: true });
  return /^path:prefix:(.*)$/m.exec(r.stdout)?.[1] === realpathSync(root);
}

export async function pack(opts: PackOptions): Promise<PackResult> {
  const log = opts.log ?? (() => {});
  const timings: Record<string, number> = {};
  let t0 = Date.now();
  const lap = (name: string) => {
    const t = Date.now();
    timings[name] = t - t0;
    t0 = t;
  };

  const prefix = resolve(opts.prefix);
  if (!existsSync(prefix) || !statSync(prefix).isDirectory()) throw new PackError('input', `${prefix}: no such directory`);
  const info = readBuildInfo(prefix);
  const buildPrefix = resolve(opts.buildPrefix ?? info.prefix ?? prefix);
  const aliases = [...new Set([buildPrefix, prefix, realpathSync(prefix)])];
  const version = opts.version ?? ownPackageVersion();
  const envSde = process.env.SOURCE_DATE_EPOCH !== undefined && /^\d+$/.test(process.env.SOURCE_DATE_EPOCH) ? Number(process.env.SOURCE_DATE_EPOCH) : undefined;
  const sourceDateEpoch = opts.sourceDateEpoch ?? envSde ?? info.sourceDateEpoch ?? DEFAULT_SOURCE_DATE_EPOCH;
  const out = resolve(opts.out);
  mkdirSync(out, { recursive: true });
  if (within(out, prefix)) throw new PackError('input', `output directory ${out} is inside the prefix being packed`);

  // staging next to the output, so the final rename never crosses filesystems
  const work = mkdtempSync(join(out, '.mpistack-pack-'));
  const root = join(work, TOP_DIR);
  const links: PackResult['links'] = [];
  try {
    log(`copy ${prefix} -> staging`);
    stageCopy(prefix, root, aliases, links);
    lap('copy');

    const nodeSrc = opts.node === false ? undefined : (opts.node ?? process.execPath);
    let nodePath: string | undefined;
    if (existsSync(join(root, NODE_IN_TREE))) nodePath = NODE_IN_TREE;
    else if (nodeSrc) {
      mkdirSync(join(root, 'bin'), { recursive: true });
      linkOrCopy(realpathSync(nodeSrc), join(root, NODE_IN_TREE));
      nodePath = NODE_IN_TREE;
      log(`bundle node ${nodeSrc} -> ${NODE_IN_TREE}`);
    }
    lap('node');

    if (opts.strip) {
      const elves = listTree(root).filter((e) => e.type === 'file' && isElfFile(join(root, e.path)));
      await mapLimit(elves, 2, (e) => {
        privatize(join(root, e.path));
        return tool('strip', ['strip', '--strip-debug', '--enable-deterministic-archives', join(root, e.path)]);
      });
      lap('strip');
    }

    log('walk the shared-library closure');
    const closure = walkClosure({ root, aliases });
    if (closure.missing.length) {
      throw new PackError(
        'closure',
        `${closure.missing.length} needed libraries cannot be found and are not in the base-system list`,
        closure.missing.map((m) => `${m.neededBy} needs ${m.needed}`),
      );
    }
    lap('closure');

    // RPATH (not RUNPATH): it also applies to the object's transitive loads and
    // it takes precedence over LD_LIBRARY_PATH, so a node whose environment
    // points at another libmpi.so.40 still loads the tree's.
    let patched = 0;
    await mapLimit(closure.objects, 2, async (o) => {
      const cur = o.elf.rpath ?? '';
      if (o.rpath === cur && !o.elf.runpath) return;
      if (!o.rpath && !cur && !o.elf.runpath) return;
      const file = join(root, o.path);
      patched++;
      // in place when the new string fits (always, for build-prefix RPATHs longer than '$ORIGIN/..')
      const buf = readFileSync(file);
      const done = patchRpathInPlace(buf, o.rpath);
      if (done) {
        writeReplace(file, done);
        return;
      }
      privatize(file);
      // set first (overwrites the old string in .dynstr: no build path left behind), then drop an empty entry
      await tool('patchelf', ['patchelf', '--force-rpath', '--set-rpath', o.rpath, file]);
      if (!o.rpath) await tool('patchelf', ['patchelf', '--remove-rpath', file]);
    });
    lap('rpath');

    const others: Array<{ label: string; value: string }> = [
      ...(opts.buildDirs ?? []).map((v) => ({ label: 'build-dir', value: resolve(v) })),
      ...(opts.cacheDirs ?? info.cacheDirs).map((v) => ({ label: 'cache-dir', value: resolve(v) })),
    ];
    const home = opts.home ?? homedir();
    const textFiles = listTree(root)
      .filter((e) => e.type === 'file' && e.path !== NODE_IN_TREE)
      .map((e) => e.path);
    const text = rewriteTextFiles(root, textFiles, { aliases, others: [...others, { label: 'home', value: home }], nodePath });
    lap('text');

    const spec: EnvSpec = {
      version,
      ompiMajor: ompiMajor(root),
      selfLocating: await findsItself(root),
      hasManDir: existsSync(join(root, 'share/man')),
      pkgConfigDirs: ['lib/pkgconfig', 'share/pkgconfig'].filter((d) => existsSync(join(root, d))),
      pythonPathDirs: pythonPathDirs(root),
      needsLdLibraryPath: false,
    };
    log(
      spec.selfLocating
        ? 'Open MPI finds its own prefix (ompi_info with nothing set names the tree): env.sh and the modulefiles set no OPAL_PREFIX'
        : 'Open MPI does not find its own prefix (an unpatched version): env.sh and the modulefiles set OPAL_PREFIX to the tree',
    );
    writeReplace(join(root, ENV_SH), envSh(spec), 0o644);
    mkdirSync(join(root, LMOD_DIR), { recursive: true });
    writeReplace(join(root, LMOD_DIR, `${version}.lua`), lmodFile(spec), 0o644);
    mkdirSync(join(root, TCL_DIR), { recursive: true });
    writeReplace(join(root, TCL_DIR, version), tclFile(spec), 0o644);
    lap('env');

    const needles: Needle[] = [
      { label: 'build prefix', value: buildPrefix },
      ...aliases.filter((a) => a !== buildPrefix).map((value) => ({ label: 'input directory', value })),
      ...others.map((o) => ({ label: o.label === 'build-dir' ? 'build directory' : 'cache directory', value: o.value })),
      { label: 'home', value: home.replace(/\/$/, '') + '/' },
      { label: 'staging directory', value: work },
    ];
    const scanFiles = listTree(root)
      .filter((e) => e.type === 'file')
      .map((e) => e.path);
    const leaks = scanLeaks(root, scanFiles, needles);
    const bad = leaks.filter((h) => !h.allowedBy);
    lap('leaks');
    if (bad.length) {
      throw new PackError('leak check', `${bad.length} occurrences of build-machine paths in the tree`, bad.map(formatHit));
    }

    mkdirSync(dirname(join(root, PACK_MANIFEST)), { recursive: true });
    const manifest = await buildPackManifest(root, version, sourceDateEpoch);
    writeReplace(join(root, PACK_MANIFEST), JSON.stringify(manifest, null, 1) + '\n', 0o644);
    lap('manifest');

    const entries: TarEntry[] = [{ path: TOP_DIR, type: 'dir' }];
    for (const e of listTree(root)) {
      const path = `${TOP_DIR}/${e.path}`;
      if (e.type === 'dir') entries.push({ path, type: 'dir' });
      else if (e.type === 'symlink') entries.push({ path, type: 'symlink', target: readlinkSync(join(root, e.path)) });
      else entries.push({ path, type: 'file', executable: e.executable, size: e.size, source: join(root, e.path) });
    }
    const name = tarballName(version);
    const tarball = join(out, name);
    const tmp = join(work, `${name}.partial`);
    log(`write ${tarball}`);
    await writeTarGz(tmp, entries, sourceDateEpoch, opts.gzipLevel ?? 6);
    const sha256 = await sha256File(tmp);
    renameSync(tmp, tarball);
    writeSums(out, name, sha256, work);
    lap('tar');
    const size = statSync(tarball).size;
    return { tarball, sha256, size, version, sourceDateEpoch, closure, patched, text, links, leaks, staging: opts.keepStaging ? root : undefined, timings };
  } finally {
    if (!opts.keepStaging) rmSync(work, { recursive: true, force: true });
  }
}

/** Add or replace this tarball's line in SHA256SUMS (sha256sum -c format), written via a temp file + rename. */
function writeSums(out: string, name: string, sha256: string, tmpDir: string): void {
  const path = join(out, 'SHA256SUMS');
  const lines = existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l.trim() && !l.endsWith(`  ${name}`))
    : [];
  lines.push(`${sha256}  ${name}`);
  lines.sort((a, b) => (a.slice(66) < b.slice(66) ? -1 : 1));
  const tmp = join(tmpDir, 'SHA256SUMS.partial');
  writeFileSync(tmp, lines.join('\n') + '\n');
  renameSync(tmp, path);
}

/** lib/python3.X/site-packages directories of the tree (mpi4py), sorted. */
export function pythonPathDirs(root: string): string[] {
  let names: string[];
  try {
    names = readdirSync(join(root, 'lib'));
  } catch {
    return [];
  }
  return names
    .filter((n) => /^python3\.\d+$/.test(n))
    .sort()
    .map((n) => `lib/${n}/site-packages`)
    .filter((d) => existsSync(join(root, d)));
}

/** Human-readable `--explain` text for a pack result. */
export function explainResult(r: PackResult): string[] {
  const L: string[] = [];
  const bySoname = new Map<string, { kind: string; where: string; why: string; users: number }>();
  for (const o of r.closure.objects) {
    for (const d of o.deps) {
      const cur = bySoname.get(d.needed);
      if (cur) {
        cur.users++;
        continue;
      }
      bySoname.set(d.needed, {
        kind: d.kind,
        where: d.kind === 'tree' || d.kind === 'vendored' ? d.treePath! : (d.systemPath ?? '(not on this machine)'),
        why: d.why,
        users: 1,
      });
    }
  }
  L.push(`libraries needed by the ${r.closure.objects.length} ELF objects of the tree:`);
  for (const [soname, v] of [...bySoname].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    L.push(`  ${soname.padEnd(34)} ${v.kind.padEnd(8)} ${v.where}  (needed by ${v.users}; ${v.why})`);
  }
  if (r.closure.vendored.length) {
    L.push('vendored (copied into the tree):');
    for (const v of r.closure.vendored) L.push(`  ${v.from} -> ${v.to} (needed by ${v.neededBy.join(', ')})`);
  } else L.push('vendored: none (every non-base library is already in the tree)');
  const rp = new Map<string, number>();
  for (const o of r.closure.objects) rp.set(o.rpath || '(none)', (rp.get(o.rpath || '(none)') ?? 0) + 1);
  L.push(`RPATHs set (${r.patched} objects patched):`);
  for (const [k, n] of [...rp].sort()) L.push(`  ${k.padEnd(40)} ${n} objects`);
  L.push('text files:');
  const byRule = new Map<string, string[]>();
  for (const a of r.text)
    byRule.set(a.rule, [...(byRule.get(a.rule) ?? []), `${a.file}${a.detail !== 'rewritten' && a.detail !== 'deleted' ? ` (${a.detail})` : ''}`]);
  for (const [rule, files] of byRule) L.push(`  ${rule}: ${files.length} file(s): ${files.slice(0, 6).join(', ')}${files.length > 6 ? ', ...' : ''}`);
  if (r.links.length) {
    L.push('symlinks changed:');
    for (const l of r.links) L.push(`  ${l.path}: ${l.from} -> ${l.to}`);
  }
  const allowed = r.leaks.filter((h) => h.allowedBy);
  L.push(`leak check: ${r.leaks.length - allowed.length} leaks, ${allowed.length} allowed occurrences:`);
  const byWhy = new Map<string, LeakHit[]>();
  for (const h of allowed) byWhy.set(h.allowedBy!.why, [...(byWhy.get(h.allowedBy!.why) ?? []), h]);
  for (const [why, hits] of byWhy) {
    L.push(`  ${hits.length} x ${why}`);
    for (const h of hits.slice(0, 4)) L.push(`      ${h.file}@${h.offset}${h.section ? ` (${h.section})` : ''}: ${h.label}`);
    if (hits.length > 4) L.push(`      ... and ${hits.length - 4} more in ${new Set(hits.map((h) => h.file)).size} files`);
  }
  return L;
}
