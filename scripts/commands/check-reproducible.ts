// mpistack check-reproducible: build the default stack twice from clean,
// pack both, compare the tarballs; name every differing file and why.
import { mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { rm } from 'node:fs/promises';
import { knownRecipes, STACKS, stackBase } from '../../recipes/index.js';
import { applyLock, selectStack } from '../engine/lock.js';
import { validatePrefix } from '../engine/plan.js';
import { toolchainVersions } from '../engine/toolchain.js';
import { UsageError } from '../foundation/errors.js';
import { packageRoot } from '../foundation/package.js';
import { checkReproducible } from '../repro/repro.js';
import { formatDiffs } from '../repro/treediff.js';
import { parseOptions } from './_options.js';
import { defaultCacheDir } from './build.js';

export const describe = 'build the stack twice from clean, pack both, compare the sha256; name every differing file and why';

const HELP = `usage: mpistack check-reproducible [--prefix=DIR] [options]
  --prefix DIR       install prefix of both builds, empty or absent (default: <work>/prefix);
                     it holds the second build at the end
  --work DIR         scratch directory for the two rounds (default: a new one under $TMPDIR)
  --jobs N           parallel make jobs (default: ${availableParallelism()})
  --cache DIR        source cache to take verified source archives from (its build cache is not used;
                     default: $XDG_CACHE_HOME/mpistack)
  --mirror URL|DIR   tried before upstream; repeatable
  --offline          use only the source cache and --mirror entries
  --stack NAME       the named stack to build (${STACKS.map((x) => x.name).join(', ')}; default: default)
  --lock FILE        the stack lock to follow (default: the stack's lock file at the package root)
  --node PATH        bundle this node binary in both tarballs (default: none, as pack --no-node)
  --keep             keep the work directory when the tarballs are identical
Exit status: 0 identical tarballs, 1 they differ (every differing file is listed), 2 usage.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions(
    {
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        prefix: { type: 'string' },
        work: { type: 'string' },
        jobs: { type: 'string' },
        cache: { type: 'string' },
        mirror: { type: 'string', multiple: true },
        offline: { type: 'boolean', default: false },
        lock: { type: 'string' },
        stack: { type: 'string' },
        node: { type: 'string' },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    },
    HELP,
  );
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const jobs = values.jobs === undefined ? availableParallelism() : Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`--jobs must be a positive integer, got '${values.jobs}'`);
  const workDir = resolve(values.work ?? mkdtempSync(join(tmpdir(), 'mpistack-repro-')));
  const prefix = validatePrefix(values.prefix ?? join(workDir, 'prefix'));
  const cacheDir = values.cache ?? defaultCacheDir();
  const { stack, versions } = selectStack(STACKS, knownRecipes, { stack: values.stack, versions: {} });
  const lp = await applyLock(stackBase(stack), {
    path: values.lock ?? join(packageRoot(), stack.lockFile),
    versions,
    cacheDir,
    toolchain: await toolchainVersions(),
  });
  for (const w of lp.warnings) console.error(`warning: ${w}`);
  const started = Date.now();
  const r = await checkReproducible({
    recipes: lp.recipes,
    versions,
    prefix,
    workDir,
    jobs,
    sourceCache: cacheDir,
    mirrors: values.mirror ?? [],
    offline: values.offline,
    sourceDateEpoch: lp.sourceDateEpoch,
    node: values.node ?? false,
    render: 'silent',
    log: (l) => console.log(`check-reproducible: ${l}`),
  });
  const secs = Math.round((Date.now() - started) / 1000);
  for (const [i, x] of r.rounds.entries()) console.log(`round ${i + 1}: sha256 ${x.sha256}  ${x.tarball}`);
  if (r.identical) {
    console.log(`reproducible: both builds pack to sha256 ${r.rounds[0].sha256} (${secs} s)`);
    if (!values.keep && !values.work) await rm(workDir, { recursive: true, force: true });
    return 0;
  }
  console.log(`NOT reproducible: ${r.diffs.length} differences (${secs} s; both trees unpacked under ${join(workDir, 'diff')}):`);
  for (const l of formatDiffs(r.diffs)) console.log(l);
  return 1;
}
