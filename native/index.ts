// The Node MPI binding (issue 3): one loader for the .node file and the typed
// wrapper over the thin C++ addon. Argument checks, defaults, messages and the
// matching of asynchronously received messages to promises live here.
import { existsSync, readdirSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import {
  ANY_SOURCE, ANY_TAG, MessageTooLargeError, ThreadLevel,
  type Communicator, type Message, type MPIBinding, type Status, type WaitPolicy,
} from './api.js';

export * from './api.js';

/** An error returned by MPI (the communicator's error handler is MPI_ERRORS_RETURN). */
export class MPIError extends Error {
  override name = 'MPIError';
  /** MPI error class (MPI_Error_class of the returned code), e.g. MPI_ERR_RANK. */
  readonly errorClass: number;
  /** MPI_Error_string of the returned code. */
  readonly mpiMessage: string;
  /** The MPI call that failed, e.g. 'MPI_Send'. */
  readonly call: string;
  constructor(call: string, errorClass: number, mpiMessage: string) {
    super(`${call}: ${mpiMessage} (MPI error class ${errorClass})`);
    this.call = call;
    this.errorClass = errorClass;
    this.mpiMessage = mpiMessage;
  }
}

/** A pending recvAsync that can no longer be satisfied (MPI was finalized). */
export class ReceiveCancelledError extends Error {
  override name = 'ReceiveCancelledError';
}

/** The loader found no usable .node file; `tried` says where it looked and why each failed. */
export class BindingLoadError extends Error {
  override name = 'BindingLoadError';
  constructor(readonly tried: { path: string; reason: string }[]) {
    super(`could not load the MPI binding; tried:\n${tried.map((t) => `  ${t.path}: ${t.reason}`).join('\n') || '  (nothing)'}\n` +
      'build it with `npm run build:native`, or pass { path } / { prefix } (or set MPISTACK_PREFIX)');
  }
}

export interface LoadOptions {
  /** explicit .node file; tried first */
  path?: string;
  /** stack prefix holding lib/mpistack/mpi.node; default env MPISTACK_PREFIX */
  prefix?: string;
}

// The C++ side, function by function (native/src/mpi.cc).
interface Native {
  setErrorClass(ctor: new (call: string, cls: number, msg: string) => Error): void;
  /** recv/recvInto/iprobe write [source, tag, count] here */
  setStatusArray(a: Int32Array): void;
  initThread(required: number): number;
  isInitialized(): boolean;
  isFinalized(): boolean;
  finalize(): void;
  abort(code: number): never;
  processorName(): string;
  libraryVersion(): string;
  version(): { major: number; minor: number };
  libraryPath(): string;
  wtime(): number;
  threadLevel(): number;
  setWaitPolicy(p: number): void;
  commRank(h: number): number;
  commSize(h: number): number;
  commDup(h: number): number;
  send(h: number, buf: Uint8Array, dest: number, tag: number): void;
  recv(h: number, source: number, tag: number): Buffer;
  recvInto(h: number, buf: Uint8Array, source: number, tag: number): void;
  iprobe(h: number, source: number, tag: number): boolean;
  barrier(h: number): void;
  bcast(h: number, buf: Uint8Array | undefined, root: number): Buffer;
  /** data is null for a message of 2 GiB or more (drained by the receive thread, refused) */
  startReceiver(onMessage: (h: number, source: number, tag: number, data: Buffer | null) => void): void;
  refReceiver(on: boolean): void;
  watch(h: number): void;
  enableHeartbeat(h: number, requestTag: number, replyTag: number): void;
  setHeartbeatPayload(h: number, payload: Uint8Array): void;
  ANY_SOURCE: number;
  ANY_TAG: number;
  /** built with MPI-3's matched probe (MPI_Mprobe/MPI_Mrecv); false: MPI-2.1's serialised MPI_Iprobe/MPI_Recv */
  MATCHED_PROBE: boolean;
}

const POLICIES: Record<WaitPolicy, number> = { spin: 0, yield: 1, adaptive: 2 };

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** Where the loader looks, in order. */
export function candidatePaths(opts: LoadOptions = {}): string[] {
  const out: string[] = [];
  if (opts.path) out.push(resolve(opts.path));
  const prefix = opts.prefix ?? process.env.MPISTACK_PREFIX;
  if (prefix) out.push(resolve(prefix, 'lib', 'mpistack', 'mpi.node'));
  // local builds: from dist/native/index.js and from native/index.ts's own folder
  for (const dir of [resolve(here, '..', '..', 'native', 'build', 'Release'), resolve(here, 'build', 'Release')]) {
    const names = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.node')).sort((a, b) => (a === 'mpi.node' ? -1 : b === 'mpi.node' ? 1 : a.localeCompare(b))) : [];
    if (names.length === 0) out.push(join(dir, 'mpi.node'));
    for (const n of names) out.push(join(dir, n));
  }
  return [...new Set(out)];
}

let loaded: { path: string; binding: Binding } | undefined;

/**
 * Load the binding: explicit path, then the stack prefix's copy
 * (<prefix>/lib/mpistack/mpi.node), then the local build. MPI is per process,
 * so a second call returns the binding already loaded.
 */
export function loadBinding(opts: LoadOptions = {}): MPIBinding & BindingExtras {
  if (loaded) return loaded.binding;
  const tried: { path: string; reason: string }[] = [];
  for (const path of candidatePaths(opts)) {
    if (!existsSync(path)) { tried.push({ path, reason: 'no such file' }); continue; }
    try {
      const native = require(path) as Native;
      if (typeof native.initThread !== 'function') { tried.push({ path, reason: 'not the mpistack MPI binding' }); continue; }
      loaded = { path, binding: new Binding(native, path) };
      return loaded.binding;
    } catch (e) {
      tried.push({ path, reason: (e as Error).message.split('\n')[0] });
    }
  }
  throw new BindingLoadError(tried);
}

/** Beyond the api.ts contract. */
export interface BindingExtras {
  /** the .node file that was loaded */
  readonly bindingPath: string;
  /** the thread level provided by initThread, or -1 before it */
  threadLevel(): number;
  /** the wait policy in force */
  waitPolicy(): WaitPolicy;
  /**
   * How messages are received: 'matched-probe' (MPI-3 MPI_Mprobe/MPI_Mrecv) or
   * 'serialised-probe' (MPI-2.1, e.g. Open MPI 1.6: MPI_Iprobe + MPI_Recv under one lock).
   */
  readonly receiveMode: 'matched-probe' | 'serialised-probe';
}

interface Pending { source: number; tag: number; resolve(m: Message): void; reject(e: Error): void }

const matches = (wantSource: number, wantTag: number, m: { source: number; tag: number }) =>
  (wantSource === ANY_SOURCE || wantSource === m.source) && (wantTag === ANY_TAG || wantTag === m.tag);

function checkInt(name: string, v: unknown, min = -Infinity): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 0x7fffffff) throw new TypeError(`${name} must be an integer${min > -Infinity ? ` >= ${min}` : ''}, got ${String(v)}`);
  return v;
}
function checkBytes(name: string, v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array or Buffer`);
  if (v.byteLength > 0x7fffffff) throw new RangeError(`${name} of ${v.byteLength} bytes is larger than 2147483647 (2 GiB - 1): an MPI count is an int; send it in pieces`);
  return v;
}

/** A message the receive thread delivered, or one it refused (2 GiB or more). */
type Arrival = Message | { source: number; tag: number; error: MessageTooLargeError };

class Binding implements MPIBinding, BindingExtras {
  private world?: Comm;
  private receiverStarted = false;
  private readonly pending = new Map<number, Pending[]>();
  private readonly queued = new Map<number, Arrival[]>();
  private npending = 0;
  private policy: WaitPolicy = 'adaptive';
  private exitHooked = false;
  private toSrc: (s: number) => number;
  private toTag: (t: number) => number;

  readonly status = new Int32Array(3);
  readonly receiveMode: 'matched-probe' | 'serialised-probe';

  constructor(readonly native: Native, readonly bindingPath: string) {
    native.setErrorClass(MPIError);
    native.setStatusArray(this.status);
    this.receiveMode = native.MATCHED_PROBE === false ? 'serialised-probe' : 'matched-probe';
    this.toSrc = (s) => (s === ANY_SOURCE ? native.ANY_SOURCE : s);
    this.toTag = (t) => (t === ANY_TAG ? native.ANY_TAG : t);
    const envPolicy = process.env.MPISTACK_WAIT_POLICY;
    if (envPolicy) this.setWaitPolicy(envPolicy as WaitPolicy);
  }

  initThread(required: ThreadLevel): ThreadLevel {
    if (![0, 1, 2, 3].includes(required)) throw new TypeError(`initThread: required must be a ThreadLevel (0..3), got ${String(required)}`);
    const provided = this.native.initThread(required) as ThreadLevel;
    this.hookExit();
    return provided;
  }

  // Finalize on normal exit and on process.exit(), after every other 'exit'
  // listener (the runtime sends its STOP messages from one): process.exit()
  // goes through process.reallyExit, which is wrapped here; a normal exit
  // ends in the addon's env cleanup hook. A rank dying of an uncaught
  // exception or unhandled rejection aborts the job instead, so mpirun ends it
  // promptly rather than the other ranks waiting forever.
  private hookExit(): void {
    if (this.exitHooked) return;
    this.exitHooked = true;
    const live = () => this.native.isInitialized() && !this.native.isFinalized();
    // Node emits 'exit' before it prints an uncaught error: keep the error and
    // print it ourselves, or MPI_Abort would swallow it.
    let fatal: { err: unknown; origin: string } | undefined;
    process.on('uncaughtExceptionMonitor', (err, origin) => { fatal = { err, origin }; });
    process.on('exit', (code) => {
      if (!fatal || code === 0 || !live()) return; // a handled exception (uncaughtException listener) does not count
      const rank = this.world?.rank ?? this.native.commRank(0);
      const what = `${fatal.origin === 'unhandledRejection' ? 'unhandled rejection' : 'uncaught exception'}: ${inspect(fatal.err)}`;
      try { writeSync(2, `mpistack: rank ${rank} is exiting with code ${code} (${what}); aborting the MPI job\n`); } catch { /* stderr gone */ }
      this.native.abort(code || 1);
    });
    const proc = process as unknown as { reallyExit(code?: number): never };
    const reallyExit = proc.reallyExit;
    proc.reallyExit = (code?: number): never => {
      if (live()) { try { this.finalize(); } catch { /* exiting anyway */ } }
      return reallyExit.call(process, code);
    };
  }

  isInitialized(): boolean { return this.native.isInitialized(); }
  isFinalized(): boolean { return this.native.isFinalized(); }

  finalize(): void {
    if (!this.native.isInitialized() || this.native.isFinalized()) return; // never twice
    this.native.finalize(); // joins the receive thread, then MPI_Finalize
    const reason = 'MPI was finalized while this recvAsync was pending';
    for (const [, list] of this.pending) for (const p of list) p.reject(new ReceiveCancelledError(`${reason} (source ${p.source}, tag ${p.tag})`));
    this.pending.clear();
    this.npending = 0;
  }

  abort(code: number): never {
    return this.native.abort(checkInt('abort code', code));
  }

  get COMM_WORLD(): Communicator {
    if (!this.world) {
      if (!this.native.isInitialized()) throw new Error('COMM_WORLD: MPI is not initialized (call initThread first)');
      this.world = new Comm(this, 0);
    }
    return this.world;
  }

  processorName(): string { return this.native.processorName(); }
  libraryVersion(): string { return this.native.libraryVersion(); }
  version(): { major: number; minor: number } { return this.native.version(); }
  libraryPath(): string { return this.native.libraryPath(); }
  wtime(): number { return this.native.wtime(); }
  threadLevel(): number { return this.native.threadLevel(); }
  waitPolicy(): WaitPolicy { return this.policy; }

  setWaitPolicy(policy: WaitPolicy): void {
    if (!(policy in POLICIES)) throw new TypeError(`wait policy must be one of ${Object.keys(POLICIES).join(', ')}, got ${String(policy)}`);
    this.policy = policy;
    this.native.setWaitPolicy(POLICIES[policy]);
  }

  // ---- the asynchronous side ----

  isWatched(h: number): boolean { return this.pending.has(h); }

  watch(h: number, what: string): void {
    if (this.native.isFinalized()) throw new ReceiveCancelledError(`${what}: MPI is already finalized`);
    if (this.native.threadLevel() !== ThreadLevel.MULTIPLE) throw new Error(`${what} needs MPI_THREAD_MULTIPLE (initThread(ThreadLevel.MULTIPLE)); provided level is ${this.native.threadLevel()}`);
    if (!this.receiverStarted) {
      this.native.startReceiver((h2, source, tag, data) => this.deliver(h2, data === null
        ? { source, tag, error: new MessageTooLargeError(source, tag) }
        : { source, tag, count: data.length, data }));
      this.receiverStarted = true;
    }
    if (!this.pending.has(h)) {
      this.pending.set(h, []);
      this.queued.set(h, []);
      this.native.watch(h);
    }
  }

  private deliver(h: number, m: Arrival): void {
    const list = this.pending.get(h);
    if (!list) return; // finalized meanwhile
    const i = list.findIndex((p) => matches(p.source, p.tag, m));
    if (i < 0) { this.queued.get(h)!.push(m); return; }
    const [p] = list.splice(i, 1);
    this.settled();
    if ('error' in m) p.reject(m.error); else p.resolve(m);
  }

  private settled(): void {
    this.npending--;
    if (this.npending === 0) this.native.refReceiver(false);
  }

  recvAsync(h: number, source: number, tag: number): Promise<Message> {
    this.watch(h, 'recvAsync');
    const q = this.queued.get(h)!;
    const i = q.findIndex((m) => matches(source, tag, m));
    if (i >= 0) {
      const m = q.splice(i, 1)[0]!;
      return 'error' in m ? Promise.reject(m.error) : Promise.resolve(m);
    }
    return new Promise<Message>((resolvePromise, reject) => {
      this.pending.get(h)!.push({ source, tag, resolve: resolvePromise, reject });
      if (this.npending++ === 0) this.native.refReceiver(true);
    });
  }

  src(s: number | undefined): number { return this.toSrc(s === undefined ? ANY_SOURCE : checkInt('source', s, -1)); }
  tg(t: number | undefined): number { return this.toTag(t === undefined ? ANY_TAG : checkInt('tag', t, -1)); }
}

class Comm implements Communicator {
  readonly rank: number;
  readonly size: number;
  constructor(private readonly b: Binding, readonly handle: number) {
    this.rank = b.native.commRank(handle);
    this.size = b.native.commSize(handle);
  }

  dup(): Communicator { return new Comm(this.b, this.b.native.commDup(this.handle)); }

  send(buffer: Uint8Array, dest: number, tag: number): void {
    this.b.native.send(this.handle, checkBytes('send buffer', buffer), checkInt('dest', dest), checkInt('tag', tag, 0));
  }

  private syncOnly(what: string): void {
    if (this.b.isWatched(this.handle)) throw new Error(`${what}: this communicator is served by the receive thread (recvAsync/heartbeat); receive with recvAsync, or dup() a communicator for synchronous receives`);
  }

  recv(source?: number, tag?: number): Message {
    this.syncOnly('recv');
    const data = this.b.native.recv(this.handle, this.b.src(source), this.b.tg(tag));
    const st = this.b.status;
    return { source: st[0], tag: st[1], count: st[2], data };
  }

  recvInto(buffer: Uint8Array, source?: number, tag?: number): Status {
    this.syncOnly('recvInto');
    this.b.native.recvInto(this.handle, checkBytes('receive buffer', buffer), this.b.src(source), this.b.tg(tag));
    const st = this.b.status;
    return { source: st[0], tag: st[1], count: st[2] };
  }

  iprobe(source?: number, tag?: number): Status | undefined {
    this.syncOnly('iprobe');
    if (!this.b.native.iprobe(this.handle, this.b.src(source), this.b.tg(tag))) return undefined;
    const st = this.b.status;
    return { source: st[0], tag: st[1], count: st[2] };
  }

  recvAsync(source?: number, tag?: number): Promise<Message> {
    try {
      return this.b.recvAsync(this.handle, this.b.src(source) === this.b.native.ANY_SOURCE ? ANY_SOURCE : source!, this.b.tg(tag) === this.b.native.ANY_TAG ? ANY_TAG : tag!);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  enableHeartbeat(requestTag: number, replyTag: number): void {
    this.b.watch(this.handle, 'enableHeartbeat');
    this.b.native.enableHeartbeat(this.handle, checkInt('requestTag', requestTag, 0), checkInt('replyTag', replyTag, 0));
  }

  setHeartbeatPayload(payload: Uint8Array): void {
    this.b.native.setHeartbeatPayload(this.handle, checkBytes('heartbeat payload', payload));
  }

  barrier(): void { this.b.native.barrier(this.handle); }

  bcast(buffer: Uint8Array | undefined, root: number): Buffer {
    checkInt('root', root, 0);
    // the size is checked in C++ after the root's length is broadcast, so every rank refuses a
    // buffer of 2 GiB or more together instead of the others waiting for a root that gave up
    if (root === this.rank && !(buffer instanceof Uint8Array)) throw new TypeError('bcast buffer (at root) must be a Uint8Array or Buffer');
    return this.b.native.bcast(this.handle, buffer, root);
  }
}
