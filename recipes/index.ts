// The recipes `mpistack build` knows, in dependency order. The default stack
// is `allRecipes`; `stackRecipes` adds the optional pieces (--with).
import { boost, boostRecipe } from './boost.js';
import { mpi4pyRecipe, type PythonInfo } from './mpi4py.js';
import { nodeMpi } from './nodempi.js';
import { openmpi } from './openmpi.js';
import { runtime } from './runtime.js';
import { toolchain } from './toolchain.js';
import type { Recipe } from './types.js';

export const allRecipes: readonly Recipe[] = [openmpi, boost, nodeMpi, runtime, toolchain];

/** What `--with` can add to the default stack. */
export const OPTIONAL = ['mpi4py', 'boost-python'] as const;
export type Optional = (typeof OPTIONAL)[number];

export interface StackOptions {
  with?: readonly Optional[];
  /** the interpreter mpi4py and Boost.Python are built for (required when `with` is not empty) */
  python?: PythonInfo;
}

/** The default stack plus the optional pieces asked for. */
export function stackRecipes(o: StackOptions = {}): Recipe[] {
  const w = new Set(o.with ?? []);
  if (w.size && !o.python) throw new Error(`--with ${[...w].join(',')} needs a Python interpreter`);
  const boostPython = w.has('boost-python');
  const out = allRecipes.map((r) => (r.name === 'boost' && boostPython ? boostRecipe({ python: o.python!.path }) : r));
  if (w.has('mpi4py')) out.push(mpi4pyRecipe({ python: o.python!, boostPython }));
  return out;
}

export { boost };
