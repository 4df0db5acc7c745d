// npm run bench -- runtime [--samples N] [--requests N] [--baseline-requests N]
//
// The runtime against mpi4py.futures (the distribution's python3-mpi4py),
// both under `mpirun -n 4` with the same settings, in one run:
//   1. blocking `1+1` round trip to one server: median and p99
//      (ours: pushCommandRequest(block) / mpi4py: submit(eval, '1+1').result())
//   2. trivial non-blocking requests over all servers, requests per second
//      (ours: 50,000 pushCommandRequest + getCommandResponse / mpi4py: map(eval, ..., chunksize=1))
//   3. CPU of idle servers over 5 s, from /proc/<pid>/stat
// Targets: median <= 30 us and <= 0.15x mpi4py; throughput >= 5x; idle < 5% of a core.
//
// This file is also the rank-0 script of the runtime's run: the launcher
// imports it with MPISTACK_BENCH_ROLE=rank0 and the global `client` set.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MPICommandClient } from '../runtime/client.js';
import { mpirun } from '../test/helpers/mpi.js';

export const describe = 'runtime round trip, throughput and idle CPU vs mpi4py.futures (mpirun -n 4)';

interface Measured {
  medianUs: number;
  p99Us: number;
  requests: number;
  perSecond: number;
  idleCpuPercent?: number[];
}

const here = dirname(fileURLToPath(import.meta.url));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15)
}

