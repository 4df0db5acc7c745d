// What the main job built into an e2e prefix (the default stack or the
// seed's), read from the prefix itself, so one e2e suite serves both stacks.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { manifestPath } from '../../scripts/foundation/layout.js';
import { type Manifest } from '../../scripts/foundation/manifest.js';

export interface BuiltStack {
  manifest: Manifest;
  /** the recipes in the manifest, in build order */
  recipes: string[];
  openmpi: string;
  /** libmpi's soname: libmpi.so.40 (Open MPI 4), libmpi.so.1 (1.6) */
  libmpi: string;
  /** `mpistack build` arguments that rebuild exactly this stack (its Open MPI, its --with pieces, MPISTACK_E2E_MIRROR) */
  buildArgs: string[];
}

export function builtStack(prefix: string): BuiltStack {
  const manifest = JSON.parse(readFileSync(manifestPath(prefix), 'utf8')) as Manifest;
  const recipes = Object.keys(manifest.recipes);
  const libmpi = readdirSync(join(prefix, 'lib')).find((f) => /^libmpi\.so\.\d+$/.test(f));
  if (!libmpi) throw new Error(`${prefix}/lib has no libmpi.so.<N>`);
  const mirror = process.env.MPISTACK_E2E_MIRROR;
  const openmpi = manifest.recipes.openmpi.version;
  return {
    manifest,
    recipes,
    openmpi,
    libmpi,
    buildArgs: ['--openmpi', openmpi, ...(recipes.includes('mpi4py') ? ['--with', 'mpi4py'] : []), ...(mirror ? ['--mirror', mirror] : [])],
  };
}
