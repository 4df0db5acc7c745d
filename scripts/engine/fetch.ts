// Getting a verified source archive into the content-addressed cache:
//   <cache>/sources/<sha256>/<filename>
// Sources are tried in order: the cache, --mirror entries (URL or directory),
// upstream URLs, then Debian source packages (apt, private deb-src list).
// Downloads go to a temp file, are hashed, and only a file whose sha256
// matches is renamed into the cache; a mismatch moves to <cache>/quarantine/.
//
// What is stored is the bytes as served: no Content-Encoding is decoded
// (`Accept-Encoding: identity` is asked for, and a server that gzips a .tar.gz
// anyway still yields the archive's own bytes, which is what the sha256 is
// of). Every download is bounded: an inactivity timeout per attempt
// (`timeoutMs`), an overall deadline per source across its attempts
// (`deadlineMs`) and a size cap (`maxBytes`, or the source's own `size` when
// it has one: a Content-Length over it is refused before the body, a body
// over it is cut off). Redirects are followed by hand (http and https only, at
// most 10, a URL seen twice is a loop). Retried with backoff: 5xx/429 and
// network faults, stalls, truncation; final at once: 4xx, redirect problems,
// the size cap, the deadline. A mirror directory entry must be a regular file
// (opened without blocking, so a FIFO cannot hang the copy).
import { constants as fsc, createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fetch from 'node-fetch';
import type { Shell, Source } from '../../recipes/kit/contract.js';
import { sha256File } from '../foundation/hash.js';
import { fetchDebianOrig } from './apt.js';
import { ChecksumError, FetchError, NoSourceError } from './errors.js';
import { fetchLocal } from './local.js';

/** Defaults: 30 s of silence ends an attempt, 30 min ends a source, 512 MiB is the most any source may be. */
export const FETCH_DEFAULTS = { timeoutMs: 30_000, deadlineMs: 30 * 60_000, maxBytes: 512 * 1024 * 1024, attempts: 4, backoffMs: 1000 } as const;
/** Redirects followed per request. */
const MAX_REDIRECTS = 10;

interface FetchOptions {
  cacheDir: string;
  mirrors: string[];
  offline: boolean;
  /** per-attempt inactivity timeout */
  timeoutMs?: number;
  /** overall deadline for one source, all its attempts and backoffs together */
  deadlineMs?: number;
  /** size cap for a source without a known size */
  maxBytes?: number;
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

export function cachePath(cacheDir: string, sha256: string, filename: string): string {
  return join(cacheDir, 'sources', sha256, filename);
}

function isUrl(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
}

/** One attempt at a candidate: the ordered list of what will be tried (the plan prints it). */
interface Candidate {
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
    for (const s of sources)
      if (s.kind === 'debian') out.push({ label: `debian source ${s.name}=${s.version}`, kind: 'debian', source: s, location: `${s.name}=${s.version}` });
  }
  return out;
}

/** The size cap for a source: its own size when the recipe gives one, else the generous maximum. */
function sizeCap(source: Source, o: Pick<FetchOptions, 'maxBytes'>): { bytes: number; exact: boolean } {
  const own = (source as { size?: unknown }).size;
  if (typeof own === 'number' && Number.isSafeInteger(own) && own >= 0) return { bytes: own, exact: true };
  return { bytes: o.maxBytes ?? FETCH_DEFAULTS.maxBytes, exact: false };
}

/** Wait `ms`, or less when `signal` aborts first. */
const waitOrAbort = (ms: number, signal: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        r();
      },
      { once: true },
    );
  });

const REDIRECT = new Set([301, 302, 303, 307, 308]);

/**
 * One attempt: GET url (following redirects by hand) into `dest`, with an
 * inactivity timeout, the source's deadline signal and the size cap. Throws
 * FetchError with its reason.
 */
