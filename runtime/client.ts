// MPICommandClient: the user-facing side on rank 0 (seed 5.3-5.4), a façade
// over the scheduler (scheduler.ts: queues, dispatch, timeout, recovery,
// 'lost') and the request table (requests.ts: records, waiters, retention).
// This file owns the life cycle (start, stop), what a request must be before
// it is accepted (a command that compiles, known targets, a frame that fits
// a message), the waits callers make, and the helpers (submit, map).
//
// One client handle per process: the `client` variable below. It is set when
// the client is constructed (the launcher does it on rank 0), `new
// MPICommandClient()` with no options returns it (the seed's singleton),
// `MPICommandClient.instance` reads it, the runtime index re-exports it as
// `client` (a live ES module binding, never a copy), and under mpistack-run
// the global `client` is a getter over it. So the three ways scripts reach
// the client cannot disagree.
import { resolve as resolvePath } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import * as vm from 'node:vm';
import {
  CommandSyntaxError,
  MessageTooLargeError,
  MPIRuntimeError,
  RoleError,
  ServicesNotStartedError,
  ServicesStoppedError,
  StartupError,
  TaskFailedError,
  ThreadSupportError,
  WaitTimeoutError,
} from './errors.js';
import { defaultLogSettings, RuntimeLogger, type LogSettings } from './log.js';
import { MPIMonitorClient } from './monitor.js';
import {
  CALL_FORM,
  CLIENT_RANK,
  Kind,
  MAX_MESSAGE_BYTES,
  Tag,
  decodeControl,
  decodeLog,
  describeThrown,
  encodeControl,
  encodeValue,
  requestFrameBytes,
  type CommandMode,
  type ControlMessage,
  type LogLevel,
  type StatusMessage,
} from './protocol.js';
import { DEFAULT_RETAIN_RESPONSES, RequestTable, type CommandResponse, type Request } from './requests.js';
import { Scheduler, describePending, type ServerSlot } from './scheduler.js';
import type { Envelope, Transport } from './transport.js';

export interface ServerStatus {
  rank: number;
  host: string;
  pid: number;
  busy: boolean;
  /** the request the client has sent it and not heard back about */
  command: string | undefined;
  commandId: number | undefined;
  commandStartTime: number | undefined;
  /** epoch ms of the last heartbeat reply */
  lastHeartbeat: number | undefined;
  /** busy flag the server's native heartbeat last reported */
  heartbeatBusy: boolean;
  /** the request id its heartbeat says is running (0: none) and the ids it says are queued */
  heartbeatRequestId: number;
  heartbeatQueued: number[];
  timeout: boolean;
}

/** What the client needs from the MPI environment (MPIEnvironment provides it). */
export interface ClientEnvironment {
  host: string;
  threadLevel: number;
  threadLevelName: string;
  library: string;
  /** the lines MPIEnvironment prints when thread support is missing */
  threadWarning?: string[];
}

export interface ClientOptions {
  transport?: Transport;
  environment?: ClientEnvironment;
  /** silence after which a server is in timeout (default 10 s, env MPISTACK_SERVER_TIMEOUT_MS) */
  serverTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /**
   * how long a sent request may be missing from its server's heartbeat (not
   * running, not queued, no response) before it ends as 'lost' (default:
   * serverTimeoutMs; env MPISTACK_LOST_GRACE_MS). Covers the moments a request
   * or its response is in flight.
   */
  lostGraceMs?: number;
  /** how long startServices() waits for every server's status (default 60 s) */
  startTimeoutMs?: number;
  /** how long stopServices() waits for the servers to acknowledge (default 10 s) */
  stopTimeoutMs?: number;
  /** how many handed-out responses stay retrievable by id (default 10,000; see requests.ts) */
  retainResponses?: number;
  log?: Partial<LogSettings>;
  /** module paths or URLs whose exports become callable by name on every server */
  tasks?: string[];
  /** environment entries set on every server */
  env?: Record<string, string>;
  cwd?: string;
  /** where terminal-mode lines and warnings go (default stdout) */
  output?: (text: string) => void;
}

