// The one loader: finds the .node file (explicit path, then the stack
// prefix's copy, then the local build) and says everything it tried when it
// fails. MPI is per process, so a second call returns the binding already
// loaded.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadedBinding, LoadOptions, NativeAddon } from './api.js';
import { Binding } from './binding.js';
import { BindingLoadError } from './errors.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** Where the loader looks, in order. */
export function candidatePaths(opts: LoadOptions = {}): string[] {
  const out: string[] = [];
  if (opts.path) out.push(resolve(opts.path));
  const prefix = opts.prefix ?? process.env.MPISTACK_PREFIX;
  if (prefix) out.push(resolve(prefix, 'lib', 'mpistack', 'mpi.node'));
  // local builds: from dist/native/loader.js and from native/loader.ts's own folder
  for (const dir of [resolve(here, '..', '..', 'native', 'build', 'Release'), resolve(here, 'build', 'Release')]) {
    const names = existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => f.endsWith('.node'))
          .sort(byMpiNodeFirst)
      : [];
    if (names.length === 0) out.push(join(dir, 'mpi.node'));
    for (const n of names) out.push(join(dir, n));
  }
  return [...new Set(out)];
}

function byMpiNodeFirst(a: string, b: string): number {
  return a === 'mpi.node' ? -1 : b === 'mpi.node' ? 1 : a.localeCompare(b);
}

let loaded: LoadedBinding | undefined;

/**
 * Load the binding: explicit path, then the stack prefix's copy
 * (<prefix>/lib/mpistack/mpi.node), then the local build. MPI is per process,
 * so a second call returns the binding already loaded.
 */
export function loadBinding(opts: LoadOptions = {}): LoadedBinding {
  if (loaded) return loaded;
  const tried: { path: string; reason: string }[] = [];
  for (const path of candidatePaths(opts)) {
    if (!existsSync(path)) {
      tried.push({ path, reason: 'no such file' });
      continue;
    }
    try {
      const native = require(path) as NativeAddon;
      if (typeof native.initThread !== 'function') {
        tried.push({ path, reason: 'not the mpistack MPI binding' });
        continue;
      }
      loaded = new Binding(native, path);
      return loaded;
    } catch (e) {
      tried.push({ path, reason: (e as Error).message.split('\n')[0] ?? String(e) });
    }
  }
  throw new BindingLoadError(tried);
}
