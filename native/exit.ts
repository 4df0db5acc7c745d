// The exit patch: finalize MPI on normal exit and on process.exit(), after
// every other 'exit' listener (the runtime sends its STOP messages from one):
// process.exit() goes through process.reallyExit, which is wrapped here; a
// normal exit ends in the addon's env cleanup hook. A rank dying of an
// uncaught exception or unhandled rejection aborts the job instead, so mpirun
// ends it promptly rather than the other ranks waiting forever.
import { writeSync } from 'node:fs';
import { inspect } from 'node:util';

export interface ExitHooks {
  /** MPI is initialized and not finalized */
  live(): boolean;
  rank(): number;
  finalize(): void;
  abort(code: number): never;
}

export function hookExit(h: ExitHooks): void {
  // Node emits 'exit' before it prints an uncaught error: keep the error and
  // print it ourselves, or MPI_Abort would swallow it.
  let fatal: { err: unknown; origin: string } | undefined;
  process.on('uncaughtExceptionMonitor', (err, origin) => {
    fatal = { err, origin };
  });
  process.on('exit', (code) => {
    if (!fatal || code === 0 || !h.live()) return; // a handled exception (uncaughtException listener) does not count
    const what = `${fatal.origin === 'unhandledRejection' ? 'unhandled rejection' : 'uncaught exception'}: ${inspect(fatal.err)}`;
    try {
      writeSync(2, `mpistack: rank ${h.rank()} is exiting with code ${code} (${what}); aborting the MPI job\n`);
    } catch {
      /* stderr gone */
    }
    h.abort(code || 1);
  });
  // a function-valued property, not a method: the original is kept apart and called on `process` below
  const proc = process as unknown as { reallyExit: (this: NodeJS.Process, code?: number) => never };
  const reallyExit = proc.reallyExit;
  proc.reallyExit = (code?: number): never => {
    if (h.live()) {
      try {
        h.finalize();
      } catch {
        /* exiting anyway */
      }
    }
    return reallyExit.call(process, code);
  };
}
