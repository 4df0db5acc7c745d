// Run on rank 0 by `mpirun -n 4 mpistack-run --tasks tasks.js suite.js`:
// the seed's command matrix and failure cases against 3 real servers.
import { MPICommandClient, ParallelTaskHelper, client as exported, type CommandResponse } from '../../../runtime/index.js';
import { Report, throwsName } from './report.js';

const client = (globalThis as unknown as { client: MPICommandClient }).client;
const report = new Report();
const SERVERS = [1, 2, 3];

await report.check('client is exported, global, and a singleton', (expect) => {
  expect(exported === client, 'index export is the global client');
  expect(new MPICommandClient() === client, 'new MPICommandClient() returns the instance');
  expect(client.started, 'services started by the launcher');
});

// ---- the matrix: {eval, exec} x {undefined, defined, multiple} x {block, non-block} x {string, dict} x {ok, failing}
type Target = 'undefined' | 'defined' | 'multiple';
for (const mode of ['eval', 'exec'] as const) {
  for (const target of ['undefined', 'defined', 'multiple'] as Target[]) {
    for (const block of [true, false]) {
      for (const params of ['string', 'dict'] as const) {
        for (const outcome of ['successful', 'failing'] as const) {
          const name = `matrix ${mode} ${target} ${block ? 'blocking' : 'non-blocking'} ${params} ${outcome}`;
          await report.check(name, async (expect) => {
            const bad = outcome === 'failing' ? ' + missingName' : '';
            const expr = params === 'dict' ? `a + b${bad}` : `1 + 2${bad}`;
            const command = mode === 'eval' ? expr : `var r = ${expr};`;
            const parameters = params === 'dict' ? { a: 1, b: 2 } : undefined;
            const targetServer = target === 'undefined' ? undefined : target === 'defined' ? 2 : [1, 3];
            let res: CommandResponse[];
            if (block) {
              res = await client.pushCommandRequest(command, { block: true, targetServer, parameters });
            } else {
              const ids = client.pushCommandRequest(command, { block: false, targetServer, parameters });
              expect(Array.isArray(ids) && ids.every((id) => Number.isInteger(id) && id > 0), 'non-blocking push returns ids');
              const early = client.getCommandResponse(ids, { block: false, verbose: true });
              expect(Array.isArray(early) && early.length <= ids.length, 'non-blocking get returns what is there');
              res = await client.getCommandResponse(ids, { block: true, verbose: true });
              expect(res.map((r) => r.id).join() === ids.join(), 'responses in id order');
            }
            const n = target === 'multiple' ? 2 : 1;
            expect(res.length === n, `${n} responses, got ${res.length}`);
            res.forEach((r, i) => {
              expect(r.command === command, 'command echoed');
              expect(r.mode === mode, `mode ${mode}, got ${r.mode}`);
              expect(r.status === 'response received', `status response received, got ${r.status}`);
              expect(JSON.stringify(r.parameters) === JSON.stringify(parameters), 'parameters echoed');
              expect(r.successful === (outcome === 'successful'), `successful ${r.successful}`);
              if (outcome === 'successful') {
                expect(r.traceback === null, 'no traceback');
                expect(r.ret === (mode === 'eval' ? 3 : undefined), `ret ${String(r.ret)}`);
              } else {
                expect(/ReferenceError: missingName is not defined/.test(r.traceback ?? ''), `traceback names the ReferenceError: ${r.traceback}`);
                expect(r.ret === undefined, 'no ret on failure');
              }
              if (target === 'defined') expect(r.server === 2, `server 2, got ${r.server}`);
              else if (target === 'multiple') expect(r.server === [1, 3][i], `server ${[1, 3][i]}, got ${r.server}`);
              else expect(SERVERS.includes(r.server!), `a server, got ${r.server}`);
              expect(typeof r.startTime === 'number' && typeof r.stopTime === 'number' && r.stopTime >= r.startTime, 'start and stop times');
            });
          });
        }
      }
    }
  }
}

