// npm run bench -- runtime [--samples N] [--warmup N] [--requests N] [--baseline-requests N] [--runs N] [--prefix DIR]... [--no-baseline]
//
// The runtime (issue 19) against its floor and against mpi4py.futures, all
// in the same run, on the same MPI:
//   1. blocking `1+1` round trip to one server (pushCommandRequest(block),
//      targetServer 1): median, p99 and the share over 100 us, at
//      `mpirun -n 2` (the main target: one client and one server, no
//      oversubscription on 2 cores) and at `mpirun -n 4`, after --warmup
//      (20,000) round trips: V8 compiles the hot path during the first
//      thousands, on compiler threads that share the rank's core. The first
//      5000 of them are shown as the "cold" row (no target). Beside them, what
//      the machine takes from a thread that only spins (platform jitter: a
//      2-core VM loses a few % to gaps of 30 us and more, which no runtime
//      can avoid and which shape any p99 measured on it);
//   2. the binding's own floor: its synchronous 8-byte ping-pong between 2
//      ranks (send/recvInto), and its asynchronous one (recvAsync on the
//      receive thread), with _pingpong-rank.ts as `npm run bench -- pingpong`
//      runs it; the C ping-pong compiled with mpicc is shown for reference;
//   3. throughput at `-n 4`: --requests (50,000) non-blocking `1+1` requests
//      over all servers (pushCommandRequest, then one blocking
//      getCommandResponse), requests/s, against mpi4py.futures
//      MPIPoolExecutor.map(eval, ['1+1'] * --baseline-requests) with
//      chunksize=1 and with chunksize=64 (the system python's mpi4py,
//      Debian's python3-mpi4py; MPISTACK_PYTHON overrides);
//   4. idle CPU over 5 s with nothing outstanding, from /proc/<pid>/stat:
//      every server and the client (rank 0's own pid), at `-n 4`;
//   5. where the us go: binding sync round trip (floor), binding async round
//      trip (the receive-thread hop), the in-process cost of one request and
//      one response through runtime/protocol.ts (encodeRequest, decodeRequest,
//      encodeResponseOrFailure, decodeResponse for `1+1` and the value 2, in
//      a tight loop), and the remainder of the -n 2 round trip (runtime -
//      binding sync - codec): scheduling, dispatch and the event loop.
// Targets: -n 2 median <= 10 us AND <= 5x the binding's sync round trip
// measured in the same run; p99 <= 100 us; throughput >= 20x mpi4py
// chunksize=1 (chunksize=64: ratio reported, no target); idle <= 5% of a core
// for each server and for the client. The -n 4 round trip is checked against
// the same numbers and reported, oversubscribed when the machine has fewer
// than 4 cores.
//
// Without --prefix: the system's mpirun (Debian's Open MPI) with the local
// build (dist/runtime, native/build). Each --prefix DIR (repeatable) is a
// built stack, measured on its own: its mpirun and mpicc, its binding and its
// runtime (DIR/bin/mpistack-run, which loads DIR/lib/mpistack/runtime and,
// with MPISTACK_PREFIX=DIR, the binding DIR/lib/mpistack/mpi.node; the codec
// row imports DIR/lib/mpistack/runtime/protocol.js). --runs N repeats the
// whole measurement N times per MPI and prints every run, then one line per
// run to compare them.
//
// MPISTACK_BENCH_DUMP=FILE writes every measured round trip of the runtime's
// runs to FILE.<ranks> (its start on CLOCK_MONOTONIC in s, its time in us),
// to line the slow ones up with `perf sched record -k mono`.
//
// This file is also the rank-0 script of the runtime's runs: the launcher
// imports it with MPISTACK_BENCH_ROLE=rank0 and the global `client` set.
import { availableParallelism, tmpdir } from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { MPICommandClient } from '../runtime/client.js';
import type * as Protocol from '../runtime/protocol.js';
import {
  bindingPingPong,
  clockTicksPerSecond,
  compileCPingPong,
  cPingPong,
  cpuTicks,
  mpiVersion,
  pythonWith,
  resultOf,
  runRanks,
  stats,
  targetOf,
  type Target,
} from './_mpi-target.js';