export interface PushOptions {
  block?: boolean;
  targetServer?: number | number[];
  parameters?: Record<string, unknown>;
  /** interrupt the command on the server after this long (runaway loops, unsettled Promises) */
  timeoutMs?: number;
}

export interface ResponseOptions {
  block?: boolean;
  verbose?: boolean;
  /** blocking only: give up after this long with WaitTimeoutError */
  waitTimeoutMs?: number;
}

type Settings = Required<Pick<ClientOptions, 'serverTimeoutMs' | 'heartbeatIntervalMs' | 'lostGraceMs' | 'startTimeoutMs' | 'stopTimeoutMs'>> & ClientOptions;

const COMPILE_CACHE_LIMIT = 1024;

/** The client of this process: the one handle (see the top of this file). Typed as set; undefined until constructed. */
export let client!: MPICommandClient;

export class MPICommandClient {
  /** The instance, if one was created. */
  static get instance(): MPICommandClient | undefined {
    return client;
  }
  /** Forget a stopped instance (in-process tests create several in one process). */
  static reset(): void {
    const c = MPICommandClient.instance;
    if (c && c.state !== 'stopped') throw new MPIRuntimeError('MPICommandClient.reset(): stop the services first');
    client = undefined as unknown as MPICommandClient;
  }
  /** Make `c` the client of this process (its constructor does, last). */
  private static register(c: MPICommandClient): void {
    client = c;
  }

  private readonly transport!: Transport;
  private readonly env!: ClientEnvironment;
  private readonly opts!: Settings;
  private readonly logger!: RuntimeLogger;
  private readonly requests!: RequestTable;
  private readonly scheduler!: Scheduler;
  private monitor: MPIMonitorClient | undefined;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private startPromise: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;
  private stoppedAt: Date | undefined;
  private stopReason = '';
  private unacknowledged: number[] = [];
  private readonly compiled = new Map<string, CommandMode | SyntaxError>();
  private statusWaiter: ((m: StatusMessage, rank: number) => void) | undefined;
  private stoppedWaiter: ((rank: number) => void) | undefined;
  /** hosts from STATUS messages, for log lines that arrive before the server is registered */
  private readonly reportedHosts = new Map<number, string>();

  /**
   * The client of this process. With options, on rank 0, it becomes the one
   * client (the launcher does this); without, it returns that client (the
   * seed's singleton) or says how to get one.
   */
  constructor(options?: ClientOptions) {
    const existing = MPICommandClient.instance;
    if (existing) return existing;
    const o = options ?? {};
    if (!o.transport || !o.environment) {
      throw new ServicesNotStartedError(
        'MPICommandClient needs MPI: run the script with `mpirun -n <N> mpistack-run script.js` (rank 0 becomes the client), ' +
          'or pass { transport, environment }',
      );
    }
    if (o.transport.rank !== CLIENT_RANK)
      throw new RoleError(`MPICommandClient runs on rank 0; this is rank ${o.transport.rank} (an MPIServer)`, o.transport.rank);
    const envTimeout = Number(process.env.MPISTACK_SERVER_TIMEOUT_MS);
    const serverTimeoutMs = o.serverTimeoutMs ?? (envTimeout > 0 ? envTimeout : 10_000);
    const envGrace = Number(process.env.MPISTACK_LOST_GRACE_MS);
    const lostGraceMs = o.lostGraceMs ?? (envGrace > 0 ? envGrace : serverTimeoutMs);
    if (!(lostGraceMs > 0) || !Number.isFinite(lostGraceMs)) throw new RangeError(`lostGraceMs must be a positive number of milliseconds, not ${lostGraceMs}`);
    this.opts = {
      ...o,
      serverTimeoutMs,
      lostGraceMs,
      heartbeatIntervalMs: o.heartbeatIntervalMs ?? Math.max(20, Math.min(500, Math.floor(serverTimeoutMs / 5))),
      startTimeoutMs: o.startTimeoutMs ?? 60_000,
      stopTimeoutMs: o.stopTimeoutMs ?? 10_000,
    };
    this.transport = o.transport;
    this.env = o.environment;
    const out =
      o.output ??
      ((t: string) => {
        process.stdout.write(t);
      });
    const base = defaultLogSettings(process.env, o.cwd ?? process.cwd());
    this.logger = new RuntimeLogger({ ...base, ...o.log, file: resolvePath(o.cwd ?? process.cwd(), o.log?.file ?? base.file) }, out);
    this.requests = new RequestTable(o.retainResponses ?? DEFAULT_RETAIN_RESPONSES, (req, dropped) => {
      if (dropped === 1 || dropped % 10_000 === 0) {
        this.log(
          'WARN',
          `${dropped} finished responses dropped unread so far (the latest: request ${req.rec.id}): ` +
            `more than ${10 * this.requests.retainResponses} were waiting for a getCommandResponse`,
        );
      }
    });
    this.scheduler = new Scheduler(this.transport, this.requests, {
      serverTimeoutMs,
      lostGraceMs: this.opts.lostGraceMs,
      log: (level, text) => this.log(level, text),
    });
    MPICommandClient.register(this);
  }

