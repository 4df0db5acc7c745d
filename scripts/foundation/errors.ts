// The builder's error root. Every error the `mpistack` command can meet
// derives from MpistackError: `report()` is what the CLI prints (the message,
// unless a subclass has more to say), and the exit status is on the type
// (`static exitCode`): 1 for a failure, 2 for a command line that cannot be
// run. Code tells errors apart by class and fields, never by message text.
//
// No subclass has a `details` field that is not a string: uvu's reporter
// calls err.details.split() and silently loses a failure otherwise. A list of
// lines is called `lines`.

export class MpistackError extends Error {
  /** The exit status of `mpistack` when an error of this type ends a command. */
  static readonly exitCode: number = 1;
  override name = 'MpistackError';

  /** What the CLI prints: the message, unless the type has more to say. */
  report(): string {
    return this.message;
  }
}

/** A command line that cannot be run: an unknown or missing option, a value it cannot take. */
export class UsageError extends MpistackError {
  static override readonly exitCode: number = 2;
  override name = 'UsageError';
}

/** A file of the mpistack package itself is not where it belongs (a damaged checkout or install). */
export class PackageError extends MpistackError {
  override name = 'PackageError';
}

/** The exit status `err` ends the CLI with: its type's, or 1 for an error of no mpistack type. */
export function exitCodeOf(err: unknown): number {
  return err instanceof MpistackError ? (err.constructor as typeof MpistackError).exitCode : 1;
}
