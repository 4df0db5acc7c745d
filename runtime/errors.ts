// Errors the runtime raises on the client side, from one table. Callers test
// `err.name` or `instanceof`, never the message text.

export class MPIRuntimeError extends Error {
  override name = 'MPIRuntimeError';
}

/** startServices() was asked for but MPI does not provide MPI_THREAD_MULTIPLE. */
export class ThreadSupportError extends MPIRuntimeError {
  override name = 'ThreadSupportError';
}

/** A method was used before startServices() resolved. */
export class ServicesNotStartedError extends MPIRuntimeError {
  override name = 'ServicesNotStartedError';
}

/** A method was used after stopServices(), or a wait was cut short by it. */
export class ServicesStoppedError extends MPIRuntimeError {
  override name = 'ServicesStoppedError';
}

/** targetServer names a rank that is not a server. */
export class UnknownServerError extends MPIRuntimeError {
  override name = 'UnknownServerError';
}

/** targetServer names a server that stopped answering heartbeats. */
export class ServerTimeoutError extends MPIRuntimeError {
  override name = 'ServerTimeoutError';
}

/** The command is not valid JavaScript (checked on the client, before sending). */
export class CommandSyntaxError extends MPIRuntimeError {
  override name = 'CommandSyntaxError';
}

/**
 * A sent request its server no longer holds (its heartbeat lists it neither
 * as running nor as queued) and whose response did not come within
 * lostGraceMs. Carried in the request's traceback (status 'lost').
 */
export class RequestLostError extends MPIRuntimeError {
  override name = 'RequestLostError';
}

/** A request (command and parameters) larger than one message carries (2 GiB - 1 on MPI). */
export class MessageTooLargeError extends MPIRuntimeError {
  override name = 'MessageTooLargeError';
}

/** A wait with a time limit ran out. */
export class WaitTimeoutError extends MPIRuntimeError {
  override name = 'WaitTimeoutError';
}

/** The servers did not all report at start-up. */
export class StartupError extends MPIRuntimeError {
  override name = 'StartupError';
}

/** A task run over partitions or a map() had failing pieces. */
export class TaskFailedError extends MPIRuntimeError {
  override name = 'TaskFailedError';
}
