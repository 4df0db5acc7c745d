#!/usr/bin/env node
// mpistack-run: `mpirun -n 4 mpistack-run [options] [script.js [args...]]`.
// Rank 0 becomes the MPICommandClient: it starts the services, then runs
// script.js (with `client` as a global and exported from the runtime index)
// or, with no script, a Node REPL with `client` in scope (top-level await
// works; use `mpirun -stdin 0`). Every other rank becomes an MPICommandServer
// until the client stops the services. The client stops the services when
// the script ends (or at exit), and every rank finalizes MPI and exits 0.
//
// Options (before the script):
//   --tasks <module.js>          make the module's exports callable by name on every server (repeatable)
//   --log-mode file|per-server|terminal
//   --log-file <path>            the unified (client) log file (default mpistack.log in cwd)
//   --server-timeout <ms>        silence after which a server is in timeout (default 10000)
//   --lost-grace <ms>            how long a sent request may be missing from its server's heartbeat
//                                before it ends as 'lost' (default: the server timeout)
//   --env NAME=VALUE             environment entry set on every server (repeatable)
//
// `mpistack-run --report-transport [-n N] [--launcher mpirun|srun] [--json] [-- args]`
// (not under mpirun): which PML/BTL/MTL and UCX transports or OFI provider
// each rank of a job really selects (transport-report.ts).
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import * as repl from 'node:repl';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { MPICommandClient, type ClientOptions } from './client.js';
import { MPIEnvironment } from './environment.js';
import { LaunchUsageError } from './errors.js';
import type { LogMode } from './protocol.js';
import { MPICommandServer } from './server.js';
import { reportMain, runProbe } from './transport-report.js';

interface LaunchArgs {
  tasks: string[];
  logMode?: LogMode;
  logFile?: string;
  serverTimeoutMs?: number;
  lostGraceMs?: number;
  env: Record<string, string>;
  script?: string;
  scriptArgs: string[];
}

const USAGE =
  'usage: mpirun -n <N> mpistack-run [--tasks module.js]... [--log-mode file|per-server|terminal] [--log-file path] ' +
  '[--server-timeout ms] [--lost-grace ms] [--env NAME=VALUE]... [script.js [args...]]';

export function parseArgs(argv: string[]): LaunchArgs {
  const out: LaunchArgs = { tasks: [], env: {}, scriptArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new LaunchUsageError(`${a} needs a value\n${USAGE}`);
      return v;
    };
    if (a === '--tasks') out.tasks.push(value());
    else if (a === '--log-mode') {
      const m = value();
      if (!['file', 'per-server', 'terminal'].includes(m)) throw new LaunchUsageError(`--log-mode must be file, per-server or terminal, not '${m}'`);
      out.logMode = m as LogMode;
    } else if (a === '--log-file') out.logFile = value();
    else if (a === '--server-timeout') {
      const n = Number(value());
      if (!(n > 0)) throw new LaunchUsageError('--server-timeout needs a positive number of milliseconds');
      out.serverTimeoutMs = n;
    } else if (a === '--lost-grace') {
      const n = Number(value());
      if (!(n > 0) || !Number.isFinite(n)) throw new LaunchUsageError('--lost-grace needs a positive number of milliseconds');
      out.lostGraceMs = n;
    } else if (a === '--env') {
      const kv = value();
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new LaunchUsageError(`--env needs NAME=VALUE, not '${kv}'`);
      out.env[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else if (a === '-h' || a === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (a.startsWith('--') && out.script === undefined) throw new LaunchUsageError(`unknown option ${a}\n${USAGE}`);
    else {
      out.script = a;
      out.scriptArgs = argv.slice(i + 1);
      break;
    }
  }
  return out;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  // `mpistack-run --report-transport`: run a probe job and say which transport each rank uses (transport-report.ts)
  if (argv[0] === '--report-transport') {
    try {
      return await reportMain(argv.slice(1));
    } catch (e) {
      if (!(e instanceof LaunchUsageError)) throw e;
      process.stderr.write(`mpistack-run: ${e.message}\n`);
      return e.exitCode;
    }
  }
  // one rank of that probe job
  if (argv[0] === '--transport-probe') return runProbe(await MPIEnvironment.loadBinding());
  let args: LaunchArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof LaunchUsageError)) throw e;
    process.stderr.write(`mpistack-run: ${e.message}\n`);
    return e.exitCode;
  }
  const env = await MPIEnvironment.init();
  if (env.rank !== 0) return runServer(env);
  return runClient(env, args);
}

