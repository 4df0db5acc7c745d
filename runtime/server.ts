// MPICommandServer: the counterpart of MPICommandClient on every rank but 0.
// Commands are JavaScript source run in ONE persistent vm context per server
// (state set by one command is there for the next). Parameters are injected
// as globals for one command and removed afterwards; `name()` with parameters
// calls name(parameters); a returned Promise is awaited; `timeoutMs`
// interrupts runaway synchronous code (vm's watchdog) or a Promise that does
// not settle, and the server stays usable. One command runs at a time.
// Heartbeats are answered by the transport's native thread, from a payload
// this server keeps current (busy flag, running request id, queued ids, and
// a tick a timer advances while the event loop runs).
//
// Every request gets exactly one response, whatever the command throws,
// returns or resolves to: `execute` never throws and never rejects (every
// step that runs user code or touches user values is guarded), a value that
// cannot be encoded or sent becomes a failed response saying so
// (protocol.encodeResponseOrFailure), and a REQUEST whose parameters do not
// decode is answered with a failed response too. The queue moves on in every
// case, so the server stays usable.
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
import * as vm from 'node:vm';
import { CommandTimeoutError, ProtocolError, RoleError } from './errors.js';
import {
  CALL_FORM,
  CLIENT_RANK,
  HEARTBEAT_TICK_MS,
  Kind,
  MAX_MESSAGE_BYTES,
  Tag,
  decodeBatch,
  decodeControl,
  decodeRequest,
  encodeBatch,
  isBatch,
  describeThrown,
  encodeControl,
  encodeError,
  writeHeartbeat,
  HEARTBEAT_MAX_BYTES,
  encodeLog,
  encodeResponseOrFailure,
  type LogLevel,
  type RequestMessage,
  type ResponseMessage,
  type StartMessage,
} from './protocol.js';
import { Poller } from './poller.js';
import type { Envelope, Transport } from './transport.js';

export interface ServerOptions {
  host?: string;
  pid?: number;
  /** apply the client's working directory and environment entries to this process (true for MPI servers; false in-process) */
  applyProcessSettings?: boolean;
  /** lines to send to the client as soon as it starts the services (e.g. the MPI Enabled line) */
  startupLog?: Array<{ level: LogLevel; text: string }>;
}

