// Typed errors of the engine, under the builder's error root
// (foundation/errors.ts). Code tells them apart by class and fields, never by
// message text. `report()` is what the CLI prints.
import { MpistackError } from '../foundation/errors.js';

/** A command that exited non-zero (`status`; null: killed by a signal, or it could not start). */
export class CommandError extends MpistackError {
  override name = 'CommandError';
  constructor(
    readonly recipe: string,
    readonly phase: string,
    readonly command: string,
    readonly status: number | null,
    readonly logPath: string,
    readonly logTail: string[],
    options?: { cause?: unknown },
  ) {
    super(`${recipe}: ${phase} failed: \`${command}\` exited ${status === null ? 'by signal' : status} (log: ${logPath})`, options);
  }

  override report(): string {
    return `${this.message}\nlast ${this.logTail.length} lines of ${this.logPath}:\n${this.logTail.map((l) => `  | ${l}`).join('\n')}`;
  }
}

/**
 * Why one fetch attempt failed. Retried: 'http' with a 5xx/429 status,
 * 'network', 'no-response', 'stalled', 'truncated'. Final: everything else
 * (a redirect loop or to a non-http URL, a body over the size cap, the
 * overall deadline, a mirror entry that is not a regular file, ...).
 */
type FetchFailure =
  'http' | 'network' | 'no-response' | 'stalled' | 'truncated' | 'redirect' | 'too-large' | 'deadline' | 'not-regular-file' | 'missing' | 'other';

/** One source could not be fetched (after retries). `reason` says why, `retryable` whether another attempt may help. */
export class FetchError extends MpistackError {
  override name = 'FetchError';
  readonly reason: FetchFailure;
  readonly retryable: boolean;
  constructor(
    readonly source: string,
    readonly status: number | null,
    message: string,
    options?: { cause?: unknown; reason?: FetchFailure },
  ) {
    super(message, options);
    this.reason = options?.reason ?? (status !== null ? 'http' : 'other');
    this.retryable =
      this.reason === 'http' ? status !== null && (status >= 500 || status === 429) : ['network', 'no-response', 'stalled', 'truncated'].includes(this.reason);
  }
}

/** A downloaded file's sha256 differs from the recipe's. */
export class ChecksumError extends MpistackError {
  override name = 'ChecksumError';
  constructor(
    readonly source: string,
    readonly expected: string,
    readonly actual: string,
    readonly quarantined: string,
  ) {
    super(`checksum mismatch for ${source}: expected sha256 ${expected}, got ${actual} (file moved to ${quarantined})`);
  }
}

/** No source of a version could be obtained; `attempts` says what each one did. */
export class NoSourceError extends MpistackError {
  override name = 'NoSourceError';
  constructor(
    readonly recipe: string,
    readonly version: string,
    readonly attempts: { source: string; error: Error }[],
    hint: string,
  ) {
    super(`${recipe} ${version}: no source could be obtained${hint ? ` (${hint})` : ''}`);
  }

  override report(): string {
    return [this.message, ...this.attempts.map((a) => `  - ${a.source}: ${a.error.message}`)].join('\n');
  }
}

/** A local source (this checkout) that is missing a path, or changed while it was copied. */
export class LocalSourceError extends MpistackError {
  override name = 'LocalSourceError';
}

/** An archive entry that would land outside the destination. */
export class UnsafeArchiveError extends MpistackError {
  override name = 'UnsafeArchiveError';
  constructor(
    readonly archive: string,
    readonly entry: string,
    readonly reason: string,
  ) {
    super(`refusing to unpack ${archive}: entry '${entry}' ${reason}`);
  }
}

/** An archive GNU tar cannot read (or lists in a way the check cannot parse): nothing is unpacked. */
export class ArchiveReadError extends MpistackError {
  override name = 'ArchiveReadError';
  constructor(
    readonly archive: string,
    readonly detail: string,
  ) {
    super(`refusing to unpack ${archive}: ${detail}`);
  }
}

/** The recipes given cannot be ordered: a dependency cycle, or a dependency no recipe provides. */
export class RecipeGraphError extends MpistackError {
  override name = 'RecipeGraphError';
}

/** A staged tree could not be copied or moved into the prefix (the prefix is left as it was). */
export class StageError extends MpistackError {
  override name = 'StageError';
}

/** Wraps any failure of a recipe phase with where it happened. */
export class PhaseError extends MpistackError {
  override name = 'PhaseError';
  constructor(
    readonly recipe: string,
    readonly phase: string,
    readonly logPath: string | null,
    cause: Error,
  ) {
    super(`${recipe}: ${phase} failed: ${cause.message}`, { cause });
  }

  override report(): string {
    const c = this.cause;
    if (c instanceof CommandError) return c.report();
    const where = this.logPath ? `\n(phase log: ${this.logPath})` : '';
    return `${c instanceof MpistackError ? `${this.recipe}: ${this.phase} failed: ${c.report()}` : this.message}${where}`;
  }
}
