// A real HTTP server on 127.0.0.1 for fetch fault tests. Each path gets a
// script of behaviours, one per request (the last one repeats).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Behaviour =
  | { kind: 'ok'; body: Buffer; headers?: Record<string, string> }
  | { kind: 'status'; code: number }
  /** announce the full length, send `bytes` of it, then close the connection */
  | { kind: 'truncate'; body: Buffer; bytes: number }
  /** send headers and `bytes` of the body, then never send more */
  | { kind: 'stall'; body: Buffer; bytes: number }
  /** announce the full length, then send one byte every `everyMs` (never silent for long, never done soon) */
  | { kind: 'drip'; body: Buffer; everyMs: number }
  /** send the body in `chunk`-byte pieces every `everyMs`, without a Content-Length unless `announce` */
  | { kind: 'stream'; body: Buffer; chunk: number; everyMs: number; announce?: boolean }
  | { kind: 'redirect'; location: string; code?: number };

export interface TestServer {
  url: string;
  hits: Map<string, number>;
  /** per path: how many responses were sent to the end ('finish') and how many were cut off by the client */
  finished: Map<string, number>;
  cutOff: Map<string, number>;
  close(): Promise<void>;
}

export async function startServer(routes: Record<string, Behaviour[]>): Promise<TestServer> {
  const hits = new Map<string, number>();
  const finished = new Map<string, number>();
  const cutOff = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    const n = hits.get(path) ?? 0;
    hits.set(path, n + 1);
    let done = false;
    res.on('finish', () => {
      done = true;
      bump(finished, path);
    });
    res.on('close', () => {
      if (!done) bump(cutOff, path);
    });
    const script = routes[path];
    if (!script) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    const b = script[Math.min(n, script.length - 1)];
    if (b.kind === 'status') {
      res.statusCode = b.code;
      res.end(`status ${b.code}`);
      return;
    }
    if (b.kind === 'redirect') {
      res.statusCode = b.code ?? 302;
      res.setHeader('Location', b.location);
      res.end(`see ${b.location}`);
      return;
    }
    const every = (ms: number, step: () => boolean) => {
      const t = setInterval(() => {
        if (res.destroyed || !step()) {
          clearInterval(t);
          timers.delete(t);
        }
      }, ms);
      timers.add(t);
    };
    if (b.kind === 'stream') {
      if (b.announce) res.setHeader('Content-Length', String(b.body.length));
      let at = 0;
      every(b.everyMs, () => {
        res.write(b.body.subarray(at, at + b.chunk));
        at += b.chunk;
        if (at >= b.body.length) {
          res.end();
          return false;
        }
        return true;
      });
      return;
    }
    res.setHeader('Content-Length', String(b.body.length));
    if (b.kind === 'ok') {
      for (const [k, v] of Object.entries(b.headers ?? {})) res.setHeader(k, v);
      res.end(b.body);
      return;
    }
    if (b.kind === 'drip') {
      let at = 0;
      every(b.everyMs, () => {
        res.write(b.body.subarray(at, at + 1));
        if (++at >= b.body.length) {
          res.end();
          return false;
        }
        return true;
      });
      return;
    }
    res.write(b.body.subarray(0, b.bytes));
    if (b.kind === 'truncate') res.socket?.destroy();
    // 'stall': leave the response open
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    finished,
    cutOff,
    close: () =>
      new Promise<void>((r) => {
        for (const t of timers) clearInterval(t);
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