// ---- failures
const failing: Array<[string, string, RegExp]> = [
  ['ReferenceError', 'nosuchthing.x', /ReferenceError: nosuchthing is not defined/],
  ['TypeError', 'null.x', /TypeError: Cannot read properties of null/],
  ['RangeError', 'new Array(-1)', /RangeError: Invalid array length/],
  ['thrown non-Error', '(() => { throw 42; })()', /Uncaught 42/],
  ['rejected Promise', 'Promise.reject(new Error("rejected on purpose"))', /Error: rejected on purpose/],
  ['missing module: import()', 'import("no-such-module-xyz")', /no-such-module-xyz/],
  ['missing module: require()', 'require("no-such-module-xyz")', /Cannot find module 'no-such-module-xyz'/],
];
for (const [what, command, re] of failing) {
  await report.check(`failure: ${what}`, async (expect) => {
    const [r] = await client.pushCommandRequest(command, { block: true, targetServer: 1 });
    expect(r.successful === false, 'not successful');
    expect(r.status === 'response received', 'response received');
    expect(re.test(r.traceback ?? ''), `traceback ${r.traceback}`);
  });
}
await report.check('failure: SyntaxError at push', async (expect) => {
  expect((await throwsName(() => client.pushCommandRequest('1 +* 2'), 'CommandSyntaxError')) === undefined, 'non-blocking push throws');
  expect((await throwsName(() => client.pushCommandRequest('function (', { block: true }), 'CommandSyntaxError')) === undefined, 'blocking push rejects');
});
await report.check('failure: runaway loop interrupted by timeoutMs; the server stays usable', async (expect) => {
  const [r] = await client.pushCommandRequest('for (;;) {}', { block: true, targetServer: 3, timeoutMs: 200 });
  expect(r.successful === false && /timed out/.test(r.traceback ?? ''), `timed out: ${r.traceback}`);
  const [again] = await client.pushCommandRequest('6 * 7', { block: true, targetServer: 3 });
  expect(again.ret === 42, 'server 3 answers again');
});
await report.check("a false return is successful (the seed's CASA task returning False)", async (expect) => {
  const r = await client.submit('false');
  expect(r.successful === true && r.ret === false, 'successful with ret false');
});
await report.check('errors at push: unknown target', async (expect) => {
  expect((await throwsName(() => client.pushCommandRequest('1', { targetServer: 9 }), 'UnknownServerError')) === undefined, 'rank 9');
  expect((await throwsName(() => client.pushCommandRequest('1', { targetServer: [1, 0] }), 'UnknownServerError')) === undefined, 'rank 0 is the client');
});

// ---- state, parameters, seed 5.8 examples
await report.check('state persists between commands (myimager = imager(); myimager.open(vis))', async (expect) => {
  await client.pushCommandRequest('globalThis.imager = () => ({ opened: null, open(vis) { this.opened = vis; return true; } })', {
    block: true,
    targetServer: SERVERS,
  });
  const made = await client.pushCommandRequest('myimager = imager()', { block: true, targetServer: SERVERS });
  expect(
    made.every((r) => r.successful),
    'created everywhere',
  );
  const opened = await client.pushCommandRequest('myimager.open(vis)', { block: true, targetServer: SERVERS, parameters: { vis: 'Four_ants_3C286.ms' } });
  expect(
    opened.every((r) => r.ret === true),
    'opened',
  );
  const seen = await client.pushCommandRequest('myimager.opened', { block: true, targetServer: SERVERS });
  expect(
    seen.every((r) => r.ret === 'Four_ants_3C286.ms'),
    'state kept',
  );
});
await report.check('parameters are removed after the command', async (expect) => {
  await client.pushCommandRequest('vis + mode', { block: true, targetServer: 2, parameters: { vis: 'x', mode: 'rflag' } });
  const [r] = await client.pushCommandRequest('[typeof vis, typeof mode]', { block: true, targetServer: 2 });
  expect(JSON.stringify(r.ret) === '["undefined","undefined"]', `globals gone: ${JSON.stringify(r.ret)}`);
});
await report.check('name() with parameters calls name(parameters) (task module export)', async (expect) => {
  const [r] = await client.pushCommandRequest('flagPartition()', {
    block: true,
    targetServer: 1,
    parameters: { partition: { name: 'p.ms', rows: 3 }, scale: 2 },
  });
  expect(r.successful && (r.ret as { flagged: number }).flagged === 6, `ret ${JSON.stringify(r.ret)} ${r.traceback}`);
});

