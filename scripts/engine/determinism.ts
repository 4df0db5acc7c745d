// The deterministic environment of every build step (issue 8): what a
// configure script, make, b2 or node-gyp sees is an allow-list of the
// caller's environment plus fixed values, so two builds of the same inputs
// on different days, users, hosts and build directories give the same bytes.
//
//   SOURCE_DATE_EPOCH, TZ=UTC, LC_ALL=C, LANG=C    dates and collation
//   USER, LOGNAME=mpistack, HOSTNAME=mpistack-build  Open MPI 4.0.6+ reads them for
//                                                    'Configured by/on' (configure) and 'Built by/on'
//   shims/bin: hostname, whoami, date               for build systems that call the tools
//                                                    (Open MPI 1.6.x's configure and Makefiles)
//   shims/cc: cc, gcc, c++, g++, gfortran           add -ffile-prefix-map=<build dir>=/usr/src/mpistack
//                                                    (debug info, __FILE__); build and install phases only
//   umask 022                                       modes of generated files
//
// The fixed values are part of each recipe's resolved environment, so they
// enter the build cache key; the paths (PATH with the shims, HOME, TMPDIR)
// are not, since they differ per build directory by design.
import { statSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { MAPPED_BUILD_DIR } from '../../recipes/kit/contract.js';
import { shellQuote } from '../foundation/sh.js';
import { KEYED_ENV } from './buildcache.js';

const BUILD_USER = 'mpistack';
const BUILD_HOST = 'mpistack-build';
export const BUILD_UMASK = 0o022;

/** Variables of the caller's environment a build step still sees (the rest are dropped). */
const PASSED_ENV = ['PATH', 'HOME', 'TMPDIR', 'npm_config_nodedir'] as const;

/** The compilers the cc shims wrap (when the host has them). */
const WRAPPED_COMPILERS = ['cc', 'gcc', 'c++', 'g++', 'gfortran'] as const;

/** The fixed part of every build step's environment: goes into the recipe's resolved env (and so the cache key). */
export function determinismEnv(sourceDateEpoch: number): Record<string, string> {
  return {
    SOURCE_DATE_EPOCH: String(sourceDateEpoch),
    TZ: 'UTC',
    LC_ALL: 'C',
    LANG: 'C',
    USER: BUILD_USER,
    LOGNAME: BUILD_USER,
    HOSTNAME: BUILD_HOST,
  };
}

/** The shim directories of one build (inside its build directory). */
export interface Shims {
  /** hostname, whoami, date */
  bin: string;
  /** compiler wrappers adding -ffile-prefix-map */
  cc: string;
  /** the build directory mapped to MAPPED_BUILD_DIR */
  buildDir: string;
}

export type StepKind = 'configure' | 'compile';

/**
 * The environment of one build step: the allow-listed caller variables, the
 * caller's KEYED_ENV variables (compilers and flags; they are in the cache
 * key), the recipe's resolved env (which carries determinismEnv), and PATH
 * with the shims first. `compile` (build and install phases) adds the
 * compiler wrappers; configure does not see them, so its compiler tests and
 * the compiler paths it records are the plain ones.
 */
export function stepEnv(caller: NodeJS.ProcessEnv, recipeEnv: Record<string, string>, shims: Shims | null, kind: StepKind): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of [...PASSED_ENV, ...KEYED_ENV]) if (caller[k] !== undefined) env[k] = caller[k];
  Object.assign(env, recipeEnv);
  const path = env.PATH ?? '/usr/local/bin:/usr/bin:/bin';
  if (shims) env.PATH = [...(kind === 'compile' ? [shims.cc] : []), shims.bin, path].join(delimiter);
  return env;
}

/** The first executable named `name` on `path`, skipping `skip` directories. */
function which(name: string, path: string, skip: readonly string[] = []): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir || skip.includes(dir)) continue;
    const p = join(dir, name);
    try {
      if (statSync(p).isFile() && statSync(p).mode & 0o111) return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** The text of each shim script (pure; `real` maps a tool name to its path on the host, or null). */
function shimScripts(buildDir: string, real: (name: string) => string | null): { bin: Record<string, string>; cc: Record<string, string> } {
  const head = '#!/bin/sh\n# mpistack build shim (scripts/engine/determinism.ts)\n';
  const date = real('date') ?? '/bin/date';
  const bin: Record<string, string> = {
    hostname: `${head}echo ${BUILD_HOST}\n`,
    whoami: `${head}echo ${BUILD_USER}\n`,
    // the current time is SOURCE_DATE_EPOCH; an explicit date (-d, -r, -s) is left to the real date
    date: `${head}for a in "$@"; do
  case "$a" in -d*|--date*|-r*|--reference*|-s*|--set*|-f*|--file*) exec ${shellQuote(date)} "$@" ;; esac
done
if [ -n "$SOURCE_DATE_EPOCH" ]; then exec ${shellQuote(date)} -d "@$SOURCE_DATE_EPOCH" "$@"; fi
exec ${shellQuote(date)} "$@"
`,
  };
  const cc: Record<string, string> = {};
  for (const c of WRAPPED_COMPILERS) {
    const r = real(c);
    if (r) cc[c] = `${head}exec ${shellQuote(r)} ${shellQuote(`-ffile-prefix-map=${buildDir}=${MAPPED_BUILD_DIR}`)} "$@"\n`;
  }
  return { bin, cc };
}

/** Write the shims of one build into `<buildDir>/shims/{bin,cc}`; tools are looked up on the caller's PATH. */
export async function writeShims(buildDir: string, callerPath = process.env.PATH ?? '/usr/bin:/bin'): Promise<Shims> {
  const shims: Shims = { bin: join(buildDir, 'shims', 'bin'), cc: join(buildDir, 'shims', 'cc'), buildDir };
  const scripts = shimScripts(buildDir, (n) => which(n, callerPath, [shims.bin, shims.cc]));
  for (const [dir, files] of [
    [shims.bin, scripts.bin],
    [shims.cc, scripts.cc],
  ] as const) {
    await mkdir(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      await writeFile(join(dir, name), text);
      await chmod(join(dir, name), 0o755);
    }
  }
  return shims;
}
