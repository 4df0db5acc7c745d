// The apt prerequisites. scripts/install-prereqs.sh is the one list (CI runs
// it); doctor reads the PKGS=(...) array from it, so the two cannot drift.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PackageError } from '../foundation/errors.js';
import { packageRoot } from '../foundation/package.js';

/** scripts/install-prereqs.sh at the package root. */
export function prereqScriptPath(): string {
  return join(packageRoot(), 'scripts', 'install-prereqs.sh');
}

/** The package names in the script's PKGS=( ... ) array. */
export function parsePrereqList(script: string): string[] {
  const m = /^PKGS=\(([^)]*)\)/m.exec(script);
  if (!m) throw new PackageError('no PKGS=( ... ) array in install-prereqs.sh');
  return m[1].split(/\s+/).filter((w) => w && !w.startsWith('#'));
}

export function prereqPackages(): string[] {
  let text: string;
  try {
    text = readFileSync(prereqScriptPath(), 'utf8');
  } catch (e) {
    throw new PackageError(`cannot read ${prereqScriptPath()}: ${(e as Error).message}`, { cause: e });
  }
  return parsePrereqList(text);
}

export function aptInstallLine(pkgs: string[]): string {
  return `apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
}

/** Installed state of each package per dpkg. */
export function dpkgInstalled(pkgs: string[]): Promise<Map<string, boolean>> {
  return new Promise((r) => {
    execFile('dpkg-query', ['-W', '-f=${Package} ${Status}\n', ...pkgs], (_e, stdout) => {
      const ok = new Map(pkgs.map((p) => [p, false] as [string, boolean]));
      for (const line of String(stdout ?? '').split('\n')) {
        const [name, ...st] = line.split(' ');
        if (name && st.join(' ').includes('install ok installed')) ok.set(name.split(':')[0], true);
      }
      r(ok);
    });
  });
}

/** Commands the stack build itself calls, checked on PATH besides the packages. */
export const requiredCommands = ['gcc', 'g++', 'gfortran', 'make', 'perl', 'bison', 'patchelf', 'xz', 'bzip2', 'python3', 'apt-get', 'tar'];
