// The recipes `mpistack build` knows, in dependency order.
import { boost } from './boost.js';
import { nodeMpi } from './nodempi.js';
import { openmpi } from './openmpi.js';
import { runtime } from './runtime.js';
import type { Recipe } from './types.js';

export const allRecipes: readonly Recipe[] = [openmpi, boost, nodeMpi, runtime];
