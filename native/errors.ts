// The binding's errors (re-exported by api.ts, the contract).

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
    super(
      `could not load the MPI binding; tried:\n${tried.map((t) => `  ${t.path}: ${t.reason}`).join('\n') || '  (nothing)'}\n` +
        'build it with `npm run build:native`, or pass { path } / { prefix } (or set MPISTACK_PREFIX)',
    );
  }
}

/**
 * A message of 2 GiB or more arrived for a receive: its byte count does not
 * fit MPI's int, so it was received and discarded, never truncated. Sends and
 * bcasts of such buffers throw RangeError before anything is sent.
 */
export class MessageTooLargeError extends RangeError {
  override name = 'MessageTooLargeError';
  constructor(
    readonly source: number,
    readonly tag: number,
  ) {
    super(
      `a message from rank ${source} with tag ${tag} is 2 GiB or larger (its byte count does not fit MPI's int): ` +
        'it was received and discarded; send it in pieces',
    );
  }
}
