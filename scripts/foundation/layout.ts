// The layout mpistack gives a prefix it builds and a tree it packs, and the
// date it builds and packs with when nothing else gives one.
//
//   <prefix>/share/mpistack/manifest.json           the build manifest (manifest.ts): what each recipe installed
//   <prefix>/share/mpistack/logs/<recipe>/          the logs of the build that installed it; never packed
//   <prefix>/share/mpistack/logs/<recipe>/build-time.txt   when it was built or restored (a log: the manifest
//                                                   stays free of times, so two builds compare equal)
//   <tree>/share/mpistack/pack-manifest.json        the file manifest of a packed tree (pack/packmanifest.ts)
import { join } from 'node:path';
import { UsageError } from './errors.js';

const SHARE_DIR = 'share/mpistack';
/** The build manifest, relative to the prefix. */
export const BUILD_MANIFEST = `${SHARE_DIR}/manifest.json`;
/** The build logs, relative to the prefix (left out of a packed tree). */
export const LOGS_DIR = `${SHARE_DIR}/logs`;
/** The file manifest of a packed tree, relative to the tree. */
export const PACK_MANIFEST = `${SHARE_DIR}/pack-manifest.json`;

export function manifestPath(prefix: string): string {
  return join(prefix, BUILD_MANIFEST);
}

export function logsDirIn(prefix: string, recipe: string): string {
  return join(prefix, LOGS_DIR, recipe);
}

/** Where a recipe's build time goes (in the prefix's logs: not packed, so the tree stays reproducible). */
export function buildTimePath(prefix: string, recipe: string): string {
  return join(logsDirIn(prefix, recipe), 'build-time.txt');
}

/** 1980-01-01T00:00:00Z (the earliest date zip can store): SOURCE_DATE_EPOCH when no lock, manifest or environment gives one. */
export const DEFAULT_SOURCE_DATE_EPOCH = 315532800;

/** A SOURCE_DATE_EPOCH value: a non-negative integer of seconds. Throws a UsageError naming where it came from. */
export function parseSourceDateEpoch(v: string | number, what = 'SOURCE_DATE_EPOCH'): number {
  const s = String(v).trim();
  if (!/^\d+$/.test(s)) throw new UsageError(`${what} must be a whole number of seconds since 1970-01-01 UTC, got '${v}'`);
  return Number(s);
}
