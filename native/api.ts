// The typed contract of the Node MPI binding (issue 3), the single source of
// its interface: what callers get (MPIBinding, Communicator, LoadedBinding),
// the errors they may meet, and the raw surface the C++ addon exports
// (NativeAddon, implemented by native/src/*.cc). binding.ts implements the
// first on top of the last; loader.ts finds the .node file. The runtime
// (runtime/) codes against these types only, and loads the binding through
// the loader.
import type { MessageTooLargeError } from './errors.js';
export { BindingLoadError, MessageTooLargeError, MPIError, ReceiveCancelledError } from './errors.js';

/** MPI thread support levels, values as in the MPI standard order. */
export const ThreadLevel = {
  SINGLE: 0,
  FUNNELED: 1,
  SERIALIZED: 2,
  MULTIPLE: 3,
} as const;
export type ThreadLevel = (typeof ThreadLevel)[keyof typeof ThreadLevel];

export const ANY_SOURCE = -1;
export const ANY_TAG = -1;

/** How the native receive thread waits for a message. */
export type WaitPolicy = 'spin' | 'yield' | 'adaptive';

export interface Status {
  source: number;
  tag: number;
  /** byte count of the message; iprobe says -1 for a message of 2 GiB or more (which a receive refuses) */
  count: number;
}

export interface Message extends Status {
  data: Buffer;
}

/** A message of 2 GiB or more, received and discarded (listen() gets these instead of throwing). */
export interface RefusedMessage {
  source: number;
  tag: number;
  error: MessageTooLargeError;
}

export interface Communicator {
  readonly rank: number;
  readonly size: number;
  /** Duplicate the communicator so that channels do not mix. */
  dup(): Communicator;
  /**
   * Blocking send of the whole buffer (MPI_Send on bytes). An MPI count is an
   * int: a buffer of 2 GiB or more throws RangeError, nothing is sent.
   */
  send(buffer: Uint8Array, dest: number, tag: number): void;
  /**
   * Send without waiting for the receiver: the bytes are copied and MPI sends
   * them in the background (MPI_Isend), in order with this process's other
   * sends to that rank. A buffer over 64 KiB is not copied: it goes by send().
   * Open MPI's MPI_Send over shared memory waits until the receiver polls MPI
   * for any message over 256 bytes (and for small ones once the peer's fast
   * box is full), so a rank busy computing stalls its senders; this does not.
   * A failure MPI reports after isend() returned is thrown by the next
   * isend(), naming the earlier send. Finalize waits up to 5 s for sends still
   * in flight.
   */
  isend(buffer: Uint8Array, dest: number, tag: number): void;
  /**
   * Blocking receive by matched probe (MPI_Mprobe/MPI_Mrecv; on MPI-2.1,
   * MPI_Iprobe/MPI_Recv serialised with the receive thread). A message of
   * 2 GiB or more (from a sender using MPI datatypes) is received and
   * discarded, and the receive throws RangeError (recvAsync rejects with
   * MessageTooLargeError): never truncated.
   */
  recv(source?: number, tag?: number): Message;
  /** Blocking receive into a caller buffer; returns the status (count = bytes written). */
  recvInto(buffer: Uint8Array, source?: number, tag?: number): Status;
  /** Non-blocking probe: the status of a waiting message, or undefined. */
  iprobe(source?: number, tag?: number): Status | undefined;
  /** Receive on the dedicated native receive thread; the event loop stays free. */
  recvAsync(source?: number, tag?: number): Promise<Message>;
  /**
   * Every message arriving on this communicator (except heartbeat requests)
   * goes to `handler`, in arrival order, with no promise per message; one of
   * 2 GiB or more arrives as a RefusedMessage. One listener per communicator
   * (recvAsync then gets nothing on it); it keeps the event loop alive until
   * the returned function is called. Received on the receive thread, or on
   * the calling thread by poll().
   */
  listen(handler: (m: Message | RefusedMessage) => void): () => void;
  /**
   * Receive on the calling (JavaScript) thread for up to `maxMicros`, for a
   * message expected soon: what the receive thread already holds first, then
   * MPI_Improbe on this communicator until a message comes or the time is up,
   * then whatever else is already there. Each message goes to the listener
   * (or a pending recvAsync) before poll returns; returns how many. Called
   * from inside a listener, it runs after that listener returns (and returns
   * 0). Heartbeat requests met meanwhile are answered in C++, as on the
   * receive thread. Saves the hop from the receive thread into the event loop.
   */
  poll(maxMicros: number): number;
  /**
   * Native heartbeat: from now on the receive thread answers every message
   * arriving on this communicator with `requestTag` by sending the current
   * heartbeat payload back to the sender with `replyTag`, without waking JS,
   * so a rank busy in long JavaScript still answers (a SIGSTOPped one does not).
   */
  enableHeartbeat(requestTag: number, replyTag: number): void;
  /** The bytes the native heartbeat replies with (e.g. a busy flag and a request id). */
  setHeartbeatPayload(payload: Uint8Array): void;
  barrier(): void;
  /**
   * Broadcast: root's buffer content is returned on every rank (length taken
   * from root). A root buffer of 2 GiB or more throws RangeError on every rank.
   */
  bcast(buffer: Uint8Array | undefined, root: number): Buffer;
}

