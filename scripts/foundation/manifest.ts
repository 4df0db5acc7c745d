// The build manifest (<prefix>/share/mpistack/manifest.json, layout.ts): what
// the engine installed into a prefix, recipe by recipe. The engine writes it
// (engine/manifest.ts); pack, `cache gc` and the tests read it through these
// types, so no reader guesses at key spellings.
import { readFileSync } from 'node:fs';
import { manifestPath } from './layout.js';

/** One recipe as installed. */
export interface ManifestRecipe {
  recipe: string;
  version: string;
  builder: string;
  /** `from`: which entry of the versions table the source is ('upstream', 'debian', 'local') */
  source: { from: string; filename: string; sha256: string };
  configureArgs: string[];
  env: Record<string, string>;
  toolchain: Record<string, string | null>;
  /** the recipe's log directory in the prefix */
  logs: string;
  /** build cache key of the installed files (absent: built without the cache) */
  key?: string;
  /** 'built' here, or 'restored' from the build cache entry `key` */
  origin?: 'built' | 'restored';
}

export interface Manifest {
  prefix: string;
  /** SOURCE_DATE_EPOCH of the builds (pack uses it for the tarball's mtimes) */
  sourceDateEpoch?: number;
  /** source and build cache the recipes were built in (their build directories live below it); pack's leak check looks for it */
  cacheDir?: string;
  recipes: Record<string, ManifestRecipe>;
}

/** The prefix's build manifest; an empty one (no recipes) when there is none or it cannot be read. */
export function readManifest(prefix: string): Manifest {
  try {
    return JSON.parse(readFileSync(manifestPath(prefix), 'utf8')) as Manifest;
  } catch {
    return { prefix, recipes: {} };
  }
}
