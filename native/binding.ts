// The typed wrapper over the thin C++ addon: argument checks, defaults and
// messages, and the matching of asynchronously received messages to
// promises. Implements the contract of api.ts on top of its NativeAddon.
import {
  ANY_SOURCE,
  ANY_TAG,
  ThreadLevel,
  type Communicator,
  type LoadedBinding,
  type Message,
  type NativeAddon,
  type RefusedMessage,
  type Status,
  type WaitPolicy,
} from './api.js';
import { MessageTooLargeError, MPIError, ReceiveCancelledError } from './errors.js';
import { hookExit } from './exit.js';

/**
 * UCX settings this process starts MPI with unless the environment names
 * them. UCX's memory-hook library (libucm, loaded with Open MPI's UCX
 * components inside MPI_Init, whichever PML is chosen) patches mmap, munmap,
 * brk, sbrk, madvise and (relocations) malloc in a process whose V8 heap and
 * background threads are already running: measured here with the transport
 * probe, 6 SIGSEGVs inside V8's allocator in about 270 jobs with the hooks,
 * 0 in 180 without (UCX_MEM_EVENTS=no). What they serve is UCX's registration
 * cache for RDMA transfers of large user buffers; the runtime's messages are
 * small and copied, so it goes without (UCX then registers per transfer). Set
 * any of these in the environment to override.
 */
const UCX_DEFAULTS: Readonly<Record<string, string>> = { UCX_MEM_EVENTS: 'no', UCX_MEM_MALLOC_HOOKS: 'no', UCX_MEM_MALLOC_RELOC: 'no' };

const POLICIES: Record<WaitPolicy, number> = { spin: 0, yield: 1, adaptive: 2 };

interface Pending {
  source: number;
  tag: number;
  resolve(m: Message): void;
  reject(e: Error): void;
}

const matches = (wantSource: number, wantTag: number, m: { source: number; tag: number }) =>
  (wantSource === ANY_SOURCE || wantSource === m.source) && (wantTag === ANY_TAG || wantTag === m.tag);

function checkInt(name: string, v: unknown, min = -Infinity): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 0x7fffffff) {
    throw new TypeError(`${name} must be an integer${min > -Infinity ? ` >= ${min}` : ''}, got ${String(v)}`);
  }
  return v;
}