export const describe = 'runtime 1+1 round trip (-n 2, -n 4) vs the binding floor, stage breakdown, throughput vs mpi4py.futures, idle CPU';

const here = dirname(fileURLToPath(import.meta.url));
const IDLE_MS = 5000;
/**
 * Round trips before the measured ones. A fresh Node process needs some
 * thousands before V8 has compiled the hot path (its compiler threads share
 * the rank's core): the first COLD_SAMPLES are reported as their own row.
 */
const DEFAULT_WARMUP = 20_000;
const COLD_SAMPLES = 5000;
const TARGET = { medianUs: 10, xSync: 5, p99Us: 100, xChunk1: 20, idlePercent: 5 };

/** What rank 0 of a runtime run reports. */
interface RuntimeResult {
  ranks: number;
  medianUs: number;
  p99Us: number;
  /** the share of round trips over 100 us, in % */
  over100Percent?: number;
  /** the first round trips of the warm-up (a fresh process) */
  cold?: { median: number; p99: number; n: number; over100Percent: number };
  requests?: number;
  perSecond?: number;
  /** CPU time per request of the throughput run, in us: the client's, and all servers' together */
  cpuUsPerRequest?: { client: number; servers: number };
  clientIdlePercent?: number;
  serverIdlePercent?: Record<string, number>;
}

interface BaselineResult {
  medianUs: number;
  p99Us: number;
  requests: number;
  chunk1PerSecond: number;
  chunk64PerSecond: number;
}

// ---- rank 0 of the runtime's run (imported by the launcher) -------------------

async function rank0(): Promise<void> {
  const client = (globalThis as unknown as { client: MPICommandClient }).client;
  const samples = Number(process.env.MPISTACK_BENCH_SAMPLES ?? 5000);
  const requests = Number(process.env.MPISTACK_BENCH_REQUESTS ?? 0);
  const idleMs = Number(process.env.MPISTACK_BENCH_IDLE_MS ?? 0);
  const ranks = Object.keys(client.getServerStatus()).length + 1;
  const warmup = Number(process.env.MPISTACK_BENCH_WARMUP ?? DEFAULT_WARMUP);
  // the warm-up's first COLD_SAMPLES round trips are reported too: a fresh process, V8 still compiling
  const cold: number[] = [];
  for (let i = 0; i < warmup; i++) {
    const t0 = process.hrtime.bigint();
    await client.pushCommandRequest('1+1', { block: true, targetServer: 1 });
    if (i < COLD_SAMPLES) cold.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  const times: number[] = [];
  const starts: bigint[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    const [r] = await client.pushCommandRequest('1+1', { block: true, targetServer: 1 });
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
    starts.push(t0);
    if (r.ret !== 2) throw new Error(`bad answer ${String(r.ret)}`);
  }
  const out: RuntimeResult = { ranks, medianUs: 0, p99Us: 0 };
  ({ median: out.medianUs, p99: out.p99Us } = stats(times));
  out.over100Percent = (100 * times.filter((t) => t > 100).length) / times.length;
  if (cold.length > 0) out.cold = { ...stats(cold), n: cold.length, over100Percent: (100 * cold.filter((t) => t > 100).length) / cold.length };
  // every round trip: its start (CLOCK_MONOTONIC s, as perf -k mono records) and its time in us
  if (process.env.MPISTACK_BENCH_DUMP) {
    writeFileSync(`${process.env.MPISTACK_BENCH_DUMP}.${ranks}`, times.map((t, i) => `${(Number(starts[i]) / 1e9).toFixed(6)} ${t.toFixed(2)}`).join('\n'));
  }

  if (requests > 0) {
    // CPU time of every rank over the run: what a request costs the client and the servers
    const pids = [process.pid, ...Object.values(client.getServerStatus()).map((s) => s.pid)];
    const cpu0 = pids.map(cpuTicks);
    const t0 = process.hrtime.bigint();
    const ids: number[] = [];
    for (let i = 0; i < requests; i++) ids.push(...client.pushCommandRequest('1+1'));
    const res = await client.getCommandResponse(ids, { block: true });
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    if (res.length !== requests || !res.every((r) => r.ret === 2)) throw new Error('a throughput request failed');
    out.requests = requests;
    out.perSecond = requests / secs;
    const used = pids.map((p, i) => (cpuTicks(p) - cpu0[i]) / clockTicksPerSecond());
    out.cpuUsPerRequest = { client: (1e6 * used[0]) / requests, servers: (1e6 * used.slice(1).reduce((a, b) => a + b, 0)) / requests };
  }

  if (idleMs > 0) {
    // nothing outstanding: every request above has its response
    const servers = Object.values(client.getServerStatus()).map((s) => ({ rank: s.rank, pid: s.pid }));
    const pids = [process.pid, ...servers.map((s) => s.pid)];
    await new Promise((r) => setTimeout(r, 500));
    const before = pids.map(cpuTicks);
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, idleMs));
    const after = pids.map(cpuTicks);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const hz = clockTicksPerSecond();
    const pct = after.map((a, i) => (100 * (a - before[i])) / hz / secs);
    out.clientIdlePercent = pct[0];
    out.serverIdlePercent = Object.fromEntries(servers.map((s, i) => [String(s.rank), pct[i + 1]]));
  }
  process.stdout.write(`\nRESULT ${JSON.stringify(out)}\n`);
}

