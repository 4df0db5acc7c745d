// Getting a verified source archive into the content-addressed cache:
//   <cache>/sources/<sha256>/<filename>
// Sources are tried in order: the cache, --mirror entries (URL or directory),
// upstream URLs, then Debian source packages (apt, private deb-src list).
// Downloads go to a temp file, are hashed, and only a file whose sha256
// matches is renamed into the cache; a mismatch moves to <cache>/quarantine/.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import fetch from 'node-fetch';
import type { Source } from '../../recipes/types.js';
import { fetchDebianOrig } from './apt.js';
import { fetchLocal } from './local.js';
import { ChecksumError, FetchError, NoSourceError } from './errors.js';
import type { Shell } from './shell.js';

export interface FetchOptions {
  cacheDir: string;
  mirrors: string[];
  offline: boolean;
  /** per-request inactivity timeout */
  timeoutMs?: number;
  /** attempts per URL for retryable failures (5xx, network, timeout) */
  attempts?: number;
  /** first backoff delay; doubles per attempt */
  backoffMs?: number;
  /** for the Debian path (apt commands are logged through it) */
  shell?: Shell;
  log?: (line: string) => void;
}

export interface Fetched {
  path: string;
  sha256: string;
  filename: string;
  /** which source delivered it: 'cache', a mirror/URL, or 'debian:name=version' */
  from: string;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

export function cachePath(cacheDir: string, sha256: string, filename: string): string {
  return join(cacheDir, 'sources', sha256, filename);
}

function isUrl(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
}

/** One attempt at a candidate: the ordered list of what will be tried (the plan prints it). */
export interface Candidate {
  label: string;
  kind: 'mirror-url' | 'mirror-dir' | 'url' | 'debian';
  source: Source;
  location: string;
}

export function candidates(sources: readonly Source[], mirrors: readonly string[], offline: boolean): Candidate[] {
  const out: Candidate[] = [];
  for (const m of mirrors) {
    for (const s of sources) {
      const loc = isUrl(m) ? `${m.replace(/\/+$/, '')}/${s.filename}` : join(m, s.filename);
      out.push({ label: `mirror ${loc}`, kind: isUrl(m) ? 'mirror-url' : 'mirror-dir', source: s, location: loc });
    }
  }
  if (!offline) {
    for (const s of sources) if (s.kind === 'url') out.push({ label: s.url, kind: 'url', source: s, location: s.url });
    for (const s of sources) if (s.kind === 'debian') out.push({ label: `debian source ${s.name}=${s.version}`, kind: 'debian', source: s, location: `${s.name}=${s.version}` });
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Download url to `dest` with an inactivity timeout; throws FetchError with `retryable`. */
async function downloadOnce(url: string, dest: string, timeoutMs: number): Promise<void> {
  const ac = new AbortController();
  let timer = setTimeout(() => ac.abort(), timeoutMs);
  const kick = () => { clearTimeout(timer); timer = setTimeout(() => ac.abort(), timeoutMs); };
  try {
    let res;
    try {
      res = await fetch(url, { signal: ac.signal, redirect: 'follow' });
    } catch (e) {
      throw new FetchError(url, null, ac.signal.aborted ? `no response within ${timeoutMs} ms` : `network error: ${(e as Error).message}`, { cause: e });
    }
    if (!res.ok) {
      res.body?.resume();
      throw new FetchError(url, res.status, `HTTP ${res.status}`);
    }
    const body = res.body!;
    body.on('data', kick);
    try {
      await pipeline(body, createWriteStream(dest));
    } catch (e) {
      throw new FetchError(url, null, ac.signal.aborted ? `download stalled for ${timeoutMs} ms` : `download interrupted: ${(e as Error).message}`, { cause: e });
    }
    const expected = Number(res.headers.get('content-length') ?? NaN);
    const got = (await stat(dest)).size;
    if (Number.isFinite(expected) && got !== expected) throw new FetchError(url, null, `truncated body: ${got} of ${expected} bytes`);
  } finally {
    clearTimeout(timer);
  }
}

function retryable(e: FetchError): boolean {
  return e.status === null || e.status >= 500 || e.status === 429;
}

async function downloadWithRetry(url: string, dest: string, o: FetchOptions): Promise<void> {
  const attempts = o.attempts ?? 4;
  for (let i = 1; ; i++) {
    try {
      await downloadOnce(url, dest, o.timeoutMs ?? 30_000);
      return;
    } catch (e) {
      if (!(e instanceof FetchError) || !retryable(e) || i >= attempts) throw e;
      o.log?.(`${url}: ${e.message}; retry ${i}/${attempts - 1}`);
      await sleep((o.backoffMs ?? 1000) * 2 ** (i - 1));
    }
  }
}

/** Verify `tmp` against the source and move it into the cache, or quarantine it. */
async function admit(tmp: string, source: Source, label: string, cacheDir: string): Promise<string> {
  const actual = await sha256File(tmp);
  if (actual !== source.sha256) {
    const qdir = join(cacheDir, 'quarantine');
    await mkdir(qdir, { recursive: true });
    const q = join(qdir, `${actual}-${source.filename}`);
    await rename(tmp, q);
    throw new ChecksumError(label, source.sha256, actual, q);
  }
  const final = cachePath(cacheDir, source.sha256, source.filename);
  await mkdir(join(cacheDir, 'sources', source.sha256), { recursive: true });
  await rename(tmp, final);
  return final;
}

/** Get one verified archive for a version from the first source that works. */
export async function fetchSources(recipe: string, version: string, sources: readonly Source[], o: FetchOptions): Promise<Fetched> {
  const local = sources.find((s) => s.kind === 'local');
  if (local?.kind === 'local') {
    return { path: await fetchLocal(local, o.cacheDir), sha256: local.sha256, filename: local.filename, from: 'local checkout' };
  }
  for (const s of sources) {
    const p = cachePath(o.cacheDir, s.sha256, s.filename);
    if (existsSync(p) && (await sha256File(p)) === s.sha256) return { path: p, sha256: s.sha256, filename: s.filename, from: 'cache' };
  }
  const tmpRoot = join(o.cacheDir, 'tmp');
  await mkdir(tmpRoot, { recursive: true });
  const attempts: { source: string; error: Error }[] = [];
  for (const c of candidates(sources, o.mirrors, o.offline)) {
    const dir = await mkdtemp(join(tmpRoot, 'dl-'));
    try {
      const tmp = join(dir, c.source.filename);
      if (c.kind === 'mirror-dir') {
        if (!existsSync(c.location)) throw new FetchError(c.location, null, 'not in mirror directory');
        await copyFile(c.location, tmp);
      } else if (c.kind === 'mirror-url' || c.kind === 'url') {
        await downloadWithRetry(c.location, tmp, o);
      } else if (c.source.kind === 'debian') {
        if (!o.shell) throw new FetchError(c.label, null, 'no shell to run apt with');
        const got = await fetchDebianOrig(c.source.name, c.source.version, c.source.filename, dir, o.cacheDir, o.shell);
        if (got !== tmp) await rename(got, tmp);
      }
      const path = await admit(tmp, c.source, c.label, o.cacheDir);
      return { path, sha256: c.source.sha256, filename: c.source.filename, from: c.label };
    } catch (e) {
      const err = e as Error;
      o.log?.(`${c.label}: ${err.message}`);
      attempts.push({ source: c.label, error: err });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const wanted = sources.map((s) => `${s.filename} (sha256 ${s.sha256})`).join(' or ');
  const hint = o.offline
    ? `--offline: nothing in the cache ${join(o.cacheDir, 'sources')} or the mirrors; wanted ${wanted}. Drop --offline, or pass --mirror DIR|URL holding one of these files`
    : `wanted ${wanted}`;
  throw new NoSourceError(recipe, version, attempts, hint);
}

export { basename };