function checkBytes(name: string, v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array or Buffer`);
  if (v.byteLength > 0x7fffffff)
    throw new RangeError(`${name} of ${v.byteLength} bytes is larger than 2147483647 (2 GiB - 1): an MPI count is an int; send it in pieces`);
  return v;
}

/** A message the receive thread delivered, or one it refused (2 GiB or more). */
type Arrival = Message | RefusedMessage;

export class Binding implements LoadedBinding {
  private world?: Comm;
  private receiverStarted = false;
  private readonly pending = new Map<number, Pending[]>();
  private readonly queued = new Map<number, Arrival[]>();
  private npending = 0;
  private readonly listeners = new Map<number, (a: Arrival) => void>();
  /** the event loop is kept alive while this is above 0 (pending recvAsync and listeners) */
  private refs = 0;
  /** a pump (taking messages on this thread) is running: a poll() asked for meanwhile runs after the current message */
  private pumping = false;
  private deferredPoll: { h: number; ns: number } | undefined;
  private policy: WaitPolicy = 'adaptive';
  private exitHooked = false;
  private readonly toSrc: (s: number) => number;
  private readonly toTag: (t: number) => number;

  /** [source, tag, count, handle] of the last receive (written by C++) */
  readonly status = new Int32Array(4);
  readonly receiveMode: 'matched-probe' | 'serialised-probe';

  constructor(
    readonly native: NativeAddon,
    readonly bindingPath: string,
  ) {
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
    for (const [k, v] of Object.entries(UCX_DEFAULTS)) if (process.env[k] === undefined) process.env[k] = v;
    const provided = this.native.initThread(required) as ThreadLevel;
    if (!this.exitHooked) {
      this.exitHooked = true;
      hookExit({
        live: () => this.native.isInitialized() && !this.native.isFinalized(),
        rank: () => this.world?.rank ?? this.native.commRank(0),
        finalize: () => this.finalize(),
        abort: (code) => this.native.abort(code),
      });
    }
    return provided;
  }

  isInitialized(): boolean {
    return this.native.isInitialized();
  }
  isFinalized(): boolean {
    return this.native.isFinalized();
  }

  finalize(): void {
    if (!this.native.isInitialized() || this.native.isFinalized()) return; // never twice
    this.native.finalize(); // joins the receive thread, then MPI_Finalize
    const reason = 'MPI was finalized while this recvAsync was pending';
    for (const [, list] of this.pending) for (const p of list) p.reject(new ReceiveCancelledError(`${reason} (source ${p.source}, tag ${p.tag})`));
    this.pending.clear();
    this.listeners.clear();
    this.npending = 0;
    this.refs = 0;
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

  processorName(): string {
    return this.native.processorName();
  }
  libraryVersion(): string {
    return this.native.libraryVersion();
  }
  version(): { major: number; minor: number } {
    return this.native.version();
  }
  libraryPath(): string {
    return this.native.libraryPath();
  }
  wtime(): number {
    return this.native.wtime();
  }
  threadLevel(): number {
    return this.native.threadLevel();
  }
  waitPolicy(): WaitPolicy {
    return this.policy;
  }

  setWaitPolicy(policy: WaitPolicy): void {
    if (!(policy in POLICIES)) throw new TypeError(`wait policy must be one of ${Object.keys(POLICIES).join(', ')}, got ${String(policy)}`);
    this.policy = policy;
    this.native.setWaitPolicy(POLICIES[policy]);
  }

  // ---- the asynchronous side ----

  isWatched(h: number): boolean {
    return this.pending.has(h);
  }

  watch(h: number, what: string): void {
    if (this.native.isFinalized()) throw new ReceiveCancelledError(`${what}: MPI is already finalized`);
    if (this.native.threadLevel() !== ThreadLevel.MULTIPLE) {
      throw new Error(`${what} needs MPI_THREAD_MULTIPLE (initThread(ThreadLevel.MULTIPLE)); provided level is ${this.native.threadLevel()}`);
    }
    if (!this.receiverStarted) {
      this.native.startReceiver(() => {
        this.pump(-1, 0);
      });
      this.receiverStarted = true;
    }
    if (!this.pending.has(h)) {
      this.pending.set(h, []);
      this.queued.set(h, []);
      this.native.watch(h);
    }
  }

  /**
   * Take messages on this thread and hand each to its listener or pending
   * recvAsync, in arrival order: the receive thread's inbox, and (h >= 0)
   * MPI itself on h, for up to `ns` until the first message; after it, only
   * what the inbox already holds (another probe would mostly find nothing,
   * at ~0.5 us) unless a listener asks for another poll. A listener that
   * throws does not stop the others: the first error is thrown once
   * everything taken is delivered.
   */
  private pump(h: number, ns: number): number {
    this.pumping = true;
    let n = 0;
    let failure: { error: unknown } | undefined;
    try {
      for (;;) {
        const data = this.native.take(h, ns);
        if (data === undefined) {
          const next = this.deferredPoll;
          if (!next) break;
          this.deferredPoll = undefined;
          h = next.h;
          ns = next.ns;
          continue;
        }
        n++;
        h = -1;
        ns = 0;
        const st = this.status;
        const source = st[0];
        const tag = st[1];
        const handle = st[3];
        const a: Arrival = data === null ? { source, tag, error: new MessageTooLargeError(source, tag) } : { source, tag, count: st[2], data };
        try {
          this.deliver(handle, a);
        } catch (error) {
          failure ??= { error };
        }
      }
    } finally {
      this.pumping = false;
      this.deferredPoll = undefined;
    }
    if (failure) throw failure.error;
    return n;
  }

  private deliver(h: number, m: Arrival): void {
    const listener = this.listeners.get(h);
    if (listener) {
      listener(m);
      return;
    }
    const list = this.pending.get(h);
    if (!list) return; // finalized meanwhile
    const i = list.findIndex((p) => matches(p.source, p.tag, m));
    if (i < 0) {
      this.queued.get(h)!.push(m);
      return;
    }
    const [p] = list.splice(i, 1);
    this.npending--;
    this.ref(-1);
    if ('error' in m) p.reject(m.error);
    else p.resolve(m);
  }

  private ref(delta: number): void {
    const before = this.refs;
    this.refs += delta;
    if ((before === 0) !== (this.refs === 0)) this.native.refReceiver(this.refs > 0);
  }

  recvAsync(h: number, source: number, tag: number): Promise<Message> {
    this.watch(h, 'recvAsync');
    const q = this.queued.get(h)!;
    const i = q.findIndex((m) => matches(source, tag, m));
    if (i >= 0) {
      const m = q.splice(i, 1)[0];
      return 'error' in m ? Promise.reject(m.error) : Promise.resolve(m);
    }
    return new Promise<Message>((resolvePromise, reject) => {
      this.pending.get(h)!.push({ source, tag, resolve: resolvePromise, reject });
      this.npending++;
      this.ref(1);
    });
  }

  listen(h: number, handler: (m: Arrival) => void): () => void {
    this.watch(h, 'listen');
    if (this.listeners.has(h)) throw new Error('listen: this communicator already has a listener');
    this.listeners.set(h, handler);
    this.ref(1);
    // what arrived before anyone listened goes first, before anything newer (a microtask runs before the next pump)
    const early = this.queued.get(h)!.splice(0);
    if (early.length > 0) {
      queueMicrotask(() => {
        this.pumping = true;
        try {
          for (const m of early) if (this.listeners.get(h) === handler) handler(m);
        } finally {
          this.pumping = false;
        }
      });
    }
    let on = true;
    return () => {
      if (!on) return;
      on = false;
      if (this.listeners.get(h) !== handler) return;
      this.listeners.delete(h);
      this.ref(-1);
    };
  }

  poll(h: number, maxMicros: number): number {
    this.watch(h, 'poll');
    const ns = Math.max(0, maxMicros) * 1000;
    if (this.pumping) {
      if (!this.deferredPoll || ns > this.deferredPoll.ns) this.deferredPoll = { h, ns };
      return 0;
    }
    return this.pump(h, ns);
  }

  src(s: number | undefined): number {
    return this.toSrc(s === undefined ? ANY_SOURCE : checkInt('source', s, -1));
  }
  tg(t: number | undefined): number {
    return this.toTag(t === undefined ? ANY_TAG : checkInt('tag', t, -1));
  }
}

class Comm implements Communicator {
  readonly rank: number;
  readonly size: number;
  constructor(
    private readonly b: Binding,
    readonly handle: number,
  ) {
    this.rank = b.native.commRank(handle);
    this.size = b.native.commSize(handle);
  }

  dup(): Communicator {
    return new Comm(this.b, this.b.native.commDup(this.handle));
  }

  send(buffer: Uint8Array, dest: number, tag: number): void {
    this.b.native.send(this.handle, checkBytes('send buffer', buffer), checkInt('dest', dest), checkInt('tag', tag, 0));
  }

  isend(buffer: Uint8Array, dest: number, tag: number): void {
    this.b.native.isend(this.handle, checkBytes('send buffer', buffer), checkInt('dest', dest), checkInt('tag', tag, 0));
  }

  private syncOnly(what: string): void {
    if (this.b.isWatched(this.handle)) {
      throw new Error(
        `${what}: this communicator is served by the receive thread (recvAsync/listen/heartbeat); ` +
          'receive with recvAsync, listen or poll, or dup() a communicator for synchronous receives',
      );
    }
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
      const s = this.b.src(source) === this.b.native.ANY_SOURCE ? ANY_SOURCE : source!;
      const t = this.b.tg(tag) === this.b.native.ANY_TAG ? ANY_TAG : tag!;
      return this.b.recvAsync(this.handle, s, t);
    } catch (e) {
      // what throws above (the argument checks, watch(), the addon) throws Errors
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  listen(handler: (m: Message | RefusedMessage) => void): () => void {
    if (typeof handler !== 'function') throw new TypeError('listen: handler must be a function');
    return this.b.listen(this.handle, handler);
  }

  poll(maxMicros: number): number {
    if (typeof maxMicros !== 'number' || !(maxMicros >= 0) || !Number.isFinite(maxMicros)) {
      throw new TypeError(`poll: maxMicros must be a finite number >= 0, got ${String(maxMicros)}`);
    }
    return this.b.poll(this.handle, maxMicros);
  }

  enableHeartbeat(requestTag: number, replyTag: number): void {
    this.b.watch(this.handle, 'enableHeartbeat');
    this.b.native.enableHeartbeat(this.handle, checkInt('requestTag', requestTag, 0), checkInt('replyTag', replyTag, 0));
  }

  setHeartbeatPayload(payload: Uint8Array): void {
    this.b.native.setHeartbeatPayload(this.handle, checkBytes('heartbeat payload', payload));
  }

  barrier(): void {
    this.b.native.barrier(this.handle);
  }

  bcast(buffer: Uint8Array | undefined, root: number): Buffer {
    checkInt('root', root, 0);
    // the size is checked in C++ after the root's length is broadcast, so every rank refuses a
    // buffer of 2 GiB or more together instead of the others waiting for a root that gave up
    if (root === this.rank && !(buffer instanceof Uint8Array)) throw new TypeError('bcast buffer (at root) must be a Uint8Array or Buffer');
    return this.b.native.bcast(this.handle, buffer, root);
  }
}