async function rank0(): Promise<void> {
  const client = (globalThis as unknown as { client: MPICommandClient }).client;
  const samples = Number(process.env.MPISTACK_BENCH_SAMPLES ?? 5000);
  const requests = Number(process.env.MPISTACK_BENCH_REQUESTS ?? 50_000);
  for (let i = 0; i < 1000; i++) await client.pushCommandRequest('1+1', { block: true, targetServer: 1 });
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    const [r] = await client.pushCommandRequest('1+1', { block: true, targetServer: 1 });
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
    if (r.ret !== 2) throw new Error(`bad answer ${String(r.ret)}`);
  }
  times.sort((a, b) => a - b);
  const t0 = process.hrtime.bigint();
  const ids: number[] = [];
  for (let i = 0; i < requests; i++) ids.push(...client.pushCommandRequest('1+1'));
  const res = await client.getCommandResponse(ids, { block: true });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (!res.every((r) => r.ret === 2)) throw new Error('a throughput request failed');
  const pids = Object.values(client.getServerStatus()).map((s) => s.pid);
  await new Promise((r) => setTimeout(r, 500));
  const before = pids.map(cpuTicks);
  await new Promise((r) => setTimeout(r, 5000));
  const after = pids.map(cpuTicks);
  const hz = 100; // USER_HZ on Linux
  const idle = after.map((a, i) => ((a - before[i]) / hz / 5) * 100);
  const out: Measured = { medianUs: percentile(times, 0.5), p99Us: percentile(times, 0.99), requests, perSecond: requests / secs, idleCpuPercent: idle };
  process.stdout.write(`\nBENCH-RESULT ${JSON.stringify(out)}\n`);
}

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
      t0 = time.perf_counter()
      out = list(ex.map(eval, ['1+1'] * requests, chunksize=1))
      secs = time.perf_counter() - t0
      assert all(x == 2 for x in out)
      median_us, p99_us = times[len(times) // 2], times[min(len(times) - 1, int(0.99 * len(times)))]
      result = {'medianUs': median_us, 'p99Us': p99_us, 'requests': requests, 'perSecond': requests / secs}
      print('\\nBENCH-RESULT ' + json.dumps(result), flush=True)

if __name__ == '__main__':
  main()
`;

/** A python3 on PATH (or MPISTACK_PYTHON) that can import mpi4py. */
function findPython(): string | undefined {
  const candidates = [process.env.MPISTACK_PYTHON, ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'python3'))].filter(
    (p): p is string => !!p && existsSync(p),
  );
  for (const py of candidates) {
    try {
      execFileSync(py, ['-c', 'import mpi4py.futures'], { stdio: 'ignore' });
      return py;
    } catch {
      /* next */
    }
  }
  return undefined;
}

function parse(stdout: string, what: string): Measured {
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH-RESULT '));
  if (!line) throw new Error(`${what}: no result line\n${stdout.slice(-2000)}`);
  return JSON.parse(line.slice('BENCH-RESULT '.length)) as Measured;
}

export async function run(args: string[]): Promise<void> {
  const opt = (name: string, dflt: number) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const samples = opt('--samples', 5000);
  const requests = opt('--requests', 50_000);
  const baselineRequests = opt('--baseline-requests', 20_000);
  const launcher = resolve(here, '../runtime/launcher.js');
  const cwd = mkdtempSync(join(tmpdir(), 'mpistack-bench-'));
  try {
    const ours = await mpirun(4, [process.execPath, launcher, fileURLToPath(import.meta.url)], {
      cwd,
      timeoutMs: 300_000,
      env: { MPISTACK_BENCH_ROLE: 'rank0', MPISTACK_BENCH_SAMPLES: String(samples), MPISTACK_BENCH_REQUESTS: String(requests) },
    });
    if (ours.code !== 0) throw new Error(`runtime run failed (exit ${ours.code}${ours.timedOut ? ', timed out' : ''})\n${ours.stderr.slice(-3000)}`);
    const a = parse(ours.stdout, 'runtime');
    const py = args.includes('--no-baseline') ? undefined : findPython();
    let b: Measured | undefined;
    if (!py) console.log('mpi4py baseline: no python3 with mpi4py on PATH (set MPISTACK_PYTHON); ratios not computed');
    else {
      const script = join(cwd, 'mpi4py_bench.py');
      writeFileSync(script, PY);
      const base = await mpirun(4, [py, '-m', 'mpi4py.futures', script], {
        cwd,
        timeoutMs: 600_000,
        env: { BENCH_SAMPLES: String(Math.min(samples, 2000)), BENCH_REQUESTS: String(baselineRequests) },
      });
      if (base.code !== 0) throw new Error(`mpi4py run failed (exit ${base.code})\n${base.stderr.slice(-3000)}`);
      b = parse(base.stdout, 'mpi4py.futures');
    }
    const f = (x: number, d = 1) => x.toFixed(d);
    console.log(`runtime (mpirun -n 4, ${a.requests} requests, ${samples} round trips)`);
    console.log(`  round trip 1+1: median ${f(a.medianUs)} us, p99 ${f(a.p99Us)} us`);
    console.log(`  throughput: ${f(a.perSecond, 0)} requests/s`);
    console.log(`  idle servers over 5 s: ${a.idleCpuPercent!.map((c) => `${f(c)}%`).join(', ')} of a core`);
    if (b) {
      console.log(`mpi4py.futures (${py}, ${b.requests} map items)`);
      console.log(`  submit().result(): median ${f(b.medianUs)} us, p99 ${f(b.p99Us)} us`);
      console.log(`  map chunksize=1: ${f(b.perSecond, 0)} requests/s`);
      const rt = a.medianUs / b.medianUs;
      const tp = a.perSecond / b.perSecond;
      console.log('ratios (ours / mpi4py.futures)');
      const absolute = `absolute target <= 30 us: ${a.medianUs <= 30 ? 'met' : 'NOT met'}`;
      console.log(`  round trip median: ${f(rt, 3)}x  (target <= 0.15x: ${rt <= 0.15 ? 'met' : 'NOT met'}; ${absolute})`);
      console.log(`  throughput: ${f(tp, 2)}x  (target >= 5x: ${tp >= 5 ? 'met' : 'NOT met'})`);
    }
    const idleMax = Math.max(...a.idleCpuPercent!);
    console.log(`  idle server CPU max ${f(idleMax)}% (target < 5%: ${idleMax < 5 ? 'met' : 'NOT met'})`);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

if (process.env.MPISTACK_BENCH_ROLE === 'rank0' && (globalThis as { client?: unknown }).client) await rank0();
