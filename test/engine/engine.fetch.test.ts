// Fetch faults made for real against an HTTP server on 127.0.0.1: 404 then
// the next source, 500 then a successful retry, a truncated body, a wrong
// checksum (quarantined, next source used), a stalled server (timeout), and
// --offline with an empty cache.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ChecksumError, FetchError, NoSourceError } from '../../scripts/engine/errors.js';
import { cachePath, fetchSources } from '../../scripts/engine/fetch.js';
import { startServer } from '../helpers/http.js';
import { type Source } from '../../recipes/kit/index.js';

const body = randomBytes(200_000);
const other = randomBytes(1000);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const fast = { timeoutMs: 800, attempts: 3, backoffMs: 20 };
const tmp = () => mkdtempSync(join(tmpdir(), 'mpistack-fetch-'));
const src = (url: string, filename = 'pkg-1.0.tar.gz', b = body): Source => ({ kind: 'url', url, filename, sha256: sha(b) });

test('404 on the first source: the next source is used, no retry of the 404', async () => {
  const s = await startServer({ '/b/pkg-1.0.tar.gz': [{ kind: 'ok', body }] });
  try {
    const cacheDir = tmp();
    const got = await fetchSources('pkg', '1.0', [src(`${s.url}/a/pkg-1.0.tar.gz`), src(`${s.url}/b/pkg-1.0.tar.gz`)], {
      cacheDir,
      mirrors: [],
      offline: false,
      ...fast,
    });
    assert.is(got.from, `${s.url}/b/pkg-1.0.tar.gz`);
    assert.is(s.hits.get('/a/pkg-1.0.tar.gz'), 1);
    assert.is(got.path, cachePath(cacheDir, sha(body), 'pkg-1.0.tar.gz'));
    assert.ok(readFileSync(got.path).equals(body));
  } finally {
    await s.close();
  }
});

test('500 twice then 200: retried with backoff and succeeds', async () => {
  const s = await startServer({
    '/p.tar.gz': [
      { kind: 'status', code: 500 },
      { kind: 'status', code: 503 },
      { kind: 'ok', body },
    ],
  });
  try {
    const got = await fetchSources('pkg', '1.0', [src(`${s.url}/p.tar.gz`)], { cacheDir: tmp(), mirrors: [], offline: false, ...fast });
    assert.is(s.hits.get('/p.tar.gz'), 3);
    assert.ok(readFileSync(got.path).equals(body));
  } finally {
    await s.close();
  }
});

test('truncated body: detected, retried, and never admitted to the cache', async () => {
  const s = await startServer({ '/t.tar.gz': [{ kind: 'truncate', body, bytes: 5000 }] });
  try {
    const cacheDir = tmp();
    const err = await fetchSources('pkg', '1.0', [src(`${s.url}/t.tar.gz`)], { cacheDir, mirrors: [], offline: false, ...fast }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.instance(err, NoSourceError);
    assert.is(s.hits.get('/t.tar.gz'), fast.attempts);
    assert.instance((err as NoSourceError).attempts[0].error, FetchError);
    assert.not.ok(existsSync(join(cacheDir, 'sources')));
  } finally {
    await s.close();
  }
});

test('wrong checksum: quarantined with expected vs actual, next source used', async () => {
  const s = await startServer({ '/bad/pkg-1.0.tar.gz': [{ kind: 'ok', body: other }], '/good/pkg-1.0.tar.gz': [{ kind: 'ok', body }] });
  try {
    const cacheDir = tmp();
    const logs: string[] = [];
    const got = await fetchSources('pkg', '1.0', [src(`${s.url}/bad/pkg-1.0.tar.gz`), src(`${s.url}/good/pkg-1.0.tar.gz`)], {
      cacheDir,
      mirrors: [],
      offline: false,
      ...fast,
      log: (l) => logs.push(l),
    });
    assert.is(got.from, `${s.url}/good/pkg-1.0.tar.gz`);
    const q = readdirSync(join(cacheDir, 'quarantine'));
    assert.equal(q, [`${sha(other)}-pkg-1.0.tar.gz`]);
    const line = logs.find((l) => l.includes('checksum mismatch'))!;
    assert.ok(line.includes(`expected sha256 ${sha(body)}`) && line.includes(`got ${sha(other)}`) && line.includes('/bad/'), line);
    // the only source with a bad checksum: an error of that type, nothing cached
    const c2 = tmp();
    const err = await fetchSources('pkg', '1.0', [src(`${s.url}/bad/pkg-1.0.tar.gz`)], { cacheDir: c2, mirrors: [], offline: false, ...fast }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.instance((err as NoSourceError).attempts[0].error, ChecksumError);
    assert.is(((err as NoSourceError).attempts[0].error as ChecksumError).actual, sha(other));
    assert.not.ok(existsSync(join(c2, 'sources')));
  } finally {
    await s.close();
  }
});

test('stalled server: the download times out instead of hanging', async () => {
  const s = await startServer({ '/s.tar.gz': [{ kind: 'stall', body, bytes: 1000 }] });
  try {
    const err = await fetchSources('pkg', '1.0', [src(`${s.url}/s.tar.gz`)], { cacheDir: tmp(), mirrors: [], offline: false, ...fast, attempts: 2 }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.instance(err, NoSourceError);
    assert.match((err as NoSourceError).attempts[0].error.message, /stalled/);
    assert.is(s.hits.get('/s.tar.gz'), 2);
  } finally {
    await s.close();
  }
});

test('--offline: empty cache is a clear error; a mirror directory or the cache is enough', async () => {
  const s = await startServer({ '/o.tar.gz': [{ kind: 'ok', body }] });
  try {
    const cacheDir = tmp();
    const sources = [src(`${s.url}/o.tar.gz`, 'o.tar.gz')];
    const err = await fetchSources('pkg', '1.0', sources, { cacheDir, mirrors: [], offline: true, ...fast }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.instance(err, NoSourceError);
    assert.match((err as Error).message, /--offline/);
    assert.match((err as Error).message, /o\.tar\.gz/);
    assert.match((err as Error).message, /Drop --offline, or pass --mirror/);
    assert.is(s.hits.get('/o.tar.gz'), undefined, 'offline touched the network');
    const mirror = tmp();
    writeFileSync(join(mirror, 'o.tar.gz'), body);
    const got = await fetchSources('pkg', '1.0', sources, { cacheDir, mirrors: [mirror], offline: true, ...fast });
    assert.is(got.from, `mirror ${join(mirror, 'o.tar.gz')}`);
    const again = await fetchSources('pkg', '1.0', sources, { cacheDir, mirrors: [], offline: true, ...fast });
    assert.is(again.from, 'cache');
  } finally {
    await s.close();
  }
});

test('a mirror URL is tried before upstream', async () => {
  const s = await startServer({ '/mirror/m.tar.gz': [{ kind: 'ok', body }], '/up/m.tar.gz': [{ kind: 'ok', body }] });
  try {
    const got = await fetchSources('pkg', '1.0', [src(`${s.url}/up/m.tar.gz`, 'm.tar.gz')], {
      cacheDir: tmp(),
      mirrors: [`${s.url}/mirror/`],
      offline: false,
      ...fast,
    });
    assert.is(got.from, `mirror ${s.url}/mirror/m.tar.gz`);
    assert.is(s.hits.get('/up/m.tar.gz'), undefined);
  } finally {
    await s.close();
  }
});

test.run();
