// send/recv of 0 B, 8 B, 1 MiB and 64 MiB with contents checked (recv, recvInto, recvAsync).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { explain, runProgram } from './helpers.js';

/** what rank 1 of programs/sendrecv.ts reports: `<how> <bytes>` -> arrived intact */
interface Checks {
  checks: Record<string, boolean>;
}

test('0 B, 8 B, 1 MiB, 64 MiB arrive intact by recv, recvInto and recvAsync', async () => {
  const r = await runProgram<Checks>(2, 'sendrecv', [], { timeoutMs: 120_000 });
  assert.is(r.code, 0, explain(r));
  const checks = r.results.find((x) => x.rank === 1)?.checks;
  assert.ok(checks, explain(r));
  const names = ['recv', 'recvInto', 'recvAsync'].flatMap((k) => [0, 8, 1 << 20, 64 << 20].map((n) => `${k} ${n}`));
  for (const name of names) assert.is(checks[name], true, `${name}: ${JSON.stringify(checks)}`);
});

test.run();
