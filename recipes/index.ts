// The recipes `mpistack build` knows, in dependency order.
import { boost } from './boost.js';
import { openmpi } from './openmpi.js';
import type { Recipe } from './types.js';

export const allRecipes: readonly Recipe[] = [openmpi, boost];
