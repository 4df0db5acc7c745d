// The build manifest as the engine writes it: one entry a recipe, merged into
// the prefix's manifest (type and path: foundation/manifest.ts and
// foundation/layout.ts) in the staged tree just before the tree moves into the
// prefix. Pure but for the write.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ResolvedInputs } from '../../recipes/kit/contract.js';
import { logsDirIn, manifestPath } from '../foundation/layout.js';
import type { Manifest, ManifestRecipe } from '../foundation/manifest.js';
import type { Fetched } from './fetch.js';
import { sourceOrigin } from './plan.js';

/** The manifest entry of a recipe installed into `prefix` from `fetched` (built here, or restored from the cache entry `key`). */
export function manifestEntry(
  inputs: ResolvedInputs,
  fetched: Fetched,
  o: { prefix: string; toolchain: Record<string, string | null>; key: string | null; restored: boolean },
): ManifestRecipe {
  return {
    recipe: inputs.recipe,
    version: inputs.version,
    builder: inputs.builder,
    source: { from: sourceOrigin(inputs.sources, fetched.sha256), filename: fetched.filename, sha256: fetched.sha256 },
    configureArgs: [`--prefix=${o.prefix}`, ...inputs.configureArgs],
    env: inputs.env,
    toolchain: o.toolchain,
    logs: logsDirIn(o.prefix, inputs.recipe),
    ...(o.key ? { key: o.key } : {}),
    origin: o.restored ? 'restored' : 'built',
  };
}

/** `manifest` with `entry` recorded, and the run's prefix, SOURCE_DATE_EPOCH and cache directory. */
export function withEntry(manifest: Manifest, entry: ManifestRecipe, o: { prefix: string; sourceDateEpoch: number; cacheDir: string }): Manifest {
  return { ...manifest, prefix: o.prefix, sourceDateEpoch: o.sourceDateEpoch, cacheDir: o.cacheDir, recipes: { ...manifest.recipes, [entry.recipe]: entry } };
}

/** Write a manifest into the tree at `root` (a staged prefix). */
export async function writeManifest(root: string, manifest: Manifest): Promise<void> {
  await mkdir(dirname(manifestPath(root)), { recursive: true });
  await writeFile(manifestPath(root), JSON.stringify(manifest, null, 2) + '\n');
}