// ---- mpi4py.futures, the baseline -----------------------------------------------

const PY = `
import os, time, json
from mpi4py.futures import MPIPoolExecutor

def main():
  samples, requests = int(os.environ['BENCH_SAMPLES']), int(os.environ['BENCH_REQUESTS'])
  with MPIPoolExecutor() as ex:
      for _ in range(200): ex.submit(eval, '1+1').result()
      times = []
      for _ in range(samples):
          t0 = time.perf_counter_ns()
          assert ex.submit(eval, '1+1').result() == 2
          times.append((time.perf_counter_ns() - t0) / 1000)
      times.sort()
      rate = {}
      for chunk in (1, 64):
          list(ex.map(eval, ['1+1'] * 1000, chunksize=chunk))
          t0 = time.perf_counter()
          out = list(ex.map(eval, ['1+1'] * requests, chunksize=chunk))
          rate[chunk] = requests / (time.perf_counter() - t0)
          assert len(out) == requests and all(x == 2 for x in out)
      print('\\nRESULT ' + json.dumps({'medianUs': times[len(times) // 2], 'p99Us': times[min(len(times) - 1, int(0.99 * len(times)))],
            'requests': requests, 'chunk1PerSecond': rate[1], 'chunk64PerSecond': rate[64]}), flush=True)

if __name__ == '__main__':
  main()
`;

// ---- the codec, in process --------------------------------------------------------

/** Microseconds per round of encode+decode of one `1+1` request and its response (the value 2), with the protocol.js in `runtimeDir`. */
async function codecUs(runtimeDir: string): Promise<number> {
  const p = (await import(pathToFileURL(join(runtimeDir, 'protocol.js')).href)) as typeof Protocol;
  // a stack built before encodeResponseOrFailure existed sends encodeResponse's frame
  const encodeResponse = typeof p.encodeResponseOrFailure === 'function' ? p.encodeResponseOrFailure : p.encodeResponse;
  const now = Date.now();
  let check = 0;
  const round = (id: number): void => {
    const req = p.decodeRequest(
      p.encodeRequest({ id, command: '1+1', mode: 'eval', callWithParameters: false, hasParameters: false, parameters: undefined, timeoutMs: 0 }),
    );
    const res = p.decodeResponse(encodeResponse({ id: req.id, successful: true, ret: 2, error: undefined, startTime: now, stopTime: now }));
    check += res.ret as number;
  };
  for (let i = 0; i < 50_000; i++) round(i + 1);
  const perRound: number[] = [];
  const batch = 5000;
  for (let b = 0; b < 30; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) round(i + 1);
    perRound.push(Number(process.hrtime.bigint() - t0) / 1000 / batch);
  }
  if (check !== 2 * (50_000 + 30 * batch)) throw new Error('codec: a response did not decode to 2');
  return stats(perRound).median;
}

