// ParallelTaskHelper: merge rules, and a failing partition reported by name
// without losing the others (in-process transport).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mergeResults, ParallelTaskHelper } from '../../runtime/parallel.js';
import { cluster } from './inprocess.js';

test('merge rules: booleans AND, numbers sum, arrays concatenate, objects merge recursively', () => {
  assert.is(mergeResults(true, false), false);
  assert.is(mergeResults(true, true), true);
  assert.is(mergeResults(2, 3), 5);
  assert.equal(mergeResults([1], [2, 3]), [1, 2, 3]);
  assert.equal(mergeResults({ a: 1, f: { ok: true, rows: [1] }, only: 'x' }, { a: 2, f: { ok: false, rows: [2] }, b: 'y' }), {
    a: 3,
    f: { ok: false, rows: [1, 2] },
    only: 'x',
    b: 'y',
  });
  assert.is(mergeResults(undefined, 4), 4);
  assert.is(mergeResults('same', 'same'), 'same');
  assert.equal(mergeResults('a', 'b'), ['a', 'b']);
});

test('run over partitions: merged results and a failing partition named', async () => {
  const { client } = await cluster();
  await client.pushCommandRequest(
    'globalThis.flag = (p) => { if (p.partition.name === "bad.ms") throw new Error("cannot open " + p.partition.name); return { flagged: p.partition.rows * p.scale, ok: true, names: [p.partition.name] }; }',
    { block: true, targetServer: [1, 2, 3] },
  );
  const parts = [
    { name: 'a.ms', rows: 1 },
    { name: 'b.ms', rows: 2 },
    { name: 'bad.ms', rows: 4 },
    { name: 'c.ms', rows: 3 },
  ];
  const r = await ParallelTaskHelper.run('flag', parts, { scale: 10 });
  assert.is(r.successful, false);
  assert.equal(
    r.failures.map((f) => f.partition),
    ['bad.ms'],
  );
  assert.match(r.failures[0].traceback!, /cannot open bad\.ms/);
  assert.equal(r.result, { flagged: 60, ok: true, names: ['a.ms', 'b.ms', 'c.ms'] });
  const good = await ParallelTaskHelper.run(
    'flag',
    parts.filter((p) => p.name !== 'bad.ms'),
    { scale: 1 },
  );
  assert.is(good.successful, true);
  assert.equal((good.result as { flagged: number }).flagged, 6);
  await client.stopServices();
});

test('map: ordered and unordered, with chunks', async () => {
  const { client } = await cluster();
  const inputs = Array.from({ length: 25 }, (_, i) => i);
  assert.equal(
    await client.map((x: number) => x * x, inputs),
    inputs.map((x) => x * x),
  );
  assert.equal(
    await client.map((x: number) => x + 1, inputs, { chunksize: 4 }),
    inputs.map((x) => x + 1),
  );
  const un = await client.map<number>((x: number) => new Promise((r) => setTimeout(() => r(x), (x % 3) * 5)), inputs, { unordered: true, chunksize: 2 });
  assert.equal(
    [...un].sort((a, b) => a - b),
    inputs,
  );
  try {
    await client.map((x: number) => {
      if (x === 3) throw new Error('three');
      return x;
    }, inputs);
    assert.unreachable('should reject');
  } catch (e) {
    assert.is((e as Error).name, 'TaskFailedError');
    assert.match((e as Error).message, /three/);
  }
  await client.stopServices();
});

test.run();
