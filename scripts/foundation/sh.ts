// Text for /bin/sh: one quoting for every script and log line mpistack writes
// (job files, the build shims, the command lines in the build logs).

/** `s` as one sh word: bare when it holds only characters sh never interprets, else single-quoted. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