// ---- one measurement ----------------------------------------------------------------

interface Options {
  samples: number;
  warmup: number;
  requests: number;
  baselineRequests: number;
  baseline: boolean;
}

interface RunRows {
  c?: { median: number; p99: number };
  sync: { median: number; p99: number };
  async: { median: number; p99: number };
  codecUs?: number;
  n2: RuntimeResult;
  n4: RuntimeResult;
  mpi4py?: BaselineResult;
  mpi4pyMissing?: string;
  jitter: Jitter;
}

/** What the machine itself takes from a spinning thread (no MPI, no runtime). */
interface Jitter {
  seconds: number;
  lostPercent: number;
  over30PerMs: number;
  over100PerMs: number;
  maxUs: number;
}

/**
 * The platform's own hiccups: one thread reads the clock in a tight loop for
 * `ms` and counts the gaps (interrupts, the hypervisor, other tasks). A round
 * trip that meets one is that much slower whatever the runtime does; on a
 * 2-core VM they decide much of the p99.
 */
function platformJitter(ms: number): Jitter {
  const start = performance.now();
  let last = start;
  let lost = 0;
  let over30 = 0;
  let over100 = 0;
  let max = 0;
  while (last - start < ms) {
    const t = performance.now();
    const gapUs = (t - last) * 1000;
    if (gapUs > 10) {
      lost += gapUs;
      if (gapUs > 30) over30++;
      if (gapUs > 100) over100++;
      if (gapUs > max) max = gapUs;
    }
    last = t;
  }
  const elapsedMs = last - start;
  return { seconds: elapsedMs / 1000, lostPercent: lost / 10 / elapsedMs, over30PerMs: over30 / elapsedMs, over100PerMs: over100 / elapsedMs, maxUs: max };
}

/** The launcher and the runtime folder: the stack's, or the local build's. */
function runtimeOf(t: Target): { launcher: string; dir: string } {
  if (t.prefix) return { launcher: join(t.prefix, 'bin', 'mpistack-run'), dir: join(t.prefix, 'lib', 'mpistack', 'runtime') };
  return { launcher: resolve(here, '../runtime/launcher.js'), dir: resolve(here, '../runtime') };
}

async function runtimeRun(t: Target, ranks: number, cwd: string, env: Record<string, string>): Promise<RuntimeResult> {
  const { launcher } = runtimeOf(t);
  const r = await runRanks(t, ranks, [process.execPath, launcher, fileURLToPath(import.meta.url)], {
    cwd,
    timeoutMs: 600_000,
    env: { MPISTACK_BENCH_ROLE: 'rank0', ...env },
  });
  return resultOf<RuntimeResult>(r, `runtime at -n ${ranks}`);
}

