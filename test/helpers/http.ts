// A real HTTP server on 127.0.0.1 for fetch fault tests. Each path gets a
// script of behaviours, one per request (the last one repeats).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Behaviour =
  | { kind: 'ok'; body: Buffer }
  | { kind: 'status'; code: number }
  /** announce the full length, send `bytes` of it, then close the connection */
  | { kind: 'truncate'; body: Buffer; bytes: number }
  /** send headers and `bytes` of the body, then never send more */
  | { kind: 'stall'; body: Buffer; bytes: number };

export interface TestServer {
  url: string;
  hits: Map<string, number>;
  close(): Promise<void>;
}

export async function startServer(routes: Record<string, Behaviour[]>): Promise<TestServer> {
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    const n = hits.get(path) ?? 0;
    hits.set(path, n + 1);
    const script = routes[path];
    if (!script) { res.statusCode = 404; res.end('not found'); return; }
    const b = script[Math.min(n, script.length - 1)];
    if (b.kind === 'status') { res.statusCode = b.code; res.end(`status ${b.code}`); return; }
    res.setHeader('Content-Length', String(b.body.length));
    if (b.kind === 'ok') { res.end(b.body); return; }
    res.write(b.body.subarray(0, b.bytes));
    if (b.kind === 'truncate') res.socket?.destroy();
    // 'stall': leave the response open
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