export interface MPIBinding {
  /** MPI_Init_thread; returns the provided level. */
  initThread(required: ThreadLevel): ThreadLevel;
  isInitialized(): boolean;
  isFinalized(): boolean;
  finalize(): void;
  abort(code: number): never;
  readonly COMM_WORLD: Communicator;
  processorName(): string;
  /** MPI_Get_library_version */
  libraryVersion(): string;
  /** MPI standard version, e.g. { major: 3, minor: 1 } */
  version(): { major: number; minor: number };
  /** Path of the libmpi the binding is linked against (found with dladdr). */
  libraryPath(): string;
  setWaitPolicy(policy: WaitPolicy): void;
  /** MPI_Wtime */
  wtime(): number;
}

/** What loadBinding() returns: the contract, plus facts about this binding. */
export interface LoadedBinding extends MPIBinding {
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

export interface LoadOptions {
  /** explicit .node file; tried first */
  path?: string;
  /** stack prefix holding lib/mpistack/mpi.node; default env MPISTACK_PREFIX */
  prefix?: string;
}

/**
 * The C++ addon's exports, function by function (native/src: addon.cc
 * registers them). Communicators are integer handles; arguments arrive
 * checked (binding.ts), C++ validates handles and calls MPI.
 */
export interface NativeAddon {
  setErrorClass(ctor: new (call: string, cls: number, msg: string) => Error): void;
  /** recv/recvInto/iprobe/take write [source, tag, count, handle] here (4 elements) */
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
  /** 0 spin, 1 yield, 2 adaptive */
  setWaitPolicy(p: number): void;
  commRank(h: number): number;
  commSize(h: number): number;
  commDup(h: number): number;
  send(h: number, buf: Uint8Array, dest: number, tag: number): void;
  isend(h: number, buf: Uint8Array, dest: number, tag: number): void;
  recv(h: number, source: number, tag: number): Buffer;
  recvInto(h: number, buf: Uint8Array, source: number, tag: number): void;
  iprobe(h: number, source: number, tag: number): boolean;
  barrier(h: number): void;
  bcast(h: number, buf: Uint8Array | undefined, root: number): Buffer;
  /** starts the receive thread; onWake() is called (coalesced) when its inbox has messages for take() */
  startReceiver(onWake: () => void): void;
  /**
   * The next received message: the inbox first, then (h >= 0) MPI_Improbe on
   * h for up to budgetNs (0: one probe). undefined: none; null: one of 2 GiB
   * or more, refused (count -1). Its status goes to the status array.
   */
  take(h: number, budgetNs: number): Buffer | null | undefined;
  refReceiver(on: boolean): void;
  watch(h: number): void;
  enableHeartbeat(h: number, requestTag: number, replyTag: number): void;
  setHeartbeatPayload(h: number, payload: Uint8Array): void;
  ANY_SOURCE: number;
  ANY_TAG: number;
  /** built with MPI-3's matched probe (MPI_Mprobe/MPI_Mrecv); false: MPI-2.1's serialised MPI_Iprobe/MPI_Recv */
  MATCHED_PROBE: boolean;
}
