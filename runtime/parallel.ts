// ParallelTaskHelper: run a task over a list of partitions (the seed's
// sub-MSs) on the servers and merge the results. It re-uses the client
// singleton and starts its services if needed.
//
// Merge rules: booleans are ANDed, numbers summed, arrays concatenated,
// objects merged key by key with the same rules; other values are kept when
// equal and otherwise collected into an array. A failing partition is
// reported by name, and the others' results are still merged.
import { MPICommandClient } from './client.js';
import type { CommandResponse } from './requests.js';

export interface PartitionFailure {
  partition: string;
  server: number | undefined;
  traceback: string | null;
}

export interface ParallelResult {
  /** the merged results of the partitions that succeeded */
  result: unknown;
  successful: boolean;
  failures: PartitionFailure[];
  responses: CommandResponse[];
}

export function mergeResults(a: unknown, b: unknown): unknown {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (typeof a === 'boolean' && typeof b === 'boolean') return a && b;
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (Array.isArray(a) && Array.isArray(b)) return [...(a as unknown[]), ...(b as unknown[])];
  if (isPlainObject(a) && isPlainObject(b)) {
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = k in out ? mergeResults(out[k], v) : v;
    return out;
  }
  if (Object.is(a, b)) return a;
  return [a, b];
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object') return false;
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

function partitionName(p: unknown, i: number): string {
  if (typeof p === 'string') return p;
  if (p && typeof p === 'object' && typeof (p as { name?: unknown }).name === 'string') return (p as { name: string }).name;
  return `partition ${i}`;
}

export class ParallelTaskHelper {
  /**
   * Call `task(params)` once per partition on the first available server;
   * each call gets the params plus `partition` (the partition itself).
   */
  static async run(
    task: string,
    partitions: unknown[],
    params: Record<string, unknown> = {},
    opts: { timeoutMs?: number; client?: MPICommandClient } = {},
  ): Promise<ParallelResult> {
    if (!/^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$/.test(task))
      throw new TypeError(`task must be the name of a function known to the servers, not ${JSON.stringify(task)}`);
    const client = opts.client ?? new MPICommandClient();
    await client.startServices();
    const ids = partitions.flatMap((partition) => client.pushCommandRequest(`${task}()`, { parameters: { ...params, partition }, timeoutMs: opts.timeoutMs }));
    const responses = await client.getCommandResponse(ids, { block: true, verbose: false });
    let result: unknown;
    const failures: PartitionFailure[] = [];
    responses.forEach((r, i) => {
      if (r.successful) result = mergeResults(result, r.ret);
      else failures.push({ partition: partitionName(partitions[i], i), server: r.server, traceback: r.traceback });
    });
    for (const f of failures) client.log('WARN', `${task} failed on partition ${f.partition} (server ${f.server}): ${f.traceback?.split('\n')[0]}`);
    return { result, successful: failures.length === 0, failures, responses };
  }
}