  get started(): boolean {
    return this.state === 'running';
  }
  get stopped(): boolean {
    return this.state === 'stopped' || this.state === 'stopping';
  }
  get serverRanks(): number[] {
    return [...this.scheduler.servers.keys()];
  }
  /** How many requests the client keeps now (pending, and finished ones still retrievable). */
  get retainedRequests(): number {
    return this.requests.size;
  }

  /** Log a line as the client (rank 0). */
  log(level: LogLevel, text: string): void {
    this.logger.write(CLIENT_RANK, this.env.host, level, text);
  }

  // ---- life cycle -----------------------------------------------------------

  /**
   * Start the services: send every server its settings (working directory,
   * log settings, task modules, environment entries) and wait for each one's
   * status (host, pid). Idempotent.
   */
  startServices(): Promise<void> {
    this.assertUsable();
    if (this.startPromise) return this.startPromise;
    if (this.env.threadLevel < 3) {
      for (const line of this.env.threadWarning ?? []) this.log('WARN', line);
      return Promise.reject(
        new ThreadSupportError(
          `MPICommandClient cannot start services: the MPI library (${this.env.library}) provides ${this.env.threadLevelName}, and the runtime needs ` +
            'MPI_THREAD_MULTIPLE; use an MPI built with thread support (Open MPI >= 3.0 has it built in; 1.7-2.x: configure --enable-mpi-thread-multiple)',
          this.env.library,
          this.env.threadLevel,
          this.env.threadLevelName,
        ),
      );
    }
    this.state = 'starting';
    this.startPromise = this.doStart();
    return this.startPromise;
  }

