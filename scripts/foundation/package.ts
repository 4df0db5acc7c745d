// The mpistack package itself: where its files are (the checkout, or an
// installed package; the compiled dist/ tree finds the same root) and its
// version.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PackageError } from './errors.js';

/** The package root: the nearest directory above this module whose package.json is mpistack's. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(dir, 'package.json');
    if (existsSync(p) && (JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'mpistack') return dir;
    const up = dirname(dir);
    if (up === dir) throw new PackageError(`no mpistack package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** This package's version (package.json at the package root). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
