// A task module (the seed's task_wrappers) for `mpistack-run --tasks`: its
// exports become callable by name on every server.

/** Flag a partition: throws for a partition named bad*, else counts its rows. */
export function flagPartition(p: { partition: { name: string; rows: number }; scale: number }): { flagged: number; ok: boolean; names: string[] } {
  if (p.partition.name.startsWith('bad')) throw new Error(`Table ${p.partition.name} does not exist`);
  return { flagged: p.partition.rows * p.scale, ok: true, names: [p.partition.name] };
}

/** Keep the JS thread busy (blocked) for ms without using a core. */
export function blockFor(ms: number): number {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  return ms;
}

export function square(x: number): number {
  return x * x;
}
