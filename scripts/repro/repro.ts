// The proof of reproducibility: build the stack twice from clean (fresh
// caches, no build cache, two build directories of different lengths, at
// two different times), pack each build, compare the tarballs' sha256, and
// when they differ say which files differ and why (treediff.ts).
//
//   <work>/a/cache            round 1: source cache (seeded) and build directories
//   <work>/a/pack             round 1 tarball + SHA256SUMS
//   <work>/second-round/...   round 2, the same (a longer path on purpose)
//   <work>/diff/{a,b}         both tarballs unpacked, when they differ
//
// The prefix is the same for both rounds (Open MPI, Boost and the binding
// compile it in); it must be empty or absent, and holds round 2's build at
// the end.
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, link, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { findVersion, type Recipe } from '../../recipes/kit/contract.js';
import { buildStack } from '../engine/engine.js';
import { cachePath } from '../engine/fetch.js';
import { validatePrefix, type BuildOptions } from '../engine/plan.js';
import type { RenderMode } from '../engine/render.js';
import { UsageError } from '../foundation/errors.js';
import { pack } from '../pack/pack.js';
import { diffEntries, extractForDiff, type FileDiff } from './treediff.js';

const ROUND_DIRS = ['a', 'second-round'] as const;

interface ReproOptions {
  recipes: readonly Recipe[];
  /** the install prefix of both builds (empty or absent) */
  prefix: string;
  /** scratch directory for both rounds */
  workDir: string;
  jobs: number;
  /** source cache to seed each round's fresh cache from (verified files only; nothing of its build cache is used) */
  sourceCache?: string;
  mirrors?: string[];
  offline?: boolean;
  versions?: Record<string, string>;
  sourceDateEpoch: number;
  /** node binary for pack to bundle; false: none (default) */
  node?: string | false;
  /** pause between the rounds, so the second starts at another second (default 2000 ms) */
  gapMs?: number;
  render?: RenderMode;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

interface RoundResult {
  cacheDir: string;
  tarball: string;
  sha256: string;
  buildMs: number;
  packMs: number;
  startedAt: string;
}

interface ReproResult {
  identical: boolean;
  rounds: RoundResult[];
  /** every difference (empty when identical) */
  diffs: FileDiff[];
}

/** Copy (hard link when possible) every source file the recipes can use from one cache into another. */
async function seedSources(recipes: readonly Recipe[], versions: Record<string, string> | undefined, from: string, to: string): Promise<number> {
  let n = 0;
  for (const r of recipes) {
    for (const s of findVersion(r, versions?.[r.name]).sources) {
      if (s.kind === 'local') continue;
      const src = cachePath(from, s.sha256, s.filename);
      if (!existsSync(src)) continue;
      const dst = cachePath(to, s.sha256, s.filename);
      await mkdir(join(to, 'sources', s.sha256), { recursive: true });
      await link(src, dst).catch(() => copyFile(src, dst));
      n++;
    }
  }
  return n;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function checkReproducible(o: ReproOptions): Promise<ReproResult> {
  const prefix = validatePrefix(o.prefix);
  if (existsSync(prefix) && readdirSync(prefix).length) {
    throw new UsageError(
      `check-reproducible builds from clean: ${prefix} must be empty or absent (it holds the second build at the end); pick another --prefix or empty it`,
    );
  }
  const log = o.log ?? (() => {});
  await mkdir(o.workDir, { recursive: true });
  const rounds: RoundResult[] = [];
  for (const [i, name] of ROUND_DIRS.entries()) {
    if (i > 0) await sleep(o.gapMs ?? 2000);
    const dir = join(o.workDir, name);
    await rm(dir, { recursive: true, force: true });
    await rm(prefix, { recursive: true, force: true });
    const cacheDir = join(dir, 'cache');
    await mkdir(cacheDir, { recursive: true });
    if (o.sourceCache) {
      const n = await seedSources(o.recipes, o.versions, o.sourceCache, cacheDir);
      log(`round ${i + 1}: ${n} verified source archives from ${o.sourceCache}`);
    }
    const startedAt = new Date().toISOString();
    log(`round ${i + 1}: build into ${prefix} (build directories under ${cacheDir}), started ${startedAt}`);
    const bo: BuildOptions = {
      prefix,
      jobs: o.jobs,
      cacheDir,
      mirrors: o.mirrors ?? [],
      offline: o.offline ?? false,
      versions: o.versions,
      buildCache: false,
      render: o.render ?? 'silent',
      sourceDateEpoch: o.sourceDateEpoch,
      env: o.env,
    };
    let t = Date.now();
    await buildStack(o.recipes, bo);
    const buildMs = Date.now() - t;
    t = Date.now();
    const r = await pack({ prefix, out: join(dir, 'pack'), node: o.node ?? false, sourceDateEpoch: o.sourceDateEpoch });
    const packMs = Date.now() - t;
    log(`round ${i + 1}: ${r.tarball} sha256 ${r.sha256} (build ${Math.round(buildMs / 1000)} s, pack ${Math.round(packMs / 1000)} s)`);
    rounds.push({ cacheDir, tarball: r.tarball, sha256: r.sha256, buildMs, packMs, startedAt });
  }
  const [a, b] = rounds;
  if (a.sha256 === b.sha256) return { identical: true, rounds, diffs: [] };
  log('the tarballs differ: unpacking both to find out why');
  const diffDir = join(o.workDir, 'diff');
  await rm(diffDir, { recursive: true, force: true });
  const ea = await extractForDiff(a.tarball, join(diffDir, 'a'));
  const eb = await extractForDiff(b.tarball, join(diffDir, 'b'));
  const diffs = diffEntries(ea, eb, join(diffDir, 'a'), join(diffDir, 'b'));
  if (!diffs.length)
    diffs.push({ path: '(tarball)', why: 'same entries, modes and bytes: the tar headers or the gzip stream differ (zlib of another node?)', details: [] });
  return { identical: false, rounds, diffs };
}
