// The apt prerequisites. scripts/install-prereqs.sh is the one list (CI runs
// it); doctor reads the PKGS=(...) array from it, so the two cannot drift.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** scripts/install-prereqs.sh, found from both scripts/engine and dist/scripts/engine. */
export function prereqScriptPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(dir, 'scripts', 'install-prereqs.sh');
    try { readFileSync(p); return p; } catch { dir = dirname(dir); }
  }
  throw new Error('scripts/install-prereqs.sh not found above ' + dirname(fileURLToPath(import.meta.url)));
}

/** The package names in the script's PKGS=( ... ) array. */
export function parsePrereqList(script: string): string[] {
  const m = /^PKGS=\(([^)]*)\)/m.exec(script);
  if (!m) throw new Error('no PKGS=( ... ) array in install-prereqs.sh');
  return m[1].split(/\s+/).filter((w) => w && !w.startsWith('#'));
}

export function prereqPackages(): string[] {
  return parsePrereqList(readFileSync(prereqScriptPath(), 'utf8'));
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
