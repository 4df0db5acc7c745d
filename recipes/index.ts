// The recipes `mpistack build` knows, in dependency order, and the named
// stacks. Each stack is a list of recipes at some versions, pinned by its own
// lock file; `stackRecipes` adds the optional pieces (--with) and drops the
// fabrics (--without fabrics).
import { boost, boostPythonPackageDir, boostRecipe } from './boost.js';
import { RecipeError, type Recipe } from './kit/index.js';
import { libfabric } from './libfabric.js';
import { mpi4pyRecipe, type PythonInfo } from './mpi4py.js';
import { nodeMpi } from './nodempi.js';
import { openmpiRecipe } from './openmpi.js';
import { runtime } from './runtime.js';
import { toolchain } from './toolchain.js';
import { ucx } from './ucx.js';

/** The fabric libraries Open MPI is built against when a stack has fabrics (issue 18). */
const FABRICS: readonly Recipe[] = [ucx, libfabric];

/** A stack's recipes: with fabrics, UCX and libfabric first and Open MPI built against them. */
function recipesOf(fabrics: boolean): Recipe[] {
  return [...(fabrics ? FABRICS : []), openmpiRecipe({ fabrics }), boost, nodeMpi, runtime, toolchain];
}

/**
 * The named stacks: each is the default recipes at some versions, pinned by
 * its own lock file at the package root. `build --stack NAME` (or an
 * `--openmpi` version that names one) picks it.
 */
export interface StackDef {
  name: string;
  /** the lock file at the package root */
  lockFile: string;
  /** recipe -> version, where it differs from the recipe's default */
  versions: Record<string, string>;
  /** UCX and libfabric in the stack, Open MPI's ucx PML and ofi MTL built against them */
  fabrics: boolean;
  why: string;
}

export const STACKS: readonly StackDef[] = [
  {
    name: 'default',
    lockFile: 'stack.lock.json',
    versions: {},
    fabrics: true,
    why: "a current Open MPI (4.1.4, Debian 12's) with every recipe's default version, UCX and libfabric",
  },
  {
    name: 'seed',
    lockFile: 'stack.seed.lock.json',
    versions: { openmpi: '1.6.5' },
    fabrics: false,
    why: "the CASA 4.3 guide's card: Open MPI 1.6.5 (thread-multiple), MPI-2.1; it predates UCX (Open MPI 3.0) and libfabric (1.10)",
  },
];

/** The recipes a stack pins (its lock file lists exactly these). */
export function stackBase(stack: StackDef = STACKS[0]): Recipe[] {
  return recipesOf(stack.fabrics);
}

/** The default stack's recipes. */
export const allRecipes: readonly Recipe[] = stackBase(STACKS[0]);

/** Every recipe name any stack has (for --only and version checks). */
export const knownRecipes: readonly Recipe[] = recipesOf(true);

/** What `--with` can add to a stack. */
export const OPTIONAL = ['mpi4py', 'boost-python'] as const;
export type Optional = (typeof OPTIONAL)[number];

interface StackOptions {
  stack?: StackDef;
  with?: readonly Optional[];
  /** false: Open MPI without UCX and libfabric even on a stack that has them (--without fabrics) */
  fabrics?: boolean;
  /** the interpreter mpi4py and Boost.Python are built for (required when `with` is not empty) */
  python?: PythonInfo;
}

/** A stack's recipes plus the optional pieces asked for. */
export function stackRecipes(o: StackOptions = {}): Recipe[] {
  const stack = o.stack ?? STACKS[0];
  const base = o.fabrics === false && stack.fabrics ? recipesOf(false) : stackBase(stack);
  const w = new Set(o.with ?? []);
  const python = o.python;
  if (!w.size) return base;
  if (!python) throw new RecipeError(`--with ${[...w].join(',')} needs a Python interpreter`);
  const boostPython = w.has('boost-python');
  const out = base.map((r) => (r.name === 'boost' && boostPython ? boostRecipe({ python: python.path }) : r));
  // mpi4py's check imports boost.mpi from where the boost recipe says it is (recipes never import each other: the catalogue joins them)
  if (w.has('mpi4py')) out.push(mpi4pyRecipe({ python, boostPython: boostPython ? boostPythonPackageDir : undefined }));
  return out;
}