// ---- multiple targets including a busy server
await report.check('multiple targets including a busy server: queued, then answered', async (expect) => {
  const busy = client.pushCommandRequest('blockFor(600)', { targetServer: 2 });
  const ids = client.pushCommandRequest('server.rank', { targetServer: SERVERS });
  const early = client.getCommandResponse(ids, { verbose: true });
  const st = client.getServerStatus();
  expect(st[2].busy && st[2].command === 'blockFor(600)', 'server 2 busy with blockFor');
  expect(!early.some((r) => r.server === 2), 'server 2 answer not there yet');
  const res = await client.getCommandResponse(ids, { block: true });
  expect(res.map((r) => r.ret).join() === '1,2,3', `answers ${res.map((r) => r.ret).join()}`);
  const [b] = await client.getCommandResponse(busy, { block: true });
  expect(b.ret === 600, 'busy command finished');
});

await report.check('getServerStatus: host, pid, heartbeat', (expect) => {
  const st = client.getServerStatus();
  for (const r of SERVERS) {
    const s = st[r];
    expect(s && s.rank === r && typeof s.host === 'string' && s.pid > 0, `server ${r} status`);
    expect(s.timeout === false, `server ${r} not in timeout`);
  }
  expect(new Set(SERVERS.map((r) => st[r].pid)).size === 3, 'three processes');
});

// ---- 10,000 queued requests
await report.check('10,000 queued requests: every id answered exactly once', async (expect) => {
  const ids: number[] = [];
  for (let i = 0; i < 10_000; i++) ids.push(...client.pushCommandRequest('i * 2', { parameters: { i } }));
  const res = await client.getCommandResponse(ids, { block: true });
  expect(new Set(res.map((r) => r.id)).size === 10_000, 'distinct ids');
  expect(
    res.every((r, k) => r.id === ids[k] && r.ret === k * 2 && r.status === 'response received'),
    'each id its own answer',
  );
  const perServer = SERVERS.map((s) => res.filter((r) => r.server === s).length);
  expect(
    perServer.every((n) => n > 0),
    `spread over servers: ${perServer.join()}`,
  );
});

// ---- ParallelTaskHelper and map
await report.check('ParallelTaskHelper: merged results and a failing partition by name', async (expect) => {
  const parts = [
    { name: 'a.ms', rows: 1 },
    { name: 'bad.ms', rows: 5 },
    { name: 'b.ms', rows: 2 },
    { name: 'c.ms', rows: 3 },
  ];
  const r = await ParallelTaskHelper.run('flagPartition', parts, { scale: 10 });
  expect(!r.successful, 'not successful');
  expect(
    r.failures.length === 1 && r.failures[0].partition === 'bad.ms' && /does not exist/.test(r.failures[0].traceback ?? ''),
    `failure named: ${JSON.stringify(r.failures)}`,
  );
  expect(JSON.stringify(r.result) === JSON.stringify({ flagged: 60, ok: true, names: ['a.ms', 'b.ms', 'c.ms'] }), `merged ${JSON.stringify(r.result)}`);
});
await report.check('map with a task module function, chunks', async (expect) => {
  const out = await client.map<number>('square', [1, 2, 3, 4, 5, 6, 7], { chunksize: 3 });
  expect(out.join() === '1,4,9,16,25,36,49', `map ${out.join()}`);
});
await report.check('server console output reaches the client log', async (expect) => {
  const r = await client.pushCommandRequest('console.log("hello from", server.rank)', { block: true, targetServer: SERVERS });
  expect(
    r.every((x) => x.successful),
    'logged',
  );
});

report.print();
