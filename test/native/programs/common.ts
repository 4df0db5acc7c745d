// Shared by the programs run under mpirun: load the binding, report results
// as `RESULT <json>` lines that the tests parse.
import { loadBinding, ThreadLevel } from '../../../native/index.js';

export const mpi = loadBinding();
export const provided = mpi.initThread(ThreadLevel.MULTIPLE);
export const world = mpi.COMM_WORLD;

export function report(obj: Record<string, unknown>): void {
  process.stdout.write(`RESULT ${JSON.stringify({ rank: world.rank, ...obj })}\n`);
}

/** A deterministic byte pattern for size n, different per seed. */
export function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