  private async doStart(): Promise<void> {
    const size = this.transport.size;
    if (size < 2) throw new StartupError('MPICommandClient needs at least one server: run with mpirun -n 2 or more');
    const cwd = this.opts.cwd ?? process.cwd();
    const tasks = (this.opts.tasks ?? []).map((t) => (/^[a-z]+:/.test(t) ? t : pathToFileURL(resolvePath(cwd, t)).href));
    const statuses = new Map<number, StatusMessage>();
    const all = new Promise<void>((resolveAll) => {
      this.statusWaiter = (m, rank) => {
        statuses.set(rank, m);
        if (statuses.size === size - 1) resolveAll();
      };
    });
    this.transport.start((m) => this.onMessage(m));
    const start = encodeControl({
      kind: Kind.START,
      cwd,
      log: { mode: this.logger.settings.mode, level: this.logger.settings.level },
      tasks,
      env: this.opts.env ?? {},
    });
    for (let rank = 1; rank < size; rank++) this.transport.send(rank, Tag.CONTROL, start);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        all,
        new Promise<void>((_, reject) => {
          timer = setTimeout(() => {
            const missing = Array.from({ length: size - 1 }, (_, i) => i + 1).filter((r) => !statuses.has(r));
            reject(new StartupError(`startServices(): servers ${missing.join(', ')} did not report within ${this.opts.startTimeoutMs} ms`, missing));
          }, this.opts.startTimeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.statusWaiter = undefined;
    }
    const failed = [...statuses.entries()].flatMap(([rank, s]) => (s.error ? [{ rank, message: s.error.message }] : []));
    if (failed.length > 0) throw new StartupError(`startServices(): ${failed.map((f) => `server ${f.rank}: ${f.message}`).join('; ')}`, [], failed);
    const now = performance.now();
    for (const [rank, s] of [...statuses.entries()].sort((a, b) => a[0] - b[0])) this.scheduler.addServer(rank, s.host, s.pid, now);
    const scheduler = this.scheduler;
    const monitor = new MPIMonitorClient(this.transport, scheduler.servers, {
      serverTimeoutMs: this.opts.serverTimeoutMs,
      heartbeatIntervalMs: this.opts.heartbeatIntervalMs,
      onTimeout: (s, silentMs) => scheduler.onServerTimeout(s as ServerSlot, silentMs),
      onRecover: (s) => scheduler.onServerRecover(s as ServerSlot),
      onHeartbeat: (s, hb) => scheduler.checkHeld(s as ServerSlot, hb, performance.now()),
    });
    if (this.state !== 'starting') return; // stopped while starting
    this.monitor = monitor;
    this.state = 'running';
    this.scheduler.start();
    monitor.start();
    this.log(
      'INFO',
      `MPICommandClient services started: ${[...scheduler.servers.values()].map((s) => `MPIServer-${s.rank}@${s.host} (pid ${s.pid})`).join(', ')}`,
    );
  }

  /**
   * Stop the services: settle every pending request with ServicesStoppedError,
   * ask every server to stop and finalize, and wait (bounded) for them to
   * acknowledge. Afterwards any use of the client is an error. Idempotent.
   * Resolves to the ranks that did not acknowledge (empty when all did).
   */
  stopServices(reason = 'stopServices() was called'): Promise<number[]> {
    this.stopPromise ??= this.doStop(reason);
    return this.stopPromise.then(() => this.unacknowledged);
  }

  private async doStop(reason: string): Promise<void> {
    const wasStarted = this.state === 'running' || this.state === 'starting';
    this.beginStop(reason);
    if (!this.startPromise) this.transport.start((m) => this.onMessage(m));
    const waiting = new Set(Array.from({ length: this.transport.size - 1 }, (_, i) => i + 1));
    const acked = new Promise<void>((resolveAll) => {
      this.stoppedWaiter = (rank) => {
        waiting.delete(rank);
        if (waiting.size === 0) resolveAll();
      };
      if (waiting.size === 0) resolveAll();
    });
    const stop = encodeControl({ kind: Kind.STOP, reason });
    for (const rank of waiting) {
      const s = this.scheduler.servers.get(rank);
      if (s?.timedOut) this.log('WARN', `MPIServer-${rank}@${s.host} (pid ${s.pid}) is in timeout; asking it to stop anyway`);
      try {
        this.transport.send(rank, Tag.CONTROL, stop);
      } catch (e) {
        this.log('ERROR', `cannot send stop to server ${rank}: ${describeThrown(e)}`);
      }
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      acked,
      new Promise<void>((r) => {
        timer = setTimeout(r, this.opts.stopTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    this.stoppedWaiter = undefined;
    this.unacknowledged = [...waiting];
    if (this.unacknowledged.length > 0)
      this.log('ERROR', `servers ${this.unacknowledged.join(', ')} did not acknowledge the stop within ${this.opts.stopTimeoutMs} ms`);
    this.log('INFO', `MPICommandClient services stopped (${wasStarted ? reason : 'never started'})`);
    this.finishStop();
  }

  /**
   * Last-resort stop for process exit (synchronous): settle what is pending
   * and tell the servers to stop, without waiting for them.
   */
  stopServicesSync(reason = 'the client process is exiting'): void {
    if (this.stopPromise || this.state === 'stopped') return;
    this.stopPromise = Promise.resolve();
    this.beginStop(reason);
    const stop = encodeControl({ kind: Kind.STOP, reason });
    for (let rank = 1; rank < this.transport.size; rank++) {
      try {
        this.transport.send(rank, Tag.CONTROL, stop);
      } catch {
        /* exiting anyway */
      }
    }
    this.log('INFO', `MPICommandClient services stopped (${reason})`);
    this.finishStop();
  }

  private beginStop(reason: string): void {
    this.stopReason = reason;
    this.state = 'stopping';
    this.stoppedAt = new Date();
    this.monitor?.stop();
    this.scheduler.stopAll(reason);
  }

  private finishStop(): void {
    this.state = 'stopped';
    this.transport.close();
    this.logger.close();
  }

  // ---- requests ---------------------------------------------------------------

  /**
   * Send a command. `block: true` resolves to the responses (one per target);
   * `block: false` (the default) returns the request ids at once.
   */
  pushCommandRequest(command: string, opts: PushOptions & { block: true }): Promise<CommandResponse[]>;
  pushCommandRequest(command: string, opts?: PushOptions & { block?: false }): number[];
  pushCommandRequest(command: string, opts?: PushOptions): number[] | Promise<CommandResponse[]>;
  pushCommandRequest(command: string, opts: PushOptions = {}): number[] | Promise<CommandResponse[]> {
    if (!opts.block) return this.push(command, opts).map((r) => r.rec.id);
    try {
      return this.waitFor(this.push(command, opts), undefined);
    } catch (e) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what the call threw, as is (user values it reads may throw anything)
      return Promise.reject(e);
    }
  }

  private push(command: string, opts: PushOptions): Request[] {
    this.assertRunning();
    if (typeof command !== 'string') throw new TypeError(`command must be a string of JavaScript, not ${typeof command}`);
    const mode = this.compile(command);
    const parameters = opts.parameters;
    if (parameters !== undefined && (parameters === null || typeof parameters !== 'object' || Array.isArray(parameters))) {
      throw new TypeError('parameters must be an object whose keys become globals for the command');
    }
    const hasParameters = parameters !== undefined && Object.keys(parameters).length > 0;
    const callWithParameters = hasParameters && CALL_FORM.test(command);
    const timeoutMs = opts.timeoutMs ?? 0;
    if (!(timeoutMs >= 0)) throw new RangeError(`timeoutMs must be a non-negative number of milliseconds, not ${timeoutMs}`);
    const targets = this.scheduler.resolveTargets(opts.targetServer);
    const encodedParameters = hasParameters ? encodeValue(parameters) : undefined;
    const frame = requestFrameBytes(command, encodedParameters);
    const max = this.transport.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    if (frame > max) {
      throw new MessageTooLargeError(
        `the request (command and parameters) encodes to ${frame} bytes; a message carries at most ${max} (the MPI binding's int count): ` +
          'pass a smaller value, or a file name the servers read',
        frame,
        max,
      );
    }
    const reqs: Request[] = [];
    for (const target of targets) {
      const req = this.requests.add({
        command,
        mode: callWithParameters ? 'eval' : mode,
        parameters,
        target,
        timeoutMs,
        callWithParameters,
        encodedParameters,
      });
      reqs.push(req);
      this.scheduler.enqueue(req);
    }
    return reqs;
  }

  /** eval if the command is an expression, exec if it is statements; a SyntaxError is thrown here. */
  private compile(command: string): CommandMode {
    let r = this.compiled.get(command);
    if (r === undefined) {
      try {
        new vm.Script(command, { filename: 'mpistack-command' });
        try {
          // an expression: it also compiles inside parentheses (and `a)(b` style tricks fail the first check)
          new vm.Script(`(${command}\n)`, { filename: 'mpistack-command' });
          r = 'eval';
        } catch {
          r = 'exec';
        }
      } catch (e) {
        r = e instanceof SyntaxError ? e : new SyntaxError(String(e));
      }
      if (this.compiled.size >= COMPILE_CACHE_LIMIT) this.compiled.delete(this.compiled.keys().next().value as string);
      this.compiled.set(command, r);
    }
    if (r instanceof SyntaxError)
      throw new CommandSyntaxError(`command does not compile: ${r.message}\n  ${command.split('\n').join('\n  ')}`, command, { cause: r });
    return r;
  }

  /**
   * The responses for request ids. Non-blocking: the responses available now
   * (settled ones). Blocking: resolves when all have settled (response or
   * server timeout); rejects with ServicesStoppedError if the services stop
   * first, or WaitTimeoutError after `waitTimeoutMs`. How long a finished
   * response stays retrievable: requests.ts (ResponseExpiredError after).
   */
  getCommandResponse(ids: number | number[], opts: ResponseOptions & { block: true }): Promise<CommandResponse[]>;
  getCommandResponse(ids: number | number[], opts?: ResponseOptions & { block?: false }): CommandResponse[];
  getCommandResponse(ids: number | number[], opts: ResponseOptions = {}): CommandResponse[] | Promise<CommandResponse[]> {
    const list = Array.isArray(ids) ? ids : [ids];
    if (opts.block) {
      try {
        this.assertUsable();
        const reqs = list.map((id) => this.requests.get(id));
        if (opts.verbose) this.reportPending(reqs);
        return this.waitFor(reqs, opts.waitTimeoutMs);
      } catch (e) {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- as in pushCommandRequest
        return Promise.reject(e);
      }
    }
    this.assertUsable();
    this.scheduler.flush();
    const reqs = list.map((id) => this.requests.get(id));
    if (opts.verbose ?? true) this.reportPending(reqs);
    return this.requests.handOut(reqs.filter((r) => r.settled));
  }

  /** Resolves to the records once every request has settled (bounded by waitTimeoutMs when given). */
  private waitFor(reqs: Request[], waitTimeoutMs: number | undefined): Promise<CommandResponse[]> {
    const handOut = (): CommandResponse[] => this.requests.handOut(reqs);
    if (reqs.length === 1 && waitTimeoutMs === undefined) {
      const one = this.requests.whenSettled(reqs[0], handOut);
      this.scheduler.awaitResponses();
      return one;
    }
    const done = this.requests.whenAllSettled(reqs, handOut);
    this.scheduler.awaitResponses();
    if (waitTimeoutMs === undefined) return done;
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      done,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const left = reqs.filter((r) => !r.settled);
          reject(
            new WaitTimeoutError(
              `getCommandResponse: ${left.length} of ${reqs.length} requests not answered within ${waitTimeoutMs} ms: ${describePending(left)}`,
              waitTimeoutMs,
              left.map((r) => r.rec.id),
            ),
          );
        }, waitTimeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  private reportPending(reqs: Request[]): void {
    const left = reqs.filter((r) => !r.settled);
    if (left.length > 0) this.log('INFO', `waiting for ${left.length} responses: ${describePending(left)}`);
  }

  /** Per server rank: host, pid, busy, current command and its start time, last heartbeat, timeout flag. */
  getServerStatus(): Record<number, ServerStatus> {
    this.assertRunning();
    this.scheduler.flush();
    const out: Record<number, ServerStatus> = {};
    for (const s of this.scheduler.servers.values()) {
      const cur = s.inflight[0];
      out[s.rank] = {
        rank: s.rank,
        host: s.host,
        pid: s.pid,
        busy: cur !== undefined,
        command: cur?.rec.command,
        commandId: cur?.rec.id,
        commandStartTime: cur?.rec.startTime,
        lastHeartbeat: s.lastHeartbeat,
        heartbeatBusy: s.reportedBusy,
        heartbeatRequestId: s.reportedRequestId,
        heartbeatQueued: [...s.reportedQueue],
        timeout: s.timedOut,
      };
    }
    return out;
  }

  /** One command, one response (rejects only on errors at push or stop; a failing command resolves with successful false). */
  async submit(command: string, opts: Omit<PushOptions, 'block' | 'targetServer'> & { targetServer?: number } = {}): Promise<CommandResponse> {
    const [res] = await this.pushCommandRequest(command, { ...opts, block: true });
    return res;
  }

  /**
   * Apply a task to every input on the servers, in chunks of `chunksize`
   * inputs per request. `task` is the name of a function the servers know (a
   * task module export or a global set by a command) or a self-contained
   * function (its source is sent). Results come in input order, or in
   * completion order with `unordered`. A failing chunk rejects with
   * TaskFailedError carrying the server's traceback.
   */
  async map<T = unknown>(
    task: string | ((x: never) => unknown),
    inputs: Iterable<unknown>,
    opts: { chunksize?: number; unordered?: boolean; timeoutMs?: number } = {},
  ): Promise<T[]> {
    const items = [...inputs];
    const chunksize = Math.max(1, Math.floor(opts.chunksize ?? 1));
    const fn = typeof task === 'function' ? `(${task.toString()})` : task;
    const command = chunksize === 1 ? `${fn}(__mpistack_item)` : `Promise.all(__mpistack_chunk.map((x) => ${fn}(x)))`;
    const ids: number[] = [];
    for (let i = 0; i < items.length; i += chunksize) {
      const parameters = chunksize === 1 ? { __mpistack_item: items[i] } : { __mpistack_chunk: items.slice(i, i + chunksize) };
      ids.push(...this.pushCommandRequest(command, { parameters, timeoutMs: opts.timeoutMs }));
    }
    const out: T[] = [];
    const collect = (r: CommandResponse) => {
      if (!r.successful) {
        throw new TaskFailedError(
          `map(${typeof task === 'string' ? task : 'function'}): request ${r.id} on server ${r.server} failed: ${r.traceback}`,
          r.id,
          r.server,
          r.traceback,
        );
      }
      if (chunksize === 1) out.push(r.ret as T);
      else out.push(...(r.ret as T[]));
    };
    if (!opts.unordered) {
      for (const r of await this.getCommandResponse(ids, { block: true })) collect(r);
      return out;
    }
    await Promise.all(ids.map((id) => this.getCommandResponse([id], { block: true }).then(([r]) => collect(r))));
    return out;
  }

  // ---- messages -------------------------------------------------------------------

  private onMessage(msg: Envelope): void {
    const s = this.scheduler.servers.get(msg.source);
    switch (msg.tag) {
      case Tag.RESPONSE:
        if (s) this.monitor?.heard(s);
        this.scheduler.onResponse(msg.source, msg.data);
        return;
      case Tag.HEARTBEAT_REPLY:
        if (s) this.monitor?.onHeartbeatReply(s, msg.data);
        return;
      case Tag.LOG: {
        if (s) this.monitor?.heard(s);
        let line: { level: LogLevel; text: string };
        try {
          line = decodeLog(msg.data);
        } catch (e) {
          line = { level: 'WARN', text: `(a log line that does not decode: ${describeThrown(e)})` };
        }
        this.logger.write(msg.source, s?.host ?? this.reportedHosts.get(msg.source) ?? '?', line.level, line.text);
        return;
      }
      case Tag.CONTROL: {
        let ctl: ControlMessage;
        try {
          ctl = decodeControl(msg.data);
        } catch (e) {
          this.log('WARN', `ignored a control message from rank ${msg.source} that does not decode: ${describeThrown(e)}`);
          return;
        }
        if (ctl.kind === Kind.STATUS) {
          this.reportedHosts.set(msg.source, ctl.host);
          this.statusWaiter?.(ctl, msg.source);
        } else if (ctl.kind === Kind.STOPPED) this.stoppedWaiter?.(msg.source);
        return;
      }
      default:
        this.log('WARN', `ignored a message with tag ${msg.tag} from rank ${msg.source}`);
    }
  }

  // ---- guards -------------------------------------------------------------------

  private assertUsable(): void {
    if (this.state === 'stopped' || this.state === 'stopping') {
      throw new ServicesStoppedError(
        `MPICommandClient services were stopped at ${this.stoppedAt?.toISOString()} (${this.stopReason}); ` +
          'the servers are finalized and the client cannot be used again',
        this.stopReason,
      );
    }
  }

  private assertRunning(): void {
    this.assertUsable();
    if (this.state !== 'running') {
      const why = this.state === 'starting' ? ' yet (startServices() has not resolved)' : ': call `await client.startServices()` first';
      throw new ServicesNotStartedError(`MPICommandClient services are not started${why}`);
    }
  }
}
