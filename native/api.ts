// The typed contract of the Node MPI binding (issue 3). The C++ addon in
// native/src implements it thinly; native/index.ts loads it and wraps it.
// The runtime (runtime/) codes against these types only.

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

/**
 * A message of 2 GiB or more arrived for a receive: its byte count does not
 * fit MPI's int, so it was received and discarded, never truncated. Sends and
 * bcasts of such buffers throw RangeError before anything is sent.
 */
export class MessageTooLargeError extends RangeError {
  override name = 'MessageTooLargeError';
  constructor(readonly source: number, readonly tag: number) {
    super(`a message from rank ${source} with tag ${tag} is 2 GiB or larger (its byte count does not fit MPI's int): it was received and discarded; send it in pieces`);
  }
}

export interface Status {
  source: number;
  tag: number;
  /** byte count of the message; iprobe says -1 for a message of 2 GiB or more (which a receive refuses) */
  count: number;
}

export interface Message extends Status {
  data: Buffer;
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
