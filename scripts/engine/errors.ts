// Typed errors of the engine. Code tells them apart by class and fields,
// never by message text. `report()` is what the CLI prints.

/** A command that exited non-zero (or could not start). */
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    readonly recipe: string,
    readonly phase: string,
    readonly command: string,
    readonly exitCode: number | null,
    readonly logPath: string,
    readonly logTail: string[],
    options?: { cause?: unknown },
  ) {
    super(`${recipe}: ${phase} failed: \`${command}\` exited ${exitCode === null ? 'by signal' : exitCode} (log: ${logPath})`, options);
  }
  report(): string {
    return `${this.message}\nlast ${this.logTail.length} lines of ${this.logPath}:\n${this.logTail.map((l) => `  | ${l}`).join('\n')}`;
  }
}

/**
 * Why one fetch attempt failed. Retried: 'http' with a 5xx/429 status,
 * 'network', 'no-response', 'stalled', 'truncated'. Final: everything else
 * (a redirect loop or to a non-http URL, a body over the size cap, the
 * overall deadline, a mirror entry that is not a regular file, ...).
 */
export type FetchFailure =
  | 'http' | 'network' | 'no-response' | 'stalled' | 'truncated'
  | 'redirect' | 'too-large' | 'deadline' | 'not-regular-file' | 'missing' | 'other';

/** One source could not be fetched (after retries). `reason` says why, `retryable` whether another attempt may help. */
export class FetchError extends Error {
  override name = 'FetchError';
  readonly reason: FetchFailure;
  readonly retryable: boolean;
  constructor(readonly source: string, readonly status: number | null, message: string, options?: { cause?: unknown; reason?: FetchFailure }) {
    super(message, options);
    this.reason = options?.reason ?? (status !== null ? 'http' : 'other');
    this.retryable = this.reason === 'http'
      ? status !== null && (status >= 500 || status === 429)
      : ['network', 'no-response', 'stalled', 'truncated'].includes(this.reason);
  }
}

/** A downloaded file's sha256 differs from the recipe's. */
export class ChecksumError extends Error {
  override name = 'ChecksumError';
  constructor(readonly source: string, readonly expected: string, readonly actual: string, readonly quarantined: string) {
    super(`checksum mismatch for ${source}: expected sha256 ${expected}, got ${actual} (file moved to ${quarantined})`);
  }
}

/** No source of a version could be obtained; `attempts` says what each one did. */
export class NoSourceError extends Error {
  override name = 'NoSourceError';
  constructor(readonly recipe: string, readonly version: string, readonly attempts: { source: string; error: Error }[], hint: string) {
    super(`${recipe} ${version}: no source could be obtained${hint ? ` (${hint})` : ''}`);
  }
  report(): string {
    return [this.message, ...this.attempts.map((a) => `  - ${a.source}: ${a.error.message}`)].join('\n');
  }
}

/** An archive entry that would land outside the destination. */
export class UnsafeArchiveError extends Error {
  override name = 'UnsafeArchiveError';
  constructor(readonly archive: string, readonly entry: string, readonly reason: string) {
    super(`refusing to unpack ${archive}: entry '${entry}' ${reason}`);
  }
}

/** An archive GNU tar cannot read (or lists in a way the check cannot parse): nothing is unpacked. */
export class ArchiveReadError extends Error {
  override name = 'ArchiveReadError';
  constructor(readonly archive: string, readonly detail: string) {
    super(`refusing to unpack ${archive}: ${detail}`);
  }
}

/** A sanity check that did not hold. */
export class SanityError extends Error {
  override name = 'SanityError';
  constructor(readonly recipe: string, readonly check: string, detail: string) {
    super(`${recipe}: sanity check '${check}' failed: ${detail}`);
  }
}

/** Bad command line or options. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Wraps any failure of a recipe phase with where it happened. */
export class PhaseError extends Error {
  override name = 'PhaseError';
  constructor(readonly recipe: string, readonly phase: string, readonly logPath: string | null, cause: Error) {
    super(`${recipe}: ${phase} failed: ${cause.message}`, { cause });
  }
  report(): string {
    const c = this.cause as Error & { report?: () => string };
    if (c instanceof CommandError) return c.report();
    const where = this.logPath ? `\n(phase log: ${this.logPath})` : '';
    return `${typeof c.report === 'function' ? `${this.recipe}: ${this.phase} failed: ${c.report()}` : this.message}${where}`;
  }
}
