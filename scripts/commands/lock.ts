// mpistack lock [--check] [--stack NAME]: write (or check) a stack's lock
// (stack.lock.json for the default stack), the pinned inputs of its recipes
// (scripts/engine/lock.ts).
import { join } from 'node:path';
import { knownRecipes, OPTIONAL, STACKS, stackBase, stackRecipes, type Optional } from '../../recipes/index.js';
import { DEFAULT_PYTHON } from '../../recipes/mpi4py.js';
import { currentLock, lockDifferences, readLock, selectStack, toolchainDifferences, writeLock } from '../engine/lock.js';
import { toolchainVersions } from '../engine/toolchain.js';
import { UsageError } from '../foundation/errors.js';
import { DEFAULT_SOURCE_DATE_EPOCH, parseSourceDateEpoch } from '../foundation/layout.js';
import { packageRoot } from '../foundation/package.js';
import { parseOptions, pythonOption } from './_options.js';
import { defaultCacheDir } from './build.js';

export const describe =
  `write a stack's lock (${STACKS.map((x) => x.lockFile).join(', ')}) from the current recipes, sources and toolchain; ` + '--check compares instead';

const HELP = `usage: mpistack lock [--check] [options]
  --check            compare the lock with the current choices; exit 1 and list every difference
  --stack NAME       the named stack (${STACKS.map((x) => `${x.name}: ${x.lockFile}`).join(', ')}; default: default)
  --lock FILE        the lock file (default: the stack's at the package root)
  --cache DIR        source cache consulted for the chosen source (default: $XDG_CACHE_HOME/mpistack)
  --openmpi VERSION  lock this Open MPI version instead of the stack's (a version a named stack has selects it)
  --with PIECE       lock an optional piece too (${OPTIONAL.filter((p) => p !== 'boost-python').join(', ')}); entries of pieces not named are kept
  --python PATH      the Python mpi4py is locked for (default: ${DEFAULT_PYTHON})
The chosen source of a recipe is the locked one while its table still has it, else
the one already in the source cache, else the first (upstream). SOURCE_DATE_EPOCH
comes from the environment, else the existing lock, else ${DEFAULT_SOURCE_DATE_EPOCH}.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions(
    {
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        check: { type: 'boolean', default: false },
        lock: { type: 'string' },
        cache: { type: 'string' },
        openmpi: { type: 'string' },
        stack: { type: 'string' },
        with: { type: 'string', multiple: true },
        python: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    },
    HELP,
  );
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const asked: Record<string, string> = {};
  if (values.openmpi) {
    const r = knownRecipes.find((x) => x.name === 'openmpi')!;
    if (!r.versions.some((v) => v.version === values.openmpi))
      throw new UsageError(`--openmpi ${values.openmpi}: unknown version (known: ${r.versions.map((v) => v.version).join(', ')})`);
    asked.openmpi = values.openmpi;
  }
  const { stack, versions } = selectStack(STACKS, knownRecipes, { stack: values.stack, versions: asked });
  const base = stackBase(stack);
  const path = values.lock ?? join(packageRoot(), stack.lockFile);
  const withs = [...new Set((values.with ?? []).flatMap((w) => w.split(',')).filter(Boolean))];
  for (const w of withs) {
    if (!(OPTIONAL as readonly string[]).includes(w) || w === 'boost-python') throw new UsageError(`--with ${w}: not a piece the lock pins (pinned: mpi4py)`);
  }
  const added = withs.length
    ? stackRecipes({ stack, with: withs as Optional[], python: pythonOption(values.python ?? DEFAULT_PYTHON) }).filter(
        (r) => !base.some((d) => d.name === r.name),
      )
    : [];
  const existing = await readLock(path);
  const envSde = process.env.SOURCE_DATE_EPOCH;
  const sde = envSde ? parseSourceDateEpoch(envSde, 'SOURCE_DATE_EPOCH in the environment') : (existing?.sourceDateEpoch ?? DEFAULT_SOURCE_DATE_EPOCH);
  const toolchain = await toolchainVersions();
  const now = await currentLock([...base, ...added], {
    versions,
    sourceDateEpoch: sde,
    cacheDir: values.cache ?? defaultCacheDir(),
    toolchain,
    existing,
    optional: added.map((r) => r.name),
  });
  if (values.check) {
    if (!existing) {
      console.error(`mpistack lock --check: no ${path}; write it with 'mpistack lock'`);
      return 1;
    }
    for (const w of toolchainDifferences(existing.toolchain ?? {}, now.toolchain)) console.error(`warning: toolchain differs: ${w}`);
    const diffs = lockDifferences(existing, now);
    if (!diffs.length) {
      console.log(`${path}: up to date (${Object.keys(existing.recipes).length} recipes, SOURCE_DATE_EPOCH ${existing.sourceDateEpoch})`);
      return 0;
    }
    console.log(`${path} differs from the current choices:\n  ${diffs.join('\n  ')}\nrun 'mpistack lock' to rewrite it`);
    return 1;
  }
  await writeLock(path, now);
  for (const [n, r] of Object.entries(now.recipes))
    console.log(`${n} ${r.version}: ${r.source.origin} ${r.source.filename}${r.source.sha256 ? ` sha256 ${r.source.sha256}` : ''}`);
  console.log(`wrote ${path} (SOURCE_DATE_EPOCH ${sde})`);
  return 0;
}
