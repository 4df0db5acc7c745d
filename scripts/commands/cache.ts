// mpistack cache: what the source and build cache hold, and cleaning it.
//   list   build cache entries (recipe, version, key, size, which prefixes use them),
//          verified sources (<cache>/sources/<sha256>/<file>), quarantined files, build dirs
//   gc     remove build cache entries no prefix manifest references, and entries
//          left half-written by a killed build (.tmp-*)
//   clean  remove build dirs (their logs), quarantined and temporary files;
//          sources and build cache entries stay
import { existsSync, readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { buildsDir, knownPrefixes, readEntry } from '../engine/buildcache.js';
import { UsageError } from '../foundation/errors.js';
import { readManifest } from '../foundation/manifest.js';
import { parseOptions } from './_options.js';
import { defaultCacheDir } from './build.js';

export const describe = 'list the cache (build cache entries, sources, quarantine, build dirs); gc unreferenced entries; clean build leftovers';

const HELP = `usage: mpistack cache list|gc|clean [--cache DIR] [--prefix DIR]...
  list    build cache entries (recipe, version, key, size, used by), sources, quarantine, build dirs
  gc      remove build cache entries that no prefix manifest references (prefixes built with
          this cache are remembered in <cache>/prefixes.json; --prefix adds more), and
          entries a killed build left half-written
  clean   remove build dirs, quarantined and temporary files (sources and entries stay)`;

const ls = (d: string) => (existsSync(d) ? readdirSync(d).sort() : []);

function human(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  for (; n >= 1024 && i < u.length - 1; i++) n /= 1024;
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}

/** key -> prefixes whose manifest names it */
async function references(cacheDir: string, extra: readonly string[]): Promise<Map<string, string[]>> {
  const refs = new Map<string, string[]>();
  for (const p of [...new Set([...(await knownPrefixes(cacheDir)), ...extra])]) {
    if (!existsSync(p)) continue;
    for (const e of Object.values(readManifest(p).recipes)) {
      if (e.key) refs.set(e.key, [...(refs.get(e.key) ?? []), p]);
    }
  }
  return refs;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(
    {
      args: argv,
      allowPositionals: true,
      options: { cache: { type: 'string' }, prefix: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } },
    },
    HELP,
  );
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const dir = values.cache ?? defaultCacheDir();
  const action = positionals[0] ?? 'list';
  const builds = buildsDir(dir);
  if (action === 'list') {
    console.log(`cache ${dir}`);
    const refs = await references(dir, values.prefix ?? []);
    for (const name of ls(builds)) {
      if (name.startsWith('.tmp-')) {
        console.log(`  incomplete  ${name}  (a killed build's leftover; gc removes it)`);
        continue;
      }
      const e = await readEntry(dir, name);
      if (!e) {
        console.log(`  incomplete  ${name}  (no entry.json; gc removes it)`);
        continue;
      }
      const used = refs.get(name);
      console.log(
        `  build       ${e.recipe} ${e.version}  key ${e.key}  ${human(e.size)}  ${e.files.length} files  ` +
          (used ? `used by ${used.join(', ')}` : 'unreferenced'),
      );
    }
    for (const sha of ls(join(dir, 'sources')))
      for (const f of ls(join(dir, 'sources', sha))) {
        console.log(`  source      ${f}  sha256 ${sha}  ${statSync(join(dir, 'sources', sha, f)).size} bytes`);
      }
    for (const f of ls(join(dir, 'quarantine'))) console.log(`  quarantine  ${f}`);
    for (const b of ls(join(dir, 'build'))) console.log(`  build dir   ${join(dir, 'build', b)}`);
    return 0;
  }
  if (action === 'gc') {
    const refs = await references(dir, values.prefix ?? []);
    let removed = 0;
    let freed = 0;
    for (const name of ls(builds)) {
      const e = name.startsWith('.tmp-') ? null : await readEntry(dir, name);
      if (e && refs.has(name)) continue;
      await rm(join(builds, name), { recursive: true, force: true });
      removed++;
      freed += e?.size ?? 0;
      console.log(`removed ${e ? `${e.recipe} ${e.version} key ${name}` : `incomplete ${name}`}`);
    }
    console.log(`gc: removed ${removed} entr${removed === 1 ? 'y' : 'ies'} (${human(freed)}); kept ${ls(builds).length} referenced by a prefix`);
    return 0;
  }
  if (action === 'clean') {
    for (const sub of ['build', 'quarantine', 'tmp']) await rm(join(dir, sub), { recursive: true, force: true });
    console.log(`removed build dirs, quarantined and temporary files under ${dir}; sources and build cache entries kept`);
    return 0;
  }
  throw new UsageError(`mpistack cache: unknown action '${action}' (list | gc | clean)\n\n${HELP}`);
}
