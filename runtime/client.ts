// MPICommandClient: the user-facing side on rank 0 (seed 5.3-5.4). A
// singleton: `new MPICommandClient()` anywhere returns the same instance.
//
// Scheduling: one command at a time per server. A request for a busy server
// (or, untargeted, when every server is busy) waits in the holding queue and
// is sent when a server frees up; untargeted requests go to the first idle
// server. Everything is event-driven: a response arriving frees its server
// and sends the next request in the same turn of the event loop.
//
// Nothing waits forever: a request is settled by its response, by its
// server's timeout (monitor.ts), by the server no longer holding it ('lost':
// its heartbeat names neither it as running nor among the queued for longer
// than `lostGraceMs`), or by stopServices(), which settles every pending
// request with ServicesStoppedError. That holds whatever the server does: a
// response that does not decode, one that never comes, a frame the transport
// refuses. A value too large for one message is refused at push.
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import * as vm from 'node:vm';
import {
  CommandSyntaxError, MessageTooLargeError, RequestLostError, ServerTimeoutError, ServicesNotStartedError, ServicesStoppedError, StartupError,
  TaskFailedError, ThreadSupportError, UnknownServerError, WaitTimeoutError,
} from './errors.js';
import { defaultLogSettings, RuntimeLogger, type LogSettings } from './log.js';
import { MPIMonitorClient, type ServerState } from './monitor.js';
import {
  CLIENT_RANK, Kind, MAX_MESSAGE_BYTES, Tag, decodeControl, decodeLog, decodeResponse, describeThrown, encodeControl, encodeRequest,
  encodeValue, requestFrameBytes, type CommandMode, type ControlMessage, type Heartbeat, type LogLevel, type ResponseMessage, type StatusMessage,
} from './protocol.js';
import type { Envelope, Transport } from './transport.js';

/**
 * 'timeout': its server stopped answering heartbeats. 'lost': its server
 * answers but no longer holds it (neither running nor queued) and its
 * response did not come within lostGraceMs. 'send failed': the transport
 * refused the request frame.
 */
export type RequestStatus = 'holding queue' | 'request sent' | 'response received' | 'timeout' | 'lost' | 'send failed';

/** The seed's command response dictionary (field names kept). */
export interface CommandResponse {
  command: string;
  id: number;
  mode: CommandMode;
  parameters: Record<string, unknown> | undefined;
  ret: unknown;
  /** rank of the server that ran (or was assigned) the request; undefined while queued untargeted */
  server: number | undefined;
  status: RequestStatus;
  /** false only when the command threw or rejected (or it could not run: timeout, stop) */
  successful: boolean;
  traceback: string | null;
  /** epoch ms, server clock; undefined until known */
  startTime: number | undefined;
  stopTime: number | undefined;
}

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

interface Request {
  rec: CommandResponse;
  /** undefined = first available server */
  target: number | undefined;
  timeoutMs: number;
  callWithParameters: boolean;
  encodedParameters: Buffer | undefined;
  settled: boolean;
  /** set when the request was given up (timeout) while its server still runs it */
  abandoned: boolean;
  waiters: Array<{ resolve(): void; reject(e: Error): void }> | undefined;
  error: Error | undefined;
}

interface Server extends ServerState {
  /** the request sent to it and not answered (also one given up by a timeout while the server may still run it) */
  current: Request | undefined;
  queue: Fifo<Request>;
  /** monotonic ms of the first heartbeat that did not list `current` (undefined while it does), and its tick */
  missingSince: number | undefined;
  missingTick: number;
}

