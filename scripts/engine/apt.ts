// Fetching a Debian source package without touching the system's apt
// configuration: a private deb-src list is derived at run time from the
// system's own sources (deb822 *.sources and sources.list), apt is pointed at
// it with -o Dir::Etc::* options and a private lists directory, and
// `apt-get source --download-only` runs in a temp dir. No mirror host name is
// ever written into code: they come from the system files.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FetchError } from './errors.js';
import type { Shell } from '../../recipes/kit/contract.js';

const APT_ETC = '/etc/apt';

/** deb822 stanzas with `Types: deb` rewritten to deb-src (other fields kept). */
export function debSrcFromDeb822(text: string): string {
  const out: string[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const lines = stanza.split('\n').filter((l) => !l.startsWith('#'));
    const types = lines.find((l) => /^Types:/i.test(l));
    if (!types || !/\bdeb\b/.test(types.replace(/deb-src/g, ''))) continue;
    if (lines.some((l) => /^Enabled:\s*no/i.test(l))) continue;
    out.push(
      lines
        .map((l) => (/^Types:/i.test(l) ? 'Types: deb-src' : l))
        .join('\n')
        .trim(),
    );
  }
  return out.join('\n\n') + (out.length ? '\n' : '');
}

/** One-line `deb ...` entries rewritten to `deb-src ...`. */
export function debSrcFromList(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^deb\s/.test(l))
      .map((l) => l.replace(/^deb\s/, 'deb-src '))
      .join('\n') + '\n'
  );
}

export function systemDebSrc(etc = APT_ETC): { deb822: string; list: string } {
  let deb822 = '';
  let list = '';
  const d = join(etc, 'sources.list.d');
  if (existsSync(d)) {
    for (const f of readdirSync(d).sort()) {
      if (f.endsWith('.sources')) deb822 += debSrcFromDeb822(readFileSync(join(d, f), 'utf8')) + '\n';
      else if (f.endsWith('.list')) list += debSrcFromList(readFileSync(join(d, f), 'utf8'));
    }
  }
  if (existsSync(join(etc, 'sources.list'))) list += debSrcFromList(readFileSync(join(etc, 'sources.list'), 'utf8'));
  return { deb822: deb822.trim() ? deb822 : '', list: list.trim() ? list : '' };
}

/** apt options that use only the private list and state under `aptDir`. */
export function aptOptions(aptDir: string): string[] {
  return [
    '-o',
    'Dir::Etc::SourceList=/dev/null',
    '-o',
    `Dir::Etc::SourceParts=${join(aptDir, 'parts')}`,
    '-o',
    `Dir::State::Lists=${join(aptDir, 'lists')}`,
    '-o',
    `Dir::Cache=${join(aptDir, 'cache')}`,
    '-o',
    'APT::Sandbox::User=root',
  ];
}

/** Download `name=version`'s orig tarball into `workDir`; returns its path. */
export async function fetchDebianOrig(name: string, version: string, orig: string, workDir: string, cacheDir: string, shell: Shell): Promise<string> {
  const aptDir = join(cacheDir, 'apt');
  const src = systemDebSrc();
  if (!src.deb822 && !src.list) throw new FetchError(`${name}=${version}`, null, 'no apt sources on this system to derive a deb-src list from');
  await mkdir(join(aptDir, 'parts'), { recursive: true });
  await mkdir(join(aptDir, 'lists', 'partial'), { recursive: true });
  await mkdir(join(aptDir, 'cache', 'archives', 'partial'), { recursive: true });
  if (src.deb822) await writeFile(join(aptDir, 'parts', 'mpistack-src.sources'), src.deb822);
  if (src.list) await writeFile(join(aptDir, 'parts', 'mpistack-src.list'), src.list);
  const env = { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' };
  await shell.run('apt-get', [...aptOptions(aptDir), '-q', 'update'], { cwd: workDir, env, timeoutMs: 10 * 60_000 });
  await shell.run('apt-get', [...aptOptions(aptDir), '-q', 'source', '--download-only', `${name}=${version}`], { cwd: workDir, env, timeoutMs: 30 * 60_000 });
  const p = join(workDir, orig);
  if (!existsSync(p)) throw new FetchError(`${name}=${version}`, null, `apt-get source did not produce ${orig} (got: ${readdirSync(workDir).join(', ')})`);
  return p;
}