async function downloadOnce(url: string, dest: string, timeoutMs: number, deadline: AbortSignal, cap: { bytes: number; exact: boolean }): Promise<void> {
  const idle = new AbortController();
  let timer = setTimeout(() => idle.abort(), timeoutMs);
  const kick = () => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(), timeoutMs);
  };
  const attemptSignal = AbortSignal.any([idle.signal, deadline]);
  let signal: AbortSignal;
  const aborted = (what: string, e: unknown): FetchError =>
    deadline.aborted
      ? new FetchError(url, null, `the fetch deadline passed ${what}`, { cause: e, reason: 'deadline' })
      : new FetchError(url, null, what === 'before a response' ? `no response within ${timeoutMs} ms` : `download stalled for ${timeoutMs} ms`, {
          cause: e,
          reason: what === 'before a response' ? 'no-response' : 'stalled',
        });
  try {
    const chain = [url];
    let res;
    let drop = new AbortController(); // ends one response we do not read (a redirect's, an error page, a body over the cap)
    for (;;) {
      const here = chain[chain.length - 1];
      drop = new AbortController();
      signal = AbortSignal.any([attemptSignal, drop.signal]);
      try {
        res = await fetch(here, { signal, redirect: 'manual', compress: false, headers: { 'accept-encoding': 'identity' } });
      } catch (e) {
        if (attemptSignal.aborted) throw aborted('before a response', e);
        throw new FetchError(url, null, `network error: ${(e as Error).message}`, { cause: e, reason: 'network' });
      }
      if (!REDIRECT.has(res.status)) break;
      drop.abort();
      const location = res.headers.get('location');
      if (!location) throw new FetchError(url, res.status, `HTTP ${res.status} redirect without a Location`, { reason: 'redirect' });
      let next: URL;
      try {
        next = new URL(location, here);
      } catch {
        throw new FetchError(url, res.status, `HTTP ${res.status} redirect to an invalid URL ${JSON.stringify(location)}`, { reason: 'redirect' });
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new FetchError(url, res.status, `redirected to ${next.href}: only http and https redirects are followed`, { reason: 'redirect' });
      }
      if (chain.includes(next.href)) throw new FetchError(url, res.status, `redirect loop: ${[...chain, next.href].join(' -> ')}`, { reason: 'redirect' });
      if (chain.length > MAX_REDIRECTS)
        throw new FetchError(url, res.status, `more than ${MAX_REDIRECTS} redirects: ${chain.join(' -> ')}`, { reason: 'redirect' });
      chain.push(next.href);
    }
    if (!res.ok) {
      drop.abort();
      throw new FetchError(url, res.status, `HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    const capText = `${cap.bytes} bytes (${cap.exact ? "the source's size" : 'the fetch size cap, --fetch-max-size'})`;
    if (Number.isFinite(declared) && declared > cap.bytes) {
      drop.abort();
      throw new FetchError(url, null, `the server announces ${declared} bytes, more than ${capText}: not downloaded`, { reason: 'too-large' });
    }
    let got = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        kick();
        got += chunk.length;
        if (got > cap.bytes) done(new FetchError(url, null, `the body passed ${capText}: stopped there`, { reason: 'too-large' }));
        else done(null, chunk);
      },
    });
    try {
      await pipeline(res.body!, counter, createWriteStream(dest));
    } catch (e) {
      if (e instanceof FetchError) throw e;
      if (attemptSignal.aborted) throw aborted('during the download', e);
      throw new FetchError(url, null, `download interrupted: ${(e as Error).message}`, { cause: e, reason: 'truncated' });
    }
    if (Number.isFinite(declared) && got !== declared) throw new FetchError(url, null, `truncated body: ${got} of ${declared} bytes`, { reason: 'truncated' });
  } finally {
    clearTimeout(timer);
  }
}

/** Attempts with backoff, all within the source's deadline. */
async function downloadWithRetry(url: string, dest: string, source: Source, o: FetchOptions): Promise<void> {
  const attempts = o.attempts ?? FETCH_DEFAULTS.attempts;
  const deadlineMs = o.deadlineMs ?? FETCH_DEFAULTS.deadlineMs;
  const deadline = new AbortController();
  const t = setTimeout(() => deadline.abort(), deadlineMs);
  const cap = sizeCap(source, o);
  try {
    for (let i = 1; ; i++) {
      try {
        await downloadOnce(url, dest, o.timeoutMs ?? FETCH_DEFAULTS.timeoutMs, deadline.signal, cap);
        return;
      } catch (e) {
        if (!(e instanceof FetchError) || !e.retryable || i >= attempts) throw e;
        o.log?.(`${url}: ${e.message}; retry ${i}/${attempts - 1}`);
        await waitOrAbort((o.backoffMs ?? FETCH_DEFAULTS.backoffMs) * 2 ** (i - 1), deadline.signal);
        if (deadline.signal.aborted)
          throw new FetchError(url, null, `the fetch deadline (${deadlineMs} ms) passed after ${i} attempt(s); the last: ${e.message}`, { reason: 'deadline' });
      }
    }
  } finally {
    clearTimeout(t);
  }
}

/** Copy a mirror directory's entry: a regular file only (opened without blocking: a FIFO or a device is refused, not read), within the size cap. */
async function copyFromMirror(path: string, dest: string, source: Source, o: FetchOptions): Promise<void> {
  let fh;
  try {
    fh = await open(path, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FetchError(path, null, code === 'ENOENT' ? 'not in mirror directory' : `cannot open: ${(e as Error).message}`, {
      cause: e,
      reason: code === 'ENOENT' ? 'missing' : 'other',
    });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      const what = st.isFIFO()
        ? 'a FIFO'
        : st.isCharacterDevice() || st.isBlockDevice()
          ? 'a device'
          : st.isDirectory()
            ? 'a directory'
            : st.isSocket()
              ? 'a socket'
              : 'not a regular file';
      throw new FetchError(path, null, `is ${what}, not a regular file: mirror entries must be files`, { reason: 'not-regular-file' });
    }
    const cap = sizeCap(source, o);
    if (st.size > cap.bytes)
      throw new FetchError(path, null, `is ${st.size} bytes, more than ${cap.bytes} (${cap.exact ? "the source's size" : 'the fetch size cap'})`, {
        reason: 'too-large',
      });
    await pipeline(fh.createReadStream({ autoClose: false }), createWriteStream(dest));
  } finally {
    await fh.close();
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
        await copyFromMirror(c.location, tmp, c.source, o);
      } else if (c.kind === 'mirror-url' || c.kind === 'url') {
        await downloadWithRetry(c.location, tmp, c.source, o);
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
    ? `--offline: nothing in the cache ${join(o.cacheDir, 'sources')} or the mirrors; wanted ${wanted}. ` +
      'Drop --offline, or pass --mirror DIR|URL holding one of these files'
    : `wanted ${wanted}`;
  throw new NoSourceError(recipe, version, attempts, hint);
}