async function runServer(env: MPIEnvironment): Promise<number> {
  const startupLog = env.threadWarning
    ? env.threadWarning.map((text) => ({ level: 'WARN' as const, text }))
    : [{ level: 'INFO' as const, text: env.enabledLine }];
  const server = MPICommandServer.create(env.transport, { host: env.host, applyProcessSettings: true, startupLog });
  server.captureConsole();
  process.on('uncaughtException', (e) => {
    server.log('ERROR', `uncaught exception: ${e.stack ?? String(e)}`);
  });
  process.on('unhandledRejection', (e) => {
    server.log('ERROR', `unhandled rejection: ${(e as Error)?.stack ?? String(e)}`);
  });
  await server.serve();
  env.finalize();
  return 0;
}

async function runClient(env: MPIEnvironment, args: LaunchArgs): Promise<number> {
  const opts: ClientOptions = {
    transport: env.transport,
    environment: env,
    tasks: args.tasks,
    env: args.env,
    serverTimeoutMs: args.serverTimeoutMs,
    lostGraceMs: args.lostGraceMs,
    log: { ...(args.logMode ? { mode: args.logMode } : {}), ...(args.logFile ? { file: args.logFile } : {}) },
  };
  const client = new MPICommandClient(opts);
  // the global `client` is a view of the one handle (client.ts), not a second copy of it
  Object.defineProperty(globalThis, 'client', { get: () => MPICommandClient.instance, configurable: true, enumerable: true });
  client.log(env.threadWarning ? 'WARN' : 'INFO', env.threadWarning ? env.threadWarning.join('\n') : env.enabledLine);
  if (env.threadWarning) for (const line of env.threadWarning) process.stderr.write(`WARN MPIClient: ${line}\n`);
  // at exit, whatever happened: tell the servers to stop so that every rank can finalize
  process.on('exit', () => {
    client.stopServicesSync();
    if (!env.binding.isFinalized()) {
      try {
        env.binding.finalize();
      } catch {
        /* exiting */
      }
    }
  });

  let code = 0;
  try {
    await client.startServices();
    if (args.script) {
      process.argv = [process.argv[0], resolve(args.script), ...args.scriptArgs];
      await import(pathToFileURL(resolve(args.script)).href);
      await drainScript();
    } else {
      await runRepl();
    }
  } catch (e) {
    process.stderr.write(`mpistack-run: ${(e as Error)?.stack ?? String(e)}\n`);
    code = 1;
  }
  const unacknowledged = await client.stopServices(code === 0 ? 'the client script ended' : 'the client script failed');
  if (unacknowledged.length > 0) {
    process.stderr.write(`mpistack-run: servers ${unacknowledged.join(', ')} did not acknowledge the stop; aborting the job so that it does not hang\n`);
    env.binding.abort(code || 3);
  }
  env.finalize();
  return code;
}

/** A script may leave work scheduled (timers, pending requests it does not await): let the event loop settle it. */
function drainScript(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

// useGlobal: the REPL's scope is globalThis, where `client` is (the getter set in runClient)
async function runRepl(): Promise<void> {
  if (process.stdin.isTTY) {
    const r = repl.start({ prompt: 'mpistack> ', useGlobal: true });
    await new Promise<void>((resolveRepl) => r.on('exit', () => resolveRepl()));
    return;
  }
  // Piped stdin (mpirun -stdin 0 < commands.js): feed the REPL one line at a
  // time and wait for each evaluation (including top-level await) to finish,
  // so that lines run in order and the end of input does not cut one short.
  const input = new PassThrough();
  const r = repl.start({ prompt: 'mpistack> ', input, output: process.stdout, terminal: false, useGlobal: true, useColors: false });
  let evaluated: (() => void) | undefined;
  const evalFn = r.eval;
  (r as unknown as { eval: typeof evalFn }).eval = (cmd, ctx, file, cb) =>
    evalFn.call(r, cmd, ctx, file, (err, res) => {
      cb(err, res);
      const done = evaluated;
      evaluated = undefined;
      done?.();
    });
  let hasExited = false;
  const exited = new Promise<void>((resolveRepl) =>
    r.on('exit', () => {
      hasExited = true;
      resolveRepl();
    }),
  );
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    const t = line.trim();
    const wait =
      t && !t.startsWith('.')
        ? new Promise<void>((res) => {
            evaluated = res;
          })
        : Promise.resolve();
    input.write(`${line}\n`);
    await Promise.race([wait, exited]);
    if (hasExited) break;
  }
  lines.close();
  input.end();
  await exited;
}

main().then(
  (code) => {
    process.exitCode = code;
    process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`mpistack-run: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