const CALL_FORM = /^\s*[A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*\s*\(\s*\)\s*;?\s*$/;
const COMPILE_CACHE_LIMIT = 1024;

let instance: MPICommandClient | undefined;
let defaultOptions: ClientOptions | undefined;

export class MPICommandClient {
  /** Options the first `new MPICommandClient()` uses when given none (set by the launcher). */
  static setDefaults(opts: ClientOptions): void { defaultOptions = opts; }
  /** The instance, if one was created. */
  static get instance(): MPICommandClient | undefined { return instance; }
  /** Forget a stopped instance (in-process tests create several in one process). */
  static reset(): void {
    if (instance && instance.state !== 'stopped') throw new Error('MPICommandClient.reset(): stop the services first');
    instance = undefined;
  }

  private transport!: Transport;
  private env!: ClientEnvironment;
  private opts!: Required<Pick<ClientOptions, 'serverTimeoutMs' | 'heartbeatIntervalMs' | 'lostGraceMs' | 'startTimeoutMs' | 'stopTimeoutMs'>> & ClientOptions;
  private logger!: RuntimeLogger;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private startPromise: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;
  private stoppedAt: Date | undefined;
  private stopReason = '';
  private readonly servers = new Map<number, Server>();
  private readonly requests = new Map<number, Request>();
  private readonly untargeted = new Fifo<Request>();
  private readonly compiled = new Map<string, CommandMode | SyntaxError>();
  private monitor!: MPIMonitorClient;
  private nextId = 1;
  private timedOutCount = 0;
  private statusWaiters: ((m: StatusMessage, rank: number) => void) | undefined;
  private stoppedWaiter: ((rank: number) => void) | undefined;
  private out!: (text: string) => void;

  constructor(options?: ClientOptions) {
    if (instance) return instance;
    const o = options ?? defaultOptions ?? {};
    if (!o.transport || !o.environment) {
      throw new ServicesNotStartedError('MPICommandClient needs MPI: run the script with `mpirun -n <N> mpistack-run script.js` (rank 0 becomes the client), or pass { transport, environment }');
    }
    if (o.transport.rank !== CLIENT_RANK) throw new Error(`MPICommandClient runs on rank 0; this is rank ${o.transport.rank} (an MPIServer)`);
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
    this.out = o.output ?? ((t) => { process.stdout.write(t); });
    const base = defaultLogSettings(process.env, o.cwd ?? process.cwd());
    this.logger = new RuntimeLogger({ ...base, ...o.log, file: resolvePath(o.cwd ?? process.cwd(), o.log?.file ?? base.file) }, this.out);
    instance = this;
  }

  get started(): boolean { return this.state === 'running'; }
  get stopped(): boolean { return this.state === 'stopped' || this.state === 'stopping'; }
  get serverRanks(): number[] { return [...this.servers.keys()]; }

  /** Log a line as the client (rank 0). */
  log(level: LogLevel, text: string): void { this.logger.write(CLIENT_RANK, this.env.host, level, text); }

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
      return Promise.reject(new ThreadSupportError(
        `MPICommandClient cannot start services: the MPI library (${this.env.library}) provides ${this.env.threadLevelName}, and the runtime needs MPI_THREAD_MULTIPLE; use an MPI built with thread support (Open MPI >= 3.0 has it built in; 1.7-2.x: configure --enable-mpi-thread-multiple)`,
      ));
    }
    this.state = 'starting';
    this.startPromise = this.doStart();
    return this.startPromise;
  }

  private async doStart(): Promise<void> {
    const size = this.transport.size;
    if (size < 2) throw new StartupError('MPICommandClient needs at least one server: run with mpirun -n 2 or more');
    const tasks = (this.opts.tasks ?? []).map((t) => (/^[a-z]+:/.test(t) ? t : pathToFileURL(resolvePath(this.opts.cwd ?? process.cwd(), t)).href));
    const statuses = new Map<number, StatusMessage>();
    const all = new Promise<void>((resolveAll) => {
      this.statusWaiters = (m, rank) => {
        statuses.set(rank, m);
        if (statuses.size === size - 1) resolveAll();
      };
    });
    this.transport.start((m) => this.onMessage(m));
    const start = encodeControl({
      kind: Kind.START,
      cwd: this.opts.cwd ?? process.cwd(),
      log: { mode: this.logger.settings.mode, level: this.logger.settings.level },
      tasks,
      env: this.opts.env ?? {},
    });
    for (let rank = 1; rank < size; rank++) this.transport.send(rank, Tag.CONTROL, start);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([all, new Promise<void>((_, reject) => {
        timer = setTimeout(() => {
          const missing = Array.from({ length: size - 1 }, (_, i) => i + 1).filter((r) => !statuses.has(r));
          reject(new StartupError(`startServices(): servers ${missing.join(', ')} did not report within ${this.opts.startTimeoutMs} ms`));
        }, this.opts.startTimeoutMs);
      })]);
    } finally {
      clearTimeout(timer);
      this.statusWaiters = undefined;
    }
    const failed = [...statuses.entries()].filter(([, s]) => s.error);
    if (failed.length > 0) {
      throw new StartupError(`startServices(): ${failed.map(([r, s]) => `server ${r}: ${s.error!.message}`).join('; ')}`);
    }
    for (const [rank, s] of [...statuses.entries()].sort((a, b) => a[0] - b[0])) {
      this.servers.set(rank, {
        rank, host: s.host, pid: s.pid, lastHeard: performance.now(), lastHeartbeat: undefined, pingSentAt: undefined,
        reportedBusy: false, reportedRequestId: 0, reportedQueue: [], reportedQueueCount: 0, timedOut: false, timedOutAt: undefined,
        current: undefined, queue: new Fifo(), missingSince: undefined, missingTick: 0,
      });
    }
    this.monitor = new MPIMonitorClient(this.transport, this.servers, {
      serverTimeoutMs: this.opts.serverTimeoutMs,
      heartbeatIntervalMs: this.opts.heartbeatIntervalMs,
      onTimeout: (s, silentMs) => this.onServerTimeout(s as Server, silentMs),
      onRecover: (s) => this.onServerRecover(s as Server),
      onHeartbeat: (s, hb) => this.checkHeld(s as Server, hb),
    });
    if (this.state !== 'starting') return; // stopped while starting
    this.state = 'running';
    this.monitor.start();
    this.log('INFO', `MPICommandClient services started: ${[...this.servers.values()].map((s) => `MPIServer-${s.rank}@${s.host} (pid ${s.pid})`).join(', ')}`);
  }

  /**
   * Stop the services: settle every pending request with ServicesStoppedError,
   * ask every server to stop and finalize, and wait (bounded) for them to
   * acknowledge. Afterwards any use of the client is an error. Idempotent.
   * Resolves to the ranks that did not acknowledge (empty when all did).
   */
  stopServices(reason = 'stopServices() was called'): Promise<number[]> {
    if (this.stopPromise) return this.stopPromise.then(() => this.unacknowledged);
    this.stopPromise = this.doStop(reason);
    return this.stopPromise.then(() => this.unacknowledged);
  }

  private unacknowledged: number[] = [];

  private async doStop(reason: string): Promise<void> {
    this.stopReason = reason;
    const wasStarted = this.state === 'running' || this.state === 'starting';
    this.state = 'stopping';
    this.stoppedAt = new Date();
    this.monitor?.stop();
    this.settleAllPending(reason);
    if (!this.startPromise) this.transport.start((m) => this.onMessage(m));
    const size = this.transport.size;
    const waiting = new Set(Array.from({ length: size - 1 }, (_, i) => i + 1));
    const acked = new Promise<void>((resolveAll) => {
      this.stoppedWaiter = (rank) => { waiting.delete(rank); if (waiting.size === 0) resolveAll(); };
      if (waiting.size === 0) resolveAll();
    });
    const stop = encodeControl({ kind: Kind.STOP, reason });
    for (const rank of waiting) {
      const s = this.servers.get(rank);
      if (s?.timedOut) this.log('WARN', `MPIServer-${rank}@${s.host} (pid ${s.pid}) is in timeout; asking it to stop anyway`);
      try { this.transport.send(rank, Tag.CONTROL, stop); } catch (e) { this.log('ERROR', `cannot send stop to server ${rank}: ${(e as Error).message}`); }
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([acked, new Promise<void>((r) => { timer = setTimeout(r, this.opts.stopTimeoutMs); })]);
    clearTimeout(timer);
    this.stoppedWaiter = undefined;
    this.unacknowledged = [...waiting];
    if (this.unacknowledged.length > 0) this.log('ERROR', `servers ${this.unacknowledged.join(', ')} did not acknowledge the stop within ${this.opts.stopTimeoutMs} ms`);
    this.log('INFO', `MPICommandClient services stopped (${wasStarted ? reason : 'never started'})`);
    this.state = 'stopped';
    this.transport.close();
    this.logger.close();
  }

  /**
   * Last-resort stop for process exit (synchronous): settle what is pending
   * and tell the servers to stop, without waiting for them.
   */
  stopServicesSync(reason = 'the client process is exiting'): void {
    if (this.stopPromise || this.state === 'stopped') return;
    this.stopPromise = Promise.resolve();
    this.state = 'stopped';
    this.stoppedAt = new Date();
    this.stopReason = reason;
    this.monitor?.stop();
    this.settleAllPending(reason);
    const stop = encodeControl({ kind: Kind.STOP, reason });
    for (let rank = 1; rank < this.transport.size; rank++) {
      try { this.transport.send(rank, Tag.CONTROL, stop); } catch { /* exiting anyway */ }
    }
    this.log('INFO', `MPICommandClient services stopped (${reason})`);
    this.transport.close();
    this.logger.close();
  }

  private settleAllPending(reason: string): void {
    for (const req of this.requests.values()) {
      if (req.settled) continue;
      const err = new ServicesStoppedError(`request ${req.rec.id} (${JSON.stringify(req.rec.command)}, status '${req.rec.status}'${req.rec.server !== undefined ? `, server ${req.rec.server}` : ''}) was not answered: the services were stopped (${reason})`);
      req.rec.successful = false;
      req.rec.traceback = `${err.name}: ${err.message}`;
      this.settle(req, err);
    }
    this.untargeted.clear();
    for (const s of this.servers.values()) s.queue.clear();
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
    if (opts.block) {
      try {
        const ids = this.push(command, opts);
        return this.getCommandResponse(ids, { block: true, verbose: false });
      } catch (e) { return Promise.reject(e); }
    }
    return this.push(command, opts);
  }

  private push(command: string, opts: PushOptions): number[] {
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
    const targets = this.resolveTargets(opts.targetServer);
    const encodedParameters = hasParameters ? encodeValue(parameters) : undefined;
    const frame = requestFrameBytes(command, encodedParameters);
    const max = this.transport.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    if (frame > max) {
      throw new MessageTooLargeError(`the request (command and parameters) encodes to ${frame} bytes; a message carries at most ${max} (the MPI binding's int count): pass a smaller value, or a file name the servers read`);
    }
    const ids: number[] = [];
    for (const target of targets) {
      const id = this.nextId++;
      const req: Request = {
        rec: {
          command, id, mode: callWithParameters ? 'eval' : mode, parameters, ret: undefined, server: target, status: 'holding queue',
          successful: false, traceback: null, startTime: undefined, stopTime: undefined,
        },
        target, timeoutMs, callWithParameters, encodedParameters, settled: false, abandoned: false, waiters: undefined, error: undefined,
      };
      this.requests.set(id, req);
      ids.push(id);
      this.enqueue(req);
    }
    return ids;
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
        } catch { r = 'exec'; }
      } catch (e) {
        r = e instanceof SyntaxError ? e : new SyntaxError(String(e));
      }
      if (this.compiled.size >= COMPILE_CACHE_LIMIT) this.compiled.delete(this.compiled.keys().next().value as string);
      this.compiled.set(command, r);
    }
    if (r instanceof SyntaxError) throw new CommandSyntaxError(`command does not compile: ${r.message}\n  ${command.split('\n').join('\n  ')}`, { cause: r });
    return r;
  }

  private resolveTargets(target: number | number[] | undefined): Array<number | undefined> {
    if (target === undefined || target === null) {
      if (this.timedOutCount > 0 && this.timedOutCount === this.servers.size) {
        throw new ServerTimeoutError(`no server is available: every server is in timeout (${this.describeServers()})`);
      }
      return [undefined];
    }
    const list = Array.isArray(target) ? target : [target];
    if (list.length === 0) throw new UnknownServerError('targetServer is an empty list');
    for (const t of list) {
      const s = typeof t === 'number' ? this.servers.get(t) : undefined;
      if (!s) throw new UnknownServerError(`targetServer ${inspect(t)} is not a server; the servers are ranks ${this.serverRanks.join(', ')}`);
      if (s.timedOut) throw new ServerTimeoutError(`server ${t} (MPIServer-${t}@${s.host}, pid ${s.pid}) is in timeout: it has not answered heartbeats since ${new Date(s.timedOutAt ?? Date.now()).toISOString()}`);
    }
    return list;
  }

  private enqueue(req: Request): void {
    if (req.target !== undefined) {
      const s = this.servers.get(req.target)!;
      if (!s.current && !s.timedOut && s.queue.length === 0) this.send(s, req); else s.queue.push(req);
      return;
    }
    if (this.untargeted.length === 0) {
      for (const s of this.servers.values()) {
        if (!s.current && !s.timedOut && s.queue.length === 0) { this.send(s, req); return; }
      }
    }
    this.untargeted.push(req);
  }

  private send(s: Server, req: Request): void {
    req.rec.server = s.rank;
    req.rec.startTime = Date.now();
    try {
      this.transport.send(s.rank, Tag.REQUEST, encodeRequest({
        id: req.rec.id, command: req.rec.command, mode: req.rec.mode, callWithParameters: req.callWithParameters,
        hasParameters: req.encodedParameters !== undefined, parameters: undefined, timeoutMs: req.timeoutMs,
      }, req.encodedParameters));
    } catch (e) {
      // the server never got it: it stays free, and the request ends here
      req.rec.status = 'send failed';
      req.rec.successful = false;
      req.rec.traceback = `SendError: request ${req.rec.id} could not be sent to MPIServer-${s.rank}@${s.host} (pid ${s.pid}): ${describeThrown(e)}`;
      this.settle(req, undefined);
      return;
    }
    s.current = req;
    s.missingSince = undefined;
    req.rec.status = 'request sent';
  }

  /** Send the next queued request to a server that has just become free. */
  private dispatch(s: Server): void {
    // a failed send leaves the server free: try the next one
    while (!s.current && !s.timedOut && this.state === 'running') {
      const own = s.queue.peek();
      const any = this.untargeted.peek();
      let next: Request | undefined;
      if (own && (!any || own.rec.id < any.rec.id)) next = s.queue.shift();
      else if (any) next = this.untargeted.shift();
      if (!next) return;
      this.send(s, next);
    }
  }

  private onMessage(msg: Envelope): void {
    const s = this.servers.get(msg.source);
    switch (msg.tag) {
      case Tag.RESPONSE: {
        let res: ResponseMessage;
        try { res = decodeResponse(msg.data); } catch (e) {
          // no readable request id: whatever it answered ends through the heartbeat check ('lost')
          if (s) this.monitor.heard(s);
          this.log('WARN', `ignored a RESPONSE from rank ${msg.source} that does not decode: ${describeThrown(e)}`);
          return;
        }
        if (!s) return;
        this.monitor.heard(s);
        const req = this.requests.get(res.id);
        if (s.current && s.current.rec.id === res.id) s.current = undefined;
        if (req && !req.settled) {
          const rec = req.rec;
          rec.status = 'response received';
          rec.successful = res.successful;
          rec.ret = res.ret;
          rec.traceback = res.error ? res.error.stack : null;
          rec.startTime = res.startTime;
          rec.stopTime = res.stopTime;
          this.settle(req, undefined);
        } else if (req?.abandoned) {
          this.log('INFO', `late response to request ${res.id} from MPIServer-${msg.source}@${s.host} ignored: the request had ended as '${req.rec.status}'`);
        }
        this.dispatch(s);
        return;
      }
      case Tag.HEARTBEAT_REPLY:
        if (s) this.monitor.onHeartbeatReply(s, msg.data);
        return;
      case Tag.LOG: {
        if (s) this.monitor.heard(s);
        let line: { level: LogLevel; text: string };
        try { line = decodeLog(msg.data); } catch (e) { line = { level: 'WARN', text: `(a log line that does not decode: ${describeThrown(e)})` }; }
        this.logger.write(msg.source, s?.host ?? this.hostOf(msg.source), line.level, line.text);
        return;
      }
      case Tag.CONTROL: {
        let ctl: ControlMessage;
        try { ctl = decodeControl(msg.data); } catch (e) {
          this.log('WARN', `ignored a control message from rank ${msg.source} that does not decode: ${describeThrown(e)}`);
          return;
        }
        if (ctl.kind === Kind.STATUS) {
          this.pendingHosts.set(msg.source, ctl.host);
          this.statusWaiters?.(ctl, msg.source);
        } else if (ctl.kind === Kind.STOPPED) this.stoppedWaiter?.(msg.source);
        return;
      }
      default:
        this.log('WARN', `ignored a message with tag ${msg.tag} from rank ${msg.source}`);
    }
  }

  private readonly pendingHosts = new Map<number, string>();
  private hostOf(rank: number): string { return this.pendingHosts.get(rank) ?? '?'; }

  private onServerTimeout(s: Server, silentMs: number): void {
    const why = `MPIServer-${s.rank} at host ${s.host} (pid ${s.pid}) did not answer for ${Math.round(silentMs)} ms (serverTimeoutMs=${this.opts.serverTimeoutMs})`;
    this.timedOutCount++;
    this.log('WARN', `${why}: server in timeout`);
    const fail = (req: Request) => {
      req.rec.status = 'timeout';
      req.rec.successful = false;
      req.rec.traceback = `ServerTimeoutError: request ${req.rec.id} not answered: ${why}`;
      this.settle(req, undefined);
    };
    if (s.current && !s.current.settled) { s.current.abandoned = true; fail(s.current); }
    for (let r = s.queue.shift(); r; r = s.queue.shift()) { r.rec.server = s.rank; fail(r); }
    if (this.timedOutCount === this.servers.size) {
      for (let r = this.untargeted.shift(); r; r = this.untargeted.shift()) fail(r);
    }
  }

  /**
   * The second line of defence: the request this client waits for on `s` is
   * neither running nor queued there, by the server's own heartbeat. Past
   * lostGraceMs (the request or its response may be in flight), and only if
   * the server's event loop kept running meanwhile (its tick advanced at
   * least twice: a blocked loop may have the request waiting unseen), it
   * ends as 'lost', naming server, host and pid, and the server is free
   * again. A request given up earlier (timeout) that the server no longer
   * holds just frees the server.
   */
  private checkHeld(s: Server, hb: Heartbeat): void {
    const cur = s.current;
    if (!cur) { s.missingSince = undefined; return; }
    const id = cur.rec.id;
    const held = hb.requestId === id || hb.queued.includes(id) || hb.queuedCount > hb.queued.length;
    // busy with an older request (one this client gave up on): ours may still be on its way in
    const passedOver = !hb.busy || hb.requestId > id;
    if (held || !passedOver) { s.missingSince = undefined; return; }
    const t = performance.now();
    if (s.missingSince === undefined) { s.missingSince = t; s.missingTick = hb.tick; }
    const missingMs = t - s.missingSince;
    if (missingMs < this.opts.lostGraceMs || ((hb.tick - s.missingTick) >>> 0) < 2) return;
    s.current = undefined;
    s.missingSince = undefined;
    const state = hb.busy ? `running request ${hb.requestId}` : 'idle';
    const why = `MPIServer-${s.rank} at host ${s.host} (pid ${s.pid}) no longer holds it: its heartbeat has said ${state}, ${hb.queuedCount} queued${hb.queued.length ? ` (${hb.queued.join(', ')})` : ''}, for ${Math.round(missingMs)} ms (lostGraceMs=${this.opts.lostGraceMs}) and no response came`;
    if (!cur.settled) {
      const err = new RequestLostError(`request ${id} was lost: ${why}`);
      cur.abandoned = true;
      cur.rec.status = 'lost';
      cur.rec.successful = false;
      cur.rec.traceback = `${err.name}: ${err.message}`;
      this.log('WARN', `request ${id} (${JSON.stringify(cur.rec.command.slice(0, 80))}) lost: ${why}`);
      this.settle(cur, undefined);
    } else {
      this.log('INFO', `request ${id} (given up earlier as '${cur.rec.status}') is no longer held by MPIServer-${s.rank}@${s.host}: the server is free again`);
    }
    this.dispatch(s);
  }

  private onServerRecover(s: Server): void {
    this.timedOutCount--;
    this.log('INFO', `MPIServer-${s.rank} at host ${s.host} (pid ${s.pid}) answers again: recovered from timeout`);
    this.dispatch(s);
  }

  private settle(req: Request, error: Error | undefined): void {
    req.settled = true;
    req.error = error;
    const ws = req.waiters;
    req.waiters = undefined;
    if (ws) for (const w of ws) { if (error) w.reject(error); else w.resolve(); }
  }

  private whenSettled(req: Request): Promise<void> {
    if (req.settled) return req.error ? Promise.reject(req.error) : Promise.resolve();
    return new Promise((resolveP, reject) => { (req.waiters ??= []).push({ resolve: resolveP, reject }); });
  }

  /**
   * The responses for request ids. Non-blocking: the responses available now
   * (settled ones). Blocking: resolves when all have settled (response or
   * server timeout); rejects with ServicesStoppedError if the services stop
   * first, or WaitTimeoutError after `waitTimeoutMs`.
   */
  getCommandResponse(ids: number | number[], opts: ResponseOptions & { block: true }): Promise<CommandResponse[]>;
  getCommandResponse(ids: number | number[], opts?: ResponseOptions & { block?: false }): CommandResponse[];
  getCommandResponse(ids: number | number[], opts: ResponseOptions = {}): CommandResponse[] | Promise<CommandResponse[]> {
    const list = Array.isArray(ids) ? ids : [ids];
    if (opts.block) {
      try {
        this.assertUsable();
        const reqs = list.map((id) => this.lookup(id));
        if (opts.verbose) this.reportPending(reqs);
        if (reqs.length === 1 && opts.waitTimeoutMs === undefined) {
          const only = reqs[0]!;
          return this.whenSettled(only).then(() => [only.rec]);
        }
        const all = reqs.every((r) => r.settled) ? Promise.resolve() : Promise.all(reqs.map((r) => this.whenSettled(r)));
        const done = all.then(() => reqs.map((r) => r.rec));
        if (opts.waitTimeoutMs === undefined) return done;
        let timer: NodeJS.Timeout | undefined;
        return Promise.race([done, new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const left = reqs.filter((r) => !r.settled);
            reject(new WaitTimeoutError(`getCommandResponse: ${left.length} of ${reqs.length} requests not answered within ${opts.waitTimeoutMs} ms: ${this.describePending(left)}`));
          }, opts.waitTimeoutMs);
        })]).finally(() => clearTimeout(timer));
      } catch (e) { return Promise.reject(e); }
    }
    this.assertUsable();
    const reqs = list.map((id) => this.lookup(id));
    if (opts.verbose ?? true) this.reportPending(reqs);
    return reqs.filter((r) => r.settled).map((r) => r.rec);
  }

  private lookup(id: number): Request {
    const r = this.requests.get(id);
    if (!r) throw new RangeError(`no command request with id ${inspect(id)} (ids start at 1; the last one is ${this.nextId - 1})`);
    return r;
  }

  private reportPending(reqs: Request[]): void {
    const left = reqs.filter((r) => !r.settled);
    if (left.length > 0) this.log('INFO', `waiting for ${left.length} responses: ${this.describePending(left)}`);
  }

  private describePending(reqs: Request[]): string {
    return reqs.slice(0, 20).map((r) => (r.rec.status === 'request sent'
      ? `request ${r.rec.id} running on server ${r.rec.server} since ${new Date(r.rec.startTime ?? 0).toISOString()}`
      : `request ${r.rec.id} in the holding queue${r.target !== undefined ? ` for server ${r.target}` : ''}`)).join('; ') + (reqs.length > 20 ? `; and ${reqs.length - 20} more` : '');
  }

  private describeServers(): string {
    return [...this.servers.values()].map((s) => `${s.rank}: ${s.host} pid ${s.pid}${s.timedOut ? ' timeout' : ''}`).join(', ');
  }

  /** Per server rank: host, pid, busy, current command and its start time, last heartbeat, timeout flag. */
  getServerStatus(): Record<number, ServerStatus> {
    this.assertRunning();
    const out: Record<number, ServerStatus> = {};
    for (const s of this.servers.values()) {
      const cur = s.current;
      out[s.rank] = {
        rank: s.rank, host: s.host, pid: s.pid, busy: s.current !== undefined,
        command: cur?.rec.command, commandId: cur?.rec.id, commandStartTime: cur?.rec.startTime,
        lastHeartbeat: s.lastHeartbeat, heartbeatBusy: s.reportedBusy, heartbeatRequestId: s.reportedRequestId,
        heartbeatQueued: [...s.reportedQueue], timeout: s.timedOut,
      };
    }
    return out;
  }

  /** One command, one response (rejects only on errors at push or stop; a failing command resolves with successful false). */
  async submit(command: string, opts: Omit<PushOptions, 'block' | 'targetServer'> & { targetServer?: number } = {}): Promise<CommandResponse> {
    const [res] = await this.pushCommandRequest(command, { ...opts, block: true });
    return res!;
  }

  /**
   * Apply a task to every input on the servers, in chunks of `chunksize`
   * inputs per request. `task` is the name of a function the servers know (a
   * task module export or a global set by a command) or a self-contained
   * function (its source is sent). Results come in input order, or in
   * completion order with `unordered`. A failing chunk rejects with
   * TaskFailedError carrying the server's traceback.
   */
  async map<T = unknown>(task: string | ((x: never) => unknown), inputs: Iterable<unknown>, opts: { chunksize?: number; unordered?: boolean; timeoutMs?: number } = {}): Promise<T[]> {
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
      if (!r.successful) throw new TaskFailedError(`map(${typeof task === 'string' ? task : 'function'}): request ${r.id} on server ${r.server} failed: ${r.traceback}`);
      if (chunksize === 1) out.push(r.ret as T); else out.push(...(r.ret as T[]));
    };
    if (!opts.unordered) {
      for (const r of await this.getCommandResponse(ids, { block: true })) collect(r);
      return out;
    }
    await Promise.all(ids.map((id) => this.getCommandResponse([id], { block: true }).then(([r]) => collect(r!))));
    return out;
  }

  // ---- guards -------------------------------------------------------------------

  private assertUsable(): void {
    if (this.state === 'stopped' || this.state === 'stopping') {
      throw new ServicesStoppedError(`MPICommandClient services were stopped at ${this.stoppedAt?.toISOString()} (${this.stopReason}); the servers are finalized and the client cannot be used again`);
    }
  }

  private assertRunning(): void {
    this.assertUsable();
    if (this.state !== 'running') throw new ServicesNotStartedError(`MPICommandClient services are not started${this.state === 'starting' ? ' yet (startServices() has not resolved)' : ': call `await client.startServices()` first'}`);
  }
}

/** Array-backed FIFO with O(1) shift. */
class Fifo<T> {
  private items: Array<T | undefined> = [];
  private head = 0;
  get length(): number { return this.items.length - this.head; }
  push(x: T): void { this.items.push(x); }
  peek(): T | undefined { return this.head < this.items.length ? this.items[this.head] : undefined; }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) { this.items = this.items.slice(this.head); this.head = 0; }
    return x;
  }
  clear(): void { this.items = []; this.head = 0; }
}
