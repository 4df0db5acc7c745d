// Issue 15, item 4: fetch stores the bytes as served and stays within bounds.
// A real HTTP server on 127.0.0.1 (test/helpers/http.ts): a .tar.gz sent with
// Content-Encoding: gzip, a server dripping one byte every 300 ms, bodies over
// the size cap (announced and not), a redirect loop and a redirect to file://
// (final errors, one request each), and a --mirror directory whose entry is a
// FIFO or a device (refused at once, the next source used). Every wait here is
// bounded so that a regression fails instead of hanging.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseBuildArgs } from '../../scripts/commands/build.js';
import { FetchError, NoSourceError } from '../../scripts/engine/errors.js';
import { fetchSources } from '../../scripts/engine/fetch.js';
import { startServer } from '../helpers/http.js';
import { type Source } from '../../recipes/kit/index.js';
import { UsageError } from '../../scripts/foundation/errors.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const tmp = () => mkdtempSync(join(tmpdir(), 'mpistack-fetch-bounds-'));
const fast = { timeoutMs: 1000, attempts: 3, backoffMs: 20 };
const src = (url: string, body: Buffer, filename = 'pkg-1.0.tar.gz'): Source => ({ kind: 'url', url, filename, sha256: sha(body) });

/** fetchSources, or a failure of the test after `ms` (never a hang). */
function bounded<T>(p: Promise<T>, ms = 20_000): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`fetch still running after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

async function failure(p: Promise<unknown>): Promise<FetchError> {
  const err = await bounded(p).then(
    () => null,
    (e: unknown) => e,
  );
  assert.instance(err, NoSourceError, String(err));
  const first = (err as NoSourceError).attempts[0].error;
  assert.instance(first, FetchError, String(first));
  return first as FetchError;
}

test('Content-Encoding: gzip on a .tar.gz: the bytes are stored as served and the checksum holds', async () => {
  const archive = gzipSync(randomBytes(50_000)); // a .tar.gz's bytes, which a misconfigured server labels gzip-encoded
  const s = await startServer({ '/p.tar.gz': [{ kind: 'ok', body: archive, headers: { 'Content-Encoding': 'gzip' } }] });
  try {
    const got = await bounded(fetchSources('pkg', '1.0', [src(`${s.url}/p.tar.gz`, archive)], { cacheDir: tmp(), mirrors: [], offline: false, ...fast }));
    assert.ok(readFileSync(got.path).equals(archive));
  } finally {
    await s.close();
  }
});

test('a server dripping one byte every 300 ms: the overall deadline ends it, without retries', async () => {
  const s = await startServer({ '/d.tar.gz': [{ kind: 'drip', body: randomBytes(5000), everyMs: 300 }] });
  try {
    const e = await failure(
      fetchSources('pkg', '1.0', [src(`${s.url}/d.tar.gz`, Buffer.from('x'))], {
        cacheDir: tmp(),
        mirrors: [],
        offline: false,
        ...fast,
        timeoutMs: 10_000,
        deadlineMs: 2000,
      }),
    );
    assert.is(e.reason, 'deadline', e.message);
    assert.is(e.retryable, false);
    assert.is(s.hits.get('/d.tar.gz'), 1);
  } finally {
    await s.close();
  }
});

test('the size cap: an announced body over it is refused before the body, a streamed one is cut off; neither is retried', async () => {
  const big = randomBytes(4 * 1024 * 1024);
  const s = await startServer({
    '/announced.tar.gz': [{ kind: 'stream', body: big, chunk: 64 * 1024, everyMs: 5, announce: true }],
    '/streamed.tar.gz': [{ kind: 'stream', body: big, chunk: 64 * 1024, everyMs: 5 }],
  });
  try {
    for (const path of ['/announced.tar.gz', '/streamed.tar.gz']) {
      const cacheDir = tmp();
      const e = await failure(
        fetchSources('pkg', '1.0', [src(`${s.url}${path}`, big)], { cacheDir, mirrors: [], offline: false, ...fast, maxBytes: 256 * 1024 }),
      );
      assert.is(e.reason, 'too-large', e.message);
      assert.match(e.message, /262144 bytes \(the fetch size cap/);
      assert.is(s.hits.get(path), 1, 'not retried');
      assert.is(s.finished.get(path), undefined, `${path}: the whole body was sent`);
      assert.equal(readdirSync(join(cacheDir, 'tmp')), [], 'no partial download left');
    }
  } finally {
    await s.close();
  }
});

test("a source's own size is its cap", async () => {
  const body = randomBytes(100_000);
  const s = await startServer({ '/sized.tar.gz': [{ kind: 'ok', body }] });
  try {
    const sized: Source = Object.assign(src(`${s.url}/sized.tar.gz`, body), { size: 1000 });
    const e = await failure(fetchSources('pkg', '1.0', [sized], { cacheDir: tmp(), mirrors: [], offline: false, ...fast }));
    assert.is(e.reason, 'too-large');
    assert.match(e.message, /1000 bytes \(the source's size\)/);
  } finally {
    await s.close();
  }
});

test('a redirect loop and a redirect to file:// are final errors: one request each, not retried', async () => {
  const s = await startServer({
    '/loop-a.tar.gz': [{ kind: 'redirect', location: '/loop-b.tar.gz' }],
    '/loop-b.tar.gz': [{ kind: 'redirect', location: '/loop-a.tar.gz', code: 301 }],
    '/file.tar.gz': [{ kind: 'redirect', location: 'file:///etc/passwd' }],
  });
  try {
    const loop = await failure(
      fetchSources('pkg', '1.0', [src(`${s.url}/loop-a.tar.gz`, Buffer.from('x'))], { cacheDir: tmp(), mirrors: [], offline: false, ...fast }),
    );
    assert.is(loop.reason, 'redirect');
    assert.match(loop.message, /redirect loop: .*loop-a\.tar\.gz -> .*loop-b\.tar\.gz -> .*loop-a\.tar\.gz/);
    assert.is(s.hits.get('/loop-a.tar.gz'), 1);
    assert.is(s.hits.get('/loop-b.tar.gz'), 1);
    const file = await failure(
      fetchSources('pkg', '1.0', [src(`${s.url}/file.tar.gz`, Buffer.from('x'))], { cacheDir: tmp(), mirrors: [], offline: false, ...fast }),
    );
    assert.is(file.reason, 'redirect');
    assert.match(file.message, /redirected to file:\/\/\/etc\/passwd: only http and https/);
    assert.is(s.hits.get('/file.tar.gz'), 1);
  } finally {
    await s.close();
  }
});

test('redirects that end somewhere are followed (relative and absolute Location)', async () => {
  const body = randomBytes(10_000);
  const s = await startServer({
    '/r1.tar.gz': [{ kind: 'redirect', location: 'r2.tar.gz', code: 307 }],
    '/r2.tar.gz': [{ kind: 'redirect', location: '/final.tar.gz', code: 308 }],
    '/final.tar.gz': [{ kind: 'ok', body }],
  });
  try {
    const got = await bounded(fetchSources('pkg', '1.0', [src(`${s.url}/r1.tar.gz`, body)], { cacheDir: tmp(), mirrors: [], offline: false, ...fast }));
    assert.ok(readFileSync(got.path).equals(body));
  } finally {
    await s.close();
  }
});

test('a --mirror entry that is a FIFO or a device is refused at once, and the next source is used', async () => {
  const body = randomBytes(20_000);
  const s = await startServer({ '/up/m.tar.gz': [{ kind: 'ok', body }] });
  try {
    const fifoMirror = tmp();
    execFileSync('mkfifo', [join(fifoMirror, 'm.tar.gz')]);
    const devMirror = tmp();
    symlinkSync('/dev/zero', join(devMirror, 'm.tar.gz'));
    for (const [mirror, what] of [
      [fifoMirror, /is a FIFO, not a regular file/],
      [devMirror, /is a device, not a regular file/],
    ] as const) {
      const logs: string[] = [];
      const got = await bounded(
        fetchSources('pkg', '1.0', [src(`${s.url}/up/m.tar.gz`, body, 'm.tar.gz')], {
          cacheDir: tmp(),
          mirrors: [mirror],
          offline: false,
          ...fast,
          log: (l) => logs.push(l),
        }),
      );
      assert.is(got.from, `${s.url}/up/m.tar.gz`);
      assert.ok(
        logs.some((l) => what.test(l)),
        logs.join('\n'),
      );
    }
    // with nothing else to try, the FIFO is the error, typed
    const e = await failure(
      fetchSources('pkg', '1.0', [src(`${s.url}/up/m.tar.gz`, body, 'm.tar.gz')], { cacheDir: tmp(), mirrors: [fifoMirror], offline: true, ...fast }),
    );
    assert.is(e.reason, 'not-regular-file');
  } finally {
    await s.close();
  }
});

test('build options: --fetch-deadline and --fetch-max-size reach the fetch; bad values are refused', () => {
  const o = parseBuildArgs(['--prefix=/p', '--fetch-deadline', '90', '--fetch-max-size', '64']);
  assert.equal(o.fetch, { deadlineMs: 90_000, maxBytes: 64 * 1024 * 1024 });
  for (const bad of [
    ['--fetch-deadline', '0'],
    ['--fetch-deadline', '1e3'],
    ['--fetch-max-size', '-5'],
    ['--fetch-max-size', 'lots'],
  ]) {
    assert.throws(
      () => parseBuildArgs(['--prefix=/p', ...bad]),
      (e: Error) => e instanceof UsageError && e.message.includes(bad[0]),
    );
  }
});

test.run();