async function measureOnce(t: Target, o: Options, tmp: string, cExe: string | undefined): Promise<RunRows> {
  const floorIters = o.samples;
  const floorWarmup = Math.min(1000, o.samples);
  const c = cExe ? (await cPingPong(t, cExe, floorIters, floorWarmup, [8]))[8] : undefined;
  const sync = (await bindingPingPong(t, 'sync', floorIters, floorWarmup, [8]))[8];
  const asyncLat = (await bindingPingPong(t, 'async', floorIters, floorWarmup, [8]))[8];
  let codec: number | undefined;
  try {
    codec = await codecUs(runtimeOf(t).dir);
  } catch (e) {
    console.log(`codec: not measured: ${(e as Error).message}`);
  }
  const jitter = platformJitter(1000);
  const samples = String(o.samples);
  const warmup = String(o.warmup);
  const n2 = await runtimeRun(t, 2, tmp, { MPISTACK_BENCH_SAMPLES: samples, MPISTACK_BENCH_WARMUP: warmup });
  const n4 = await runtimeRun(t, 4, tmp, {
    MPISTACK_BENCH_SAMPLES: samples,
    MPISTACK_BENCH_WARMUP: warmup,
    MPISTACK_BENCH_REQUESTS: String(o.requests),
    MPISTACK_BENCH_IDLE_MS: String(IDLE_MS),
  });
  const rows: RunRows = { c, sync, async: asyncLat, codecUs: codec, n2, n4, jitter };
  if (!o.baseline) rows.mpi4pyMissing = 'skipped (--no-baseline)';
  else {
    const py = pythonWith(t, 'mpi4py.futures');
    if (!py) rows.mpi4pyMissing = 'no python3 with mpi4py.futures (install python3-mpi4py or set MPISTACK_PYTHON)';
    else {
      const script = join(tmp, 'mpi4py_bench.py');
      writeFileSync(script, PY);
      const r = await runRanks(t, 4, [py, '-m', 'mpi4py.futures', script], {
        cwd: tmp,
        timeoutMs: 900_000,
        env: { BENCH_SAMPLES: String(Math.min(o.samples, 2000)), BENCH_REQUESTS: String(o.baselineRequests) },
      });
      try {
        rows.mpi4py = resultOf<BaselineResult>(r, `mpi4py.futures (${py})`);
      } catch (e) {
        rows.mpi4pyMissing = (e as Error).message.split('\n').slice(0, 6).join('\n    ');
      }
    }
  }
  return rows;
}

// ---- printing -------------------------------------------------------------------------

const f = (x: number | undefined, d = 1): string => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));
const verdict = (ok: boolean | undefined): string => (ok === undefined ? 'not measured' : ok ? 'met' : 'NOT met');
const row = (label: string, ...cells: string[]): string => `  ${label.padEnd(48)}${cells.map((c) => c.padStart(10)).join('')}`;