const now = (): number => performance.timeOrigin + performance.now();
const SCRIPT_CACHE_LIMIT = 512;
/** a command that ran shorter than this last time may run while finished responses wait in the outbox */
const FAST_COMMAND_MS = 0.05;
/** the heartbeat's list when nothing is queued (no array per update) */
const NOTHING_HELD: readonly number[] = [];
/** the outbox is sent when it holds this many responses or bytes */
const OUTBOX_FRAMES = 64;
const OUTBOX_BYTES = 64 * 1024;
/** a script's start that an arrow body would read differently (see expression()) */
const STATEMENT_START = /^\s*(?:[{/#]|function\b|class\b|async\s+function\b|let\b)/;

let singleton: MPICommandServer | undefined;

export class MPICommandServer {
  readonly host: string;
  readonly pid: number;
  readonly context: vm.Context;
  private readonly scripts = new Map<string, vm.Script>();
  /** expression commands as cached arrows (null: not one; see expression()) */
  private readonly expressions = new Map<string, (() => unknown) | null>();
  private readonly queue: RequestMessage[] = [];
  private running: RequestMessage | undefined;
  /** responses of finished requests not sent yet (they go together, see respond()) */
  private readonly outbox: Array<{ res: ResponseMessage; frame: Buffer }> = [];
  private outboxBytes = 0;
  /** how long each command ran last time (ms): which may run while responses wait in the outbox */
  private readonly lastRunMs = new Map<string, number>();
  private started = false;
  private stopped = false;
  private cwd = process.cwd();
  private resolveServe: (() => void) | undefined;
  private readonly servePromise: Promise<void>;
  private readonly startupLog: Array<{ level: LogLevel; text: string }>;
  /** advanced by a timer on this event loop: the heartbeat's sign that JS runs (see protocol.ts) */
  private tick = 0;
  private readonly heartbeatBuffer = Buffer.alloc(HEARTBEAT_MAX_BYTES);
  private ticker: NodeJS.Timeout | undefined;
  /** after answering, the next request of a loop comes soon: receive it on this thread (poller.ts) */
  private readonly poller: Poller;

  /** One server per process on MPI; pass `{ allowMany: true }` for in-process tests. */
  static create(transport: Transport, opts: ServerOptions & { allowMany?: boolean } = {}): MPICommandServer {
    if (singleton && !opts.allowMany) {
      throw new RoleError(`an MPICommandServer already runs in this process (rank ${singleton.transport.rank}); it is a singleton`, transport.rank);
    }
    const s = new MPICommandServer(transport, opts);
    if (!opts.allowMany) singleton = s;
    return s;
  }

  private constructor(
    readonly transport: Transport,
    private readonly opts: ServerOptions,
  ) {
    if (transport.rank === CLIENT_RANK) throw new RoleError('rank 0 is the MPIClient; an MPICommandServer runs on ranks 1..n-1', transport.rank);
    this.host = opts.host ?? hostname();
    this.pid = opts.pid ?? process.pid;
    this.startupLog = [...(opts.startupLog ?? [])];
    this.servePromise = new Promise((r) => {
      this.resolveServe = r;
    });
    this.context = vm.createContext(this.makeGlobals(), { name: `MPIServer-${transport.rank}` });
    this.poller = new Poller(transport);
    transport.enableHeartbeat(Tag.HEARTBEAT_REQUEST, Tag.HEARTBEAT_REPLY);
    this.updateHeartbeat();
  }

  /** Serve until the client sends STOP; resolves then. */
  serve(): Promise<void> {
    this.transport.start((m) => this.onMessage(m));
    this.ticker ??= setInterval(() => {
      this.tick = (this.tick + 1) >>> 0;
      this.updateHeartbeat();
    }, HEARTBEAT_TICK_MS).unref();
    return this.servePromise;
  }

  /** Send a log line to the client (rank and host are added there). */
  log(level: LogLevel, text: string): void {
    if (this.stopped) return;
    if (!this.started) {
      this.startupLog.push({ level, text });
      return;
    }
    try {
      this.transport.send(CLIENT_RANK, Tag.LOG, encodeLog(level, text));
    } catch {
      /* client gone: nothing to report to */
    }
  }

  /** Route this process's console to the client (used on MPI servers). */
  captureConsole(target: Console = console): void {
    const route =
      (level: LogLevel) =>
      (...args: unknown[]) =>
        this.log(level, format(...args));
    target.log = route('INFO');
    target.info = route('INFO');
    target.debug = route('DEBUG');
    target.warn = route('WARN');
    target.error = route('ERROR');
  }

  private makeGlobals(): Record<string, unknown> {
    const route =
      (level: LogLevel) =>
      (...args: unknown[]) =>
        this.log(level, format(...args));
    const serverConsole = {
      log: route('INFO'),
      info: route('INFO'),
      debug: route('DEBUG'),
      warn: route('WARN'),
      error: route('ERROR'),
      trace: route('DEBUG'),
      dir: route('INFO'),
    };
    // read at each use: this.cwd changes when the client's directory arrives
    const cwd = () => this.cwd;
    return {
      console: serverConsole,
      process,
      Buffer,
      URL,
      URLSearchParams,
      TextEncoder,
      TextDecoder,
      AbortController,
      AbortSignal,
      setTimeout,
      clearTimeout,
      setInterval,
      clearInterval,
      setImmediate,
      clearImmediate,
      queueMicrotask,
      structuredClone,
      performance,
      fetch: globalThis.fetch,
      get require() {
        return createRequire(join(cwd(), '[mpistack-command]'));
      },
      /** import a module relative to the client's working directory */
      importModule: (specifier: string) => import(resolveSpecifier(specifier, cwd())),
      server: { rank: this.transport.rank, host: this.host, pid: this.pid },
    };
  }

  private onMessage(msg: Envelope): void {
    if (this.stopped) return;
    switch (msg.tag) {
      case Tag.REQUEST: {
        this.poller.arrived();
        let frames: Buffer[];
        try {
          frames = isBatch(msg.data) ? decodeBatch(msg.data) : [msg.data];
        } catch (e) {
          this.refuseFrame(msg, e);
          return;
        }
        for (const frame of frames) {
          try {
            this.queue.push(decodeRequest(frame));
          } catch (e) {
            this.refuseFrame(msg, e);
          }
        }
        if (this.running) this.updateHeartbeat();
        else this.drain();
        return;
      }
      case Tag.CONTROL: {
        let ctl;
        try {
          ctl = decodeControl(msg.data);
        } catch (e) {
          this.refuseFrame(msg, e);
          return;
        }
        if (ctl.kind === Kind.START) void this.start(ctl);
        else if (ctl.kind === Kind.STOP) this.stop(ctl.reason);
        return;
      }
      default:
        this.log('WARN', `ignored a message with tag ${msg.tag} from rank ${msg.source}`);
    }
  }

  private async start(s: StartMessage): Promise<void> {
    this.cwd = s.cwd;
    if (this.opts.applyProcessSettings) {
      try {
        process.chdir(s.cwd);
      } catch (e) {
        this.startupLog.push({ level: 'WARN', text: `cannot change to the client's directory ${s.cwd}: ${(e as Error).message}` });
      }
      Object.assign(process.env, s.env);
    }
    let error;
    for (const url of s.tasks) {
      try {
        const mod = (await import(url)) as Record<string, unknown>;
        for (const [name, value] of Object.entries(mod)) if (name !== 'default') this.context[name] = value;
      } catch (e) {
        error = encodeError(e);
        error.message = `task module ${url} failed to import on MPIServer-${this.transport.rank}@${this.host}: ${error.message}`;
        break;
      }
    }
    // status first: the client learns this server's host before its first log line
    this.transport.send(CLIENT_RANK, Tag.CONTROL, encodeControl({ kind: Kind.STATUS, host: this.host, pid: this.pid, ...(error ? { error } : {}) }));
    this.started = true;
    for (const l of this.startupLog.splice(0)) this.log(l.level, l.text);
  }

  private stop(reason: string): void {
    this.log('INFO', `stopping: ${reason}`);
    this.stopped = true;
    clearInterval(this.ticker);
    if (this.running) this.log('WARN', `request ${this.running.id} was still running at stop`);
    try {
      this.transport.send(CLIENT_RANK, Tag.CONTROL, encodeControl({ kind: Kind.STOPPED, pid: this.pid }));
    } catch {
      /* client gone */
    }
    this.transport.close();
    this.resolveServe?.();
  }

  /**
   * A frame that does not decode: a REQUEST whose header named its id is
   * answered with a failed response (the client is waiting for it); anything
   * else is reported in the log.
   */
  private refuseFrame(msg: Envelope, e: unknown): void {
    const why = describeThrown(e);
    if (e instanceof ProtocolError && e.requestId !== undefined && msg.tag === Tag.REQUEST) {
      const t = now();
      this.respond({ id: e.requestId, successful: false, ret: undefined, error: encodeError(e), startTime: t, stopTime: t });
      return;
    }
    this.log('WARN', `ignored a message with tag ${msg.tag} from rank ${msg.source} that does not decode: ${why}`);
  }

  /** What the native thread answers heartbeats with: the running request and the queued ones (protocol.ts). */
  private updateHeartbeat(): void {
    // a response waiting in the outbox counts as held too: listed before the queued requests
    const held =
      this.outbox.length === 0
        ? this.queue.length === 0
          ? NOTHING_HELD
          : this.queue.map((r) => r.id)
        : [...this.outbox.map((h) => h.res.id), ...this.queue.map((r) => r.id)];
    // the transport copies the payload: one buffer serves every update (twice per command)
    const n = writeHeartbeat(this.heartbeatBuffer, this.running !== undefined, this.running?.id ?? 0, held, this.tick);
    this.transport.setHeartbeatPayload(this.heartbeatBuffer.subarray(0, n));
  }

  /**
   * Run the queued requests in order until one goes asynchronous or none is
   * left; then send what the outbox holds and expect the next request soon.
   * Responses wait in the outbox only while the next command is one that ran
   * under FAST_COMMAND_MS last time (see respond()).
   */
  private drain(): void {
    while (!this.running && !this.stopped) {
      const next = this.queue.shift();
      if (!next) {
        this.flushOutbox();
        this.updateHeartbeat();
        this.poller.poll();
        return;
      }
      if (this.outbox.length > 0 && !((this.lastRunMs.get(next.command) ?? Infinity) < FAST_COMMAND_MS)) this.flushOutbox();
      this.run(next);
    }
    this.flushOutbox();
  }

  /** Run one request; a synchronous command is answered before this returns, an asynchronous one when it settles. */
  private run(req: RequestMessage): void {
    this.running = req;
    this.updateHeartbeat();
    let res: ResponseMessage | Promise<ResponseMessage>;
    try {
      res = this.execute(req);
    } catch (e) {
      // execute() guards every step; this is the last line, so that a bug there still answers
      res = { id: req.id, successful: false, ret: undefined, error: encodeError(e), startTime: now(), stopTime: now() };
    }
    if (!(res instanceof Promise)) {
      this.finish(req, res, true);
      return;
    }
    // going asynchronous: what waits in the outbox goes now
    this.flushOutbox();
    const failed = (e: unknown): ResponseMessage => ({
      id: req.id,
      successful: false,
      ret: undefined,
      error: encodeError(e),
      startTime: now(),
      stopTime: now(),
    });
    void res.then(
      (r) => {
        this.finish(req, r, false);
        this.drain();
      },
      (e: unknown) => {
        this.finish(req, failed(e), false);
        this.drain();
      },
    );
  }

  private finish(req: RequestMessage, res: ResponseMessage, hold: boolean): void {
    if (this.stopped) {
      this.running = undefined;
      return;
    }
    if (this.lastRunMs.size >= SCRIPT_CACHE_LIMIT && !this.lastRunMs.has(req.command)) this.lastRunMs.delete(this.lastRunMs.keys().next().value as string);
    this.lastRunMs.set(req.command, res.stopTime - res.startTime);
    // the heartbeat lists this request until its response is sent (a large one takes a while; a held one waits in the outbox)
    this.respond(res, hold);
    this.running = undefined;
  }

  /**
   * Answer a request. `hold`: the response may wait in the outbox, to go with
   * the next ones as one BATCH (the server is about to run another short
   * command); else it goes now, after whatever the outbox holds. Never throws.
   */
  private respond(res: ResponseMessage, hold = false): void {
    const max = this.transport.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    const frame = encodeResponseOrFailure(res, max);
    // a batch is one message too: never larger than the transport carries (its header and lengths: 8 + 4 per frame)
    const limit = Math.min(OUTBOX_BYTES, max - 8 - 4 * OUTBOX_FRAMES);
    if (hold && frame.length <= limit) {
      if (this.outboxBytes + frame.length > limit) this.flushOutbox();
      this.outbox.push({ res, frame });
      this.outboxBytes += frame.length;
      if (this.outbox.length >= OUTBOX_FRAMES) this.flushOutbox();
      return;
    }
    this.flushOutbox();
    this.sendResponse(res, frame, max);
  }

  /** Send the held responses: one frame alone, several as one BATCH; if the transport refuses the batch, one by one. */
  private flushOutbox(): void {
    if (this.outbox.length === 0) return;
    const held = this.outbox.splice(0);
    this.outboxBytes = 0;
    const max = this.transport.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    if (held.length > 1) {
      try {
        this.transport.send(CLIENT_RANK, Tag.RESPONSE, encodeBatch(held.map((h) => h.frame)));
        return;
      } catch {
        /* each on its own below, each failure answered */
      }
    }
    for (const h of held) this.sendResponse(h.res, h.frame, max);
  }

  /** Send one response frame; one the transport refuses becomes a failed response saying why. Never throws. */
  private sendResponse(res: ResponseMessage, frame: Buffer, max: number): void {
    try {
      this.transport.send(CLIENT_RANK, Tag.RESPONSE, frame);
      return;
    } catch (e) {
      const error = { name: 'SendError', message: `the response to request ${res.id} could not be sent: ${describeThrown(e)}`, stack: '' };
      error.stack = `${error.name}: ${error.message}`;
      try {
        this.transport.send(CLIENT_RANK, Tag.RESPONSE, encodeResponseOrFailure({ ...res, successful: false, ret: undefined, error }, max));
      } catch (e2) {
        // the client is gone or the transport is broken: nobody to answer; the client's heartbeat check ends the request
        this.log('ERROR', `${error.message}; sending that failure failed too: ${describeThrown(e2)}`);
      }
    }
  }

  /**
   * Run one command in the persistent context. Never throws. Synchronous
   * commands answer without a trip through the microtask queue; a returned
   * Promise is awaited.
   */
  execute(req: RequestMessage): ResponseMessage | Promise<ResponseMessage> {
    const startTime = now();
    const ctx = this.context as Record<string, unknown>;
    const saved: Array<[string, boolean, unknown]> = [];
    const params = req.parameters;
    const fail = (e: unknown): ResponseMessage => ({ id: req.id, successful: false, ret: undefined, error: encodeError(e), startTime, stopTime: now() });
    // put back what the parameters shadowed; a global a command made read-only or non-deletable is reported, not thrown
    const restore = () => {
      for (const [key, had, old] of saved.splice(0)) {
        try {
          if (had) ctx[key] = old;
          else delete ctx[key];
        } catch (e) {
          this.log('WARN', `request ${req.id}: the parameter global ${JSON.stringify(key)} could not be ${had ? 'restored' : 'removed'}: ${describeThrown(e)}`);
        }
      }
    };
    if (params) {
      for (const key of Object.keys(params)) {
        try {
          saved.push([key, Object.prototype.hasOwnProperty.call(ctx, key), ctx[key]]);
          ctx[key] = params[key];
        } catch (e) {
          restore();
          return fail(new TypeError(`the parameter ${JSON.stringify(key)} cannot be set as a global of the server's context: ${describeThrown(e)}`));
        }
      }
    }
    let value: unknown;
    try {
      const call = req.callWithParameters ? CALL_FORM.exec(req.command) : null;
      if (call) {
        const fn = this.evaluate(call[1].replace(/\s+/g, ''), req.timeoutMs);
        if (typeof fn !== 'function') throw new TypeError(`${call[1]} is not a function (called as ${call[1]}(parameters))`);
        value = (fn as (p: unknown) => unknown)(params);
      } else if (req.mode === 'eval') {
        value = this.evaluate(req.command, req.timeoutMs);
      } else {
        value = this.script(req.command).runInContext(this.context, req.timeoutMs > 0 ? { timeout: req.timeoutMs } : undefined);
      }
    } catch (e) {
      restore();
      return fail(e);
    }
    let thenable: boolean;
    try {
      thenable = isThenable(value);
    } catch (e) {
      restore();
      return fail(new TypeError(`the command's value has a 'then' property that throws when read: ${describeThrown(e)}`));
    }
    if (!thenable) {
      restore();
      return { id: req.id, successful: true, ret: req.mode === 'eval' ? value : undefined, error: undefined, startTime, stopTime: now() };
    }
    // parameters stay visible to the command until its Promise settles
    return settleWithin(value as PromiseLike<unknown>, req.timeoutMs)
      .then(
        (v): ResponseMessage => {
          restore();
          return { id: req.id, successful: true, ret: req.mode === 'eval' ? v : undefined, error: undefined, startTime, stopTime: now() };
        },
        (e: unknown) => {
          restore();
          return fail(e);
        },
      )
      .catch((e: unknown) => fail(e));
  }

  /** The value of an expression command: its cached arrow when it has one and no timeout applies, else its script. */
  private evaluate(source: string, timeoutMs: number): unknown {
    if (timeoutMs === 0) {
      const fn = this.expression(source);
      if (fn) return fn();
    }
    return this.script(source).runInContext(this.context, timeoutMs > 0 ? { timeout: timeoutMs } : undefined);
  }

  /**
   * An expression command as an arrow made once in the context,
   * `(() => (\n<command>\n))`: calling it costs a call, where
   * runInContext costs a context entry (~1 us). Same value, same `this`
   * (the context's global), same sloppy-mode globals, same line numbers
   * (lineOffset). Not for what the arrow would read differently from a
   * script: a command that must compile as a script first (else its
   * SyntaxError is reported by the script), one starting with `{`,
   * `function`, `class`, `async function` or `let` (statements at a
   * script's start), one starting with `/` or `#`, or one naming `eval` (a
   * direct eval would declare into the arrow's scope). Those, and commands
   * with a timeout (the watchdog), run as scripts.
   */
  private expression(source: string): (() => unknown) | null {
    let fn = this.expressions.get(source);
    if (fn !== undefined) return fn;
    fn = null;
    if (!STATEMENT_START.test(source) && !/\beval\b/.test(source)) {
      try {
        this.script(source);
        const made: unknown = new vm.Script(`(() => (\n${source}\n))`, {
          filename: join(this.cwd, 'mpistack-command'),
          lineOffset: -1,
          importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
        }).runInContext(this.context);
        if (typeof made === 'function') fn = made as () => unknown;
      } catch {
        /* not an expression on its own: the script runs it */
      }
    }
    if (this.expressions.size >= SCRIPT_CACHE_LIMIT) this.expressions.delete(this.expressions.keys().next().value as string);
    this.expressions.set(source, fn);
    return fn;
  }

  private script(source: string): vm.Script {
    let s = this.scripts.get(source);
    if (!s) {
      s = new vm.Script(source, {
        filename: join(this.cwd, 'mpistack-command'),
        importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
      });
      if (this.scripts.size >= SCRIPT_CACHE_LIMIT) this.scripts.delete(this.scripts.keys().next().value as string);
      this.scripts.set(source, s);
    }
    return s;
  }
}

/** Reads `v.then`, which runs user code for a getter or a Proxy: the caller guards it. */
function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

function settleWithin(p: PromiseLike<unknown>, timeoutMs: number): Promise<unknown> {
  if (!(timeoutMs > 0)) return Promise.resolve(p);
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      reject(new CommandTimeoutError(`the command's Promise did not settle within timeoutMs=${timeoutMs}`, timeoutMs));
    }, timeoutMs);
    // a thenable's then() is user code: what it throws rejects (the executor catches it)
    Promise.resolve(p).then(
      (v) => {
        clearTimeout(timer);
        resolvePromise(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the command's own reason, whatever it is (runtime.bad-values: non-Errors)
        reject(e);
      },
    );
  });
}

function resolveSpecifier(specifier: string, cwd: string): string {
  if (specifier.startsWith('.') || specifier.startsWith('/')) return pathToFileURL(join(specifier.startsWith('/') ? '' : cwd, specifier)).href;
  return createRequire(join(cwd, '[mpistack-command]')).resolve(specifier);
}
