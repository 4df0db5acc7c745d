// Every error the runtime raises, in one table under one root,
// MPIRuntimeError. Callers test `instanceof` (or `err.name`, which is how an
// error travels in a traceback), never the message text, and read what they
// need from the fields each class carries (the request id, the server, the
// ranks that did not report...). Arguments of the wrong type or out of range
// stay TypeError / RangeError, as in Node's own API.
//
// One name, one meaning: the binding's MessageTooLargeError (native/api.ts: a
// received message of 2 GiB or more) is a different class from the one here
// (a request or response too large to send); both say the same thing about
// MPI's int count, on their own side.

/** The root: every error the runtime raises. */
export class MPIRuntimeError extends Error {
  override name = 'MPIRuntimeError';
}

/** Where a server is: its rank, host and pid (as its status reported them). */
export interface ServerRef {
  rank: number;
  host: string;
  pid: number;
}

/** startServices() was asked for but MPI does not provide MPI_THREAD_MULTIPLE. */
export class ThreadSupportError extends MPIRuntimeError {
  override name = 'ThreadSupportError';
  constructor(
    message: string,
    readonly library: string,
    readonly provided: number,
    readonly providedName: string,
  ) {
    super(message);
  }
}

/** A method was used before startServices() resolved. */
export class ServicesNotStartedError extends MPIRuntimeError {
  override name = 'ServicesNotStartedError';
}

/** A method was used after stopServices(), or a wait was cut short by it. `requestId`: the request the wait was for. */
export class ServicesStoppedError extends MPIRuntimeError {
  override name = 'ServicesStoppedError';
  constructor(
    message: string,
    readonly reason: string,
    readonly requestId?: number,
  ) {
    super(message);
  }
}

/** A rank is used in a role it cannot have: the client off rank 0, a server on rank 0, a second server in one process. */
export class RoleError extends MPIRuntimeError {
  override name = 'RoleError';
  constructor(
    message: string,
    readonly rank: number,
  ) {
    super(message);
  }
}

/** targetServer names a rank that is not a server. */
export class UnknownServerError extends MPIRuntimeError {
  override name = 'UnknownServerError';
  constructor(
    message: string,
    readonly target: unknown,
    readonly servers: readonly number[],
  ) {
    super(message);
  }
}

/** targetServer names a server that stopped answering heartbeats (or every server did). `server` undefined: all of them. */
export class ServerTimeoutError extends MPIRuntimeError {
  override name = 'ServerTimeoutError';
  constructor(
    message: string,
    readonly server: ServerRef | undefined,
  ) {
    super(message);
  }
}

/** The command is not valid JavaScript (checked on the client, before sending); `cause` is the SyntaxError. */
export class CommandSyntaxError extends MPIRuntimeError {
  override name = 'CommandSyntaxError';
  constructor(
    message: string,
    readonly command: string,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A sent request its server no longer holds (its heartbeat lists it neither
 * as running nor as queued) and whose response did not come within
 * lostGraceMs. Carried in the request's traceback (status 'lost').
 */
export class RequestLostError extends MPIRuntimeError {
  override name = 'RequestLostError';
  constructor(
    message: string,
    readonly requestId: number,
    readonly server: ServerRef,
  ) {
    super(message);
  }
}

/** A request (command and parameters) larger than one message carries (2 GiB - 1 on MPI). */
export class MessageTooLargeError extends MPIRuntimeError {
  override name = 'MessageTooLargeError';
  constructor(
    message: string,
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(message);
  }
}

/** A wait with a time limit ran out; `pending` are the request ids still unanswered. */
export class WaitTimeoutError extends MPIRuntimeError {
  override name = 'WaitTimeoutError';
  constructor(
    message: string,
    readonly waitedMs: number,
    readonly pending: readonly number[],
  ) {
    super(message);
  }
}

/** The servers did not all report at start-up (`missing`), or some could not apply the settings (`failed`). */
export class StartupError extends MPIRuntimeError {
  override name = 'StartupError';
  constructor(
    message: string,
    readonly missing: readonly number[] = [],
    readonly failed: ReadonlyArray<{ rank: number; message: string }> = [],
  ) {
    super(message);
  }
}

/** A command's Promise did not settle within its timeoutMs (travels in the request's traceback). */
export class CommandTimeoutError extends MPIRuntimeError {
  override name = 'CommandTimeoutError';
  constructor(
    message: string,
    readonly timeoutMs: number,
  ) {
    super(message);
  }
}

/** A map() chunk failed: its request id, server and the server's traceback. */
export class TaskFailedError extends MPIRuntimeError {
  override name = 'TaskFailedError';
  constructor(
    message: string,
    readonly requestId: number,
    readonly server: number | undefined,
    readonly traceback: string | null,
  ) {
    super(message);
  }
}

/**
 * A finished request the client no longer keeps (see the retention rule in
 * requests.ts): its response was handed out and `retainResponses` newer
 * ones after it, or nobody asked for it while 10x as many finished.
 */
export class ResponseExpiredError extends MPIRuntimeError {
  override name = 'ResponseExpiredError';
  constructor(
    message: string,
    readonly requestId: number,
  ) {
    super(message);
  }
}

/** Bytes that are not a message of the protocol. `requestId`: the request a readable REQUEST header named. */
export class ProtocolError extends MPIRuntimeError {
  override name = 'ProtocolError';
  readonly requestId: number | undefined;
  constructor(message: string, options?: { cause?: unknown; requestId?: number }) {
    super(message, options);
    this.requestId = options?.requestId;
  }
}

/** A value that neither the protocol's codecs, structured clone nor util.inspect can turn into bytes. */
export class ValueEncodingError extends MPIRuntimeError {
  override name = 'ValueEncodingError';
}

/** The MPI binding module could not be loaded (environment.ts); `module` is what was imported. */
export class BindingModuleError extends MPIRuntimeError {
  override name = 'BindingModuleError';
  constructor(
    message: string,
    readonly module: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** mpistack-run was called with arguments it does not understand; the launcher exits with `exitCode` (2). */
export class LaunchUsageError extends MPIRuntimeError {
  override name = 'LaunchUsageError';
  readonly exitCode = 2;
}