function printRun(r: RunRows, o: Options, oversubscribed: boolean): void {
  const { n2, n4, sync } = r;
  console.log(`\nround trip, 8 B message / blocking \`1+1\` (${o.samples} samples each; the runtime's after ${o.warmup} warm-up round trips), us`);
  console.log(row('', 'median', 'p99', 'x sync', '>100 us'));
  const over = (x: number | undefined): string => (x === undefined ? '' : `${f(x, 2)}%`);
  if (r.c) console.log(row('C ping-pong, mpicc (reference)', f(r.c.median), f(r.c.p99), f(r.c.median / sync.median, 2)));
  console.log(row('binding sync ping-pong (floor)', f(sync.median), f(sync.p99), '1.00'));
  console.log(row('binding async ping-pong (receive thread)', f(r.async.median), f(r.async.p99), f(r.async.median / sync.median, 2)));
  console.log(row('runtime 1+1, mpirun -n 2', f(n2.medianUs), f(n2.p99Us), f(n2.medianUs / sync.median, 2), over(n2.over100Percent)));
  console.log(
    row(
      `runtime 1+1, mpirun -n 4${oversubscribed ? ' (oversubscribed)' : ''}`,
      f(n4.medianUs),
      f(n4.p99Us),
      f(n4.medianUs / sync.median, 2),
      over(n4.over100Percent),
    ),
  );
  if (n2.cold)
    console.log(
      row(
        `runtime 1+1, -n 2, cold: first ${n2.cold.n} (no target)`,
        f(n2.cold.median),
        f(n2.cold.p99),
        f(n2.cold.median / sync.median, 2),
        over(n2.cold.over100Percent),
      ),
    );
  if (r.mpi4py)
    console.log(row('mpi4py.futures submit().result(), -n 4 (ref.)', f(r.mpi4py.medianUs), f(r.mpi4py.p99Us), f(r.mpi4py.medianUs / sync.median, 2)));

  const j = r.jitter;
  console.log(
    `platform: a thread spinning ${f(j.seconds)} s here lost ${f(j.lostPercent, 2)}% to gaps over 10 us ` +
      `(${f(j.over30PerMs, 2)}/ms over 30 us, ${f(j.over100PerMs, 3)}/ms over 100 us, longest ${f(j.maxUs, 0)} us)`,
  );

  const remainder = r.codecUs === undefined ? undefined : n2.medianUs - sync.median - r.codecUs;
  const share = (x: number | undefined): string => (x === undefined ? '' : `${f((100 * x) / n2.medianUs, 0)}%`);
  console.log('\nwhere the us go: the -n 2 round trip (medians)');
  console.log(row('', 'us', 'share'));
  console.log(row('binding sync round trip (floor)', f(sync.median), share(sync.median)));
  console.log(`${row('binding async round trip (receive-thread hop)', f(r.async.median), '')}  hop: +${f(r.async.median - sync.median)} over sync`);
  console.log(row('codec: encode+decode 1 request + 1 response', f(r.codecUs, 2), share(r.codecUs)));
  console.log(row('scheduling/dispatch/event loop (remainder)', f(remainder), share(remainder)));
  console.log(row('= runtime round trip, -n 2', f(n2.medianUs), '100%'));
  console.log('  (remainder = runtime - binding sync - codec; the async hop over sync is part of it)');

  console.log(`\nthroughput, mpirun -n 4 (${n4.ranks - 1} servers), requests/s`);
  const ours = n4.perSecond;
  console.log(row('', 'req/s', 'ours / it'));
  console.log(row(`runtime, ${n4.requests} non-blocking 1+1`, f(ours, 0), '1.00'));
  if (n4.cpuUsPerRequest)
    console.log(`  (CPU per request: client ${f(n4.cpuUsPerRequest.client)} us, the servers together ${f(n4.cpuUsPerRequest.servers)} us)`);
  if (r.mpi4py) {
    console.log(row(`mpi4py map(eval) chunksize=1, ${r.mpi4py.requests} items`, f(r.mpi4py.chunk1PerSecond, 0), f(ours! / r.mpi4py.chunk1PerSecond, 2)));
    console.log(row(`mpi4py map(eval) chunksize=64, ${r.mpi4py.requests} items`, f(r.mpi4py.chunk64PerSecond, 0), f(ours! / r.mpi4py.chunk64PerSecond, 2)));
  } else console.log(`  mpi4py.futures: ${r.mpi4pyMissing}`);

  const servers = Object.entries(n4.serverIdlePercent ?? {});
  console.log(
    `\nidle CPU over ${IDLE_MS / 1000} s, nothing outstanding (mpirun -n 4, /proc/<pid>/stat), % of a core: ` +
      `client ${f(n4.clientIdlePercent, 2)}; ${servers.map(([rank, p]) => `server ${rank} ${f(p, 2)}`).join(', ')}`,
  );

  const serverIdleMax = Math.max(...servers.map(([, p]) => p));
  const x1 = r.mpi4py ? ours! / r.mpi4py.chunk1PerSecond : undefined;
  const x64 = r.mpi4py ? ours! / r.mpi4py.chunk64PerSecond : undefined;
  console.log('\ntargets');
  for (const n of [n2, n4]) {
    const tag = n.ranks === 2 ? '-n 2' : `-n ${n.ranks}${oversubscribed ? ', oversubscribed' : ''}`;
    const x = n.medianUs / sync.median;
    console.log(row(`${tag}: median <= ${TARGET.medianUs} us`, `${f(n.medianUs)} us`, verdict(n.medianUs <= TARGET.medianUs)));
    console.log(row(`${tag}: median <= ${TARGET.xSync}x binding sync`, `${f(x, 2)}x`, verdict(x <= TARGET.xSync)));
    console.log(row(`${tag}: p99 <= ${TARGET.p99Us} us`, `${f(n.p99Us)} us`, verdict(n.p99Us <= TARGET.p99Us)));
  }
  console.log(row(`throughput >= ${TARGET.xChunk1}x mpi4py chunksize=1`, `${f(x1, 2)}x`, verdict(x1 === undefined ? undefined : x1 >= TARGET.xChunk1)));
  console.log(row('throughput vs mpi4py chunksize=64 (no target)', `${f(x64, 2)}x`, ''));
  console.log(row(`idle servers <= ${TARGET.idlePercent}% of a core (max)`, `${f(serverIdleMax, 2)}%`, verdict(serverIdleMax <= TARGET.idlePercent)));
  console.log(row(`idle client <= ${TARGET.idlePercent}% of a core`, `${f(n4.clientIdlePercent, 2)}%`, verdict(n4.clientIdlePercent! <= TARGET.idlePercent)));
}

