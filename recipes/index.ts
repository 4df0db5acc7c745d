// The recipes `mpistack build` knows, in dependency order. The default stack
// is `allRecipes`; `stackRecipes` adds the optional pieces (--with).
import { boost, boostPythonPackageDir, boostRecipe } from './boost.js';
import { RecipeError, type Recipe } from './kit/index.js';
import { mpi4pyRecipe, type PythonInfo } from './mpi4py.js';
import { nodeMpi } from './nodempi.js';
import { openmpi } from './openmpi.js';
import { runtime } from './runtime.js';
import { toolchain } from './toolchain.js';

export const allRecipes: readonly Recipe[] = [openmpi, boost, nodeMpi, runtime, toolchain];

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
  why: string;
}

export const STACKS: readonly StackDef[] = [
  { name: 'default', lockFile: 'stack.lock.json', versions: {}, why: "a current Open MPI (4.1.4, Debian 12's) with every recipe's default version" },
  {
    name: 'seed',
    lockFile: 'stack.seed.lock.json',
    versions: { openmpi: '1.6.5' },
    why: "the CASA 4.3 guide's card: Open MPI 1.6.5 (thread-multiple), MPI-2.1",
  },
];

/** What `--with` can add to the default stack. */
export const OPTIONAL = ['mpi4py', 'boost-python'] as const;
export type Optional = (typeof OPTIONAL)[number];

interface StackOptions {
  with?: readonly Optional[];
  /** the interpreter mpi4py and Boost.Python are built for (required when `with` is not empty) */
  python?: PythonInfo;
}

/** The default stack plus the optional pieces asked for. */
export function stackRecipes(o: StackOptions = {}): Recipe[] {
  const w = new Set(o.with ?? []);
  const python = o.python;
  if (!w.size) return [...allRecipes];
  if (!python) throw new RecipeError(`--with ${[...w].join(',')} needs a Python interpreter`);
  const boostPython = w.has('boost-python');
  const out = allRecipes.map((r) => (r.name === 'boost' && boostPython ? boostRecipe({ python: python.path }) : r));
  // mpi4py's check imports boost.mpi from where the boost recipe says it is (recipes never import each other: the catalogue joins them)
  if (w.has('mpi4py')) out.push(mpi4pyRecipe({ python, boostPython: boostPython ? boostPythonPackageDir : undefined }));
  return out;
}
