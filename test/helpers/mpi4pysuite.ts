// mpi4py's own test suite (test/runtests.py of the source the stack's mpi4py
// was built from), run module by module under an mpirun with a time limit
// each: a module that hangs (dynamic processes in a container, say) costs its
// limit and is reported, instead of hanging the whole suite.
//
// Each rank writes its own result as JSON (ran, failed and errored test ids,
// skipped count, where mpi4py and libmpi came from), so the lines of several
// ranks never interleave. The loader, options and test selection are
// runtests.py's own: a suite nobody here wrote.
import { readdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runLimited } from './mpi.js';

export const DRIVER = `import json, os, sys, unittest
testdir, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, testdir)
import runtests
options, rest = runtests.getoptionparser().parse_args(sys.argv[3:])
runtests.setup_python(options)
runtests.setup_unittest(options)
runtests.import_package(options, 'mpi4py')
suite = runtests.load_tests(options, rest)
result = unittest.TextTestRunner(stream=open(os.devnull, 'w'), verbosity=0).run(suite)
import mpi4py
from mpi4py import MPI
rank = MPI.COMM_WORLD.Get_rank()
maps = sorted({l.split()[-1] for l in open('/proc/self/maps') if '/libmpi.so' in l})
with open('%s.%d' % (out, rank), 'w') as f:
    json.dump({'rank': rank, 'ran': result.testsRun, 'skipped': len(result.skipped),
               'failed': sorted([t.id() for t, _ in result.failures] + [t.id() for t in result.unexpectedSuccesses]),
               'errors': sorted(t.id() for t, _ in result.errors),
               'detail': {t.id(): tb[-1500:] for t, tb in result.failures + result.errors},
               'mpi4py': mpi4py.__file__, 'libmpi': maps, 'version': list(MPI.Get_version()),
               'library': MPI.Get_library_version().split(',')[0].strip()}, f)
`;

export interface RankResult {
  rank: number;
  ran: number;
  skipped: number;
  failed: string[];
  errors: string[];
  detail: Record<string, string>;
  mpi4py: string;
  libmpi: string[];
  /** MPI standard version of the library, [major, minor] */
  version: [number, number];
  library: string;
}

export interface ModuleResult {
  module: string;
  /** every rank's result; fewer than the ranks when the run crashed or timed out */
  ranks: RankResult[];
  timedOut: boolean;
  code: number | null;
  /** mpirun's output, for a report */
  output: string;
  ms: number;
}

export interface SuiteRun {
  /** mpirun of the MPI under test */
  mpirun: string;
  python: string;
  /** the mpi4py source's test/ directory */
  testDir: string;
  ranks: number;
  /** environment of mpirun (PYTHONPATH names the mpi4py under test) */
  env: NodeJS.ProcessEnv;
  /** where the per-rank result files go */
  workDir: string;
  /** per module */
  timeoutMs: number;
  /** module -> its own limit (a module known to hang need not cost the full one) */
  limits?: Record<string, number>;
  /** limit to these modules (default: every test_*.py) */
  modules?: string[];
}

/** The modules of the suite: test_*.py in testDir, sorted. */
export function suiteModules(testDir: string): string[] {
  return readdirSync(testDir)
    .filter((f) => /^test_\w+\.py$/.test(f))
    .map((f) => f.slice(0, -3))
    .sort();
}

/** Run each module under `mpirun -n ranks` with its own time limit. */
export async function runSuite(o: SuiteRun): Promise<ModuleResult[]> {
  const driver = join(o.workDir, 'mpi4py_suite_driver.py');
  writeFileSync(driver, DRIVER);
  const out: ModuleResult[] = [];
  for (const module of o.modules ?? suiteModules(o.testDir)) {
    const base = join(o.workDir, `${module}.n${o.ranks}`);
    const r = await runLimited(o.mpirun, ['-n', String(o.ranks), o.python, driver, o.testDir, base, '--no-builddir', '-i', `^${module}$`], {
      cwd: o.workDir,
      env: o.env,
      timeoutMs: o.limits?.[module] ?? o.timeoutMs,
    });
    const ranks: RankResult[] = [];
    for (let i = 0; i < o.ranks; i++) {
      const f = `${base}.${i}`;
      if (existsSync(f)) ranks.push(JSON.parse(readFileSync(f, 'utf8')) as RankResult);
    }
    out.push({ module, ranks, timedOut: r.timedOut, code: r.code, output: (r.stdout + r.stderr).slice(-3000), ms: r.ms });
  }
  return out;
}

/** What went wrong in a module: failed/errored test ids of any rank, or the module itself (timed out, crashed, ranks missing). */
export function problems(m: ModuleResult, ranks: number): string[] {
  const p = new Set<string>();
  for (const r of m.ranks) for (const t of [...r.failed, ...r.errors]) p.add(t);
  if (m.timedOut) p.add(`${m.module} (timed out)`);
  else if (m.ranks.length < ranks || m.code !== 0) p.add(`${m.module} (exit ${m.code}, ${m.ranks.length} of ${ranks} ranks reported)`);
  return [...p].sort();
}

export interface Totals {
  ran: number;
  skipped: number;
  failed: number;
  errors: number;
  modulesTimedOut: number;
}

/** Counts over rank 0's results (every rank runs the same tests). */
export function totals(results: ModuleResult[]): Totals {
  const t: Totals = { ran: 0, skipped: 0, failed: 0, errors: 0, modulesTimedOut: 0 };
  for (const m of results) {
    const r0 = m.ranks.find((r) => r.rank === 0);
    if (m.timedOut) t.modulesTimedOut++;
    if (!r0) continue;
    t.ran += r0.ran;
    t.skipped += r0.skipped;
    t.failed += r0.failed.length;
    t.errors += r0.errors.length;
  }
  return t;
}

/** A run described as data, for the command-line entry (mpi4pysuite-cli.ts) that runs it inside a mount namespace. */
export type SuiteSpec = SuiteRun;

/** Problems of `ours` that the baseline does not share (a module that timed out or crashed in the baseline covers all of its tests). */
export function notInBaseline(ours: ModuleResult[], baseline: ModuleResult[], ranks: number): string[] {
  const out: string[] = [];
  for (const m of ours) {
    const mine = problems(m, ranks);
    if (!mine.length) continue;
    const b = baseline.find((x) => x.module === m.module);
    const theirs = b ? problems(b, ranks) : [];
    const whole = b && (b.timedOut || b.code !== 0 || b.ranks.length < ranks);
    for (const p of mine) if (!whole && !theirs.includes(p)) out.push(p);
  }
  return out;
}