/** One line per run, to compare runs (and quote them). */
function printSummary(runs: RunRows[]): void {
  console.log('\nruns (us; throughput requests/s; idle % of a core)');
  const head = [
    'run',
    'sync',
    'async',
    'codec',
    'n2 med',
    'n2 p99',
    'n2 >100',
    'x sync',
    'n4 med',
    'n4 p99',
    'cold med',
    'cold p99',
    'req/s',
    'x c=1',
    'x c=64',
    'idle srv',
    'idle cli',
    'jitter',
  ];
  console.log(`  ${head.map((h, i) => (i === 0 ? h.padEnd(4) : h.padStart(9))).join('')}`);
  runs.forEach((r, i) => {
    const idleServers = Math.max(...Object.values(r.n4.serverIdlePercent ?? {}));
    const cells = [
      f(r.sync.median),
      f(r.async.median),
      f(r.codecUs, 2),
      f(r.n2.medianUs),
      f(r.n2.p99Us),
      `${f(r.n2.over100Percent, 2)}%`,
      f(r.n2.medianUs / r.sync.median, 2),
      f(r.n4.medianUs),
      f(r.n4.p99Us),
      f(r.n2.cold?.median),
      f(r.n2.cold?.p99),
      f(r.n4.perSecond, 0),
      f(r.mpi4py ? r.n4.perSecond! / r.mpi4py.chunk1PerSecond : undefined, 2),
      f(r.mpi4py ? r.n4.perSecond! / r.mpi4py.chunk64PerSecond : undefined, 2),
      f(idleServers, 2),
      f(r.n4.clientIdlePercent, 2),
      `${f(r.jitter.lostPercent, 1)}%`,
    ];
    console.log(`  ${String(i + 1).padEnd(4)}${cells.map((c) => c.padStart(9)).join('')}`);
  });
}

// ---- entry point -----------------------------------------------------------------------

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      samples: { type: 'string', default: '5000' },
      warmup: { type: 'string', default: String(DEFAULT_WARMUP) },
      requests: { type: 'string', default: '50000' },
      'baseline-requests': { type: 'string', default: '20000' },
      runs: { type: 'string', default: '1' },
      prefix: { type: 'string', multiple: true },
      'no-baseline': { type: 'boolean', default: false },
    },
  });
  const o: Options = {
    samples: Math.max(10, Number(values.samples)),
    warmup: Math.max(0, Math.floor(Number(values.warmup))),
    requests: Math.max(1, Number(values.requests)),
    baselineRequests: Math.max(1, Number(values['baseline-requests'])),
    baseline: !values['no-baseline'],
  };
  const runs = Math.max(1, Math.floor(Number(values.runs)));
  const cores = availableParallelism();
  const oversubscribed = cores < 4;
  for (const prefix of values.prefix?.length ? values.prefix : [undefined]) {
    const t = targetOf(prefix);
    const tmp = mkdtempSync(join(tmpdir(), 'mpistack-bench-runtime-'));
    try {
      let cExe: string | undefined;
      try {
        cExe = compileCPingPong(t, tmp);
      } catch (e) {
        console.log(`C ping-pong: not measured: ${(e as Error).message.split('\n')[0]}`);
      }
      const all: RunRows[] = [];
      for (let i = 1; i <= runs; i++) {
        console.log(
          `\n== ${t.prefix ? `stack ${t.prefix}` : 'system MPI, local build'} (${mpiVersion(t)}, runtime ${runtimeOf(t).dir}), ` +
            `run ${i} of ${runs}; node ${process.version}, ${cores} cores`,
        );
        const r = await measureOnce(t, o, tmp, cExe);
        printRun(r, o, oversubscribed);
        all.push(r);
      }
      if (runs > 1) printSummary(all);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}

if (process.env.MPISTACK_BENCH_ROLE === 'rank0' && (globalThis as { client?: unknown }).client) await rank0();
