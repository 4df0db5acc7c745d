// Issue 15, item 1: messages of 2 GiB or more. The binding's counts are MPI
// ints: such a buffer is refused with a RangeError before anything is sent
// (also when the typed wrapper is bypassed), a bcast refuses it on every rank
// together, and such a message from a sender using MPI datatypes (a C
// program, 2 GiB + 4 KiB for real) is refused by recv and recvAsync, never
// handed over truncated; the channel keeps working after it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mpirun } from '../helpers/mpi.js';
import { explain, program, runProgram } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
/** what programs/large-send.ts reports: `<name>: <message>` of each error; the sends by rank 0, nothingOnTag5 by rank 1 */
interface SendChecks {
  send: string;
  nativeSend2: string;
  nativeSend4: string;
  heartbeatPayload: string;
  nothingOnTag5: boolean;
  bcast: string;
  bcastAfter: string;
}
/** how programs/large-recv.ts saw a receive of the 2 GiB + 4 KiB message end: the error, or (wrongly) its byte count */
interface Refusal {
  name: string;
  isRange: boolean;
  message: string;
  typed?: boolean;
  delivered?: number;
}
interface RecvChecks {
  recv: Refusal;
  recvAsync: Refusal;
  after: string;
}
const TOO_LARGE = /^RangeError: .* of \d+ bytes is larger than 2147483647 \(2 GiB - 1\): an MPI count is an int/;

test('send, the C++ send, the heartbeat payload and bcast refuse 2 GiB and 4 GiB buffers; nothing is sent; the next bcast works', async () => {
  const r = await runProgram<{ checks: SendChecks }>(2, 'large-send', [], { timeoutMs: 120_000 });
  assert.is(r.code, 0, explain(r));
  const [c0, c1] = r.results.map((x) => x.checks);
  assert.ok(c0 && c1, explain(r));
  for (const k of ['send', 'nativeSend2', 'nativeSend4', 'heartbeatPayload', 'bcast'] as const) assert.match(c0[k], TOO_LARGE, `${k}: ${c0[k]}`);
  assert.match(c1.bcast, TOO_LARGE, 'the non-root rank refuses the bcast too instead of waiting');
  assert.is(c1.nothingOnTag5, true, 'no (truncated) message was sent');
  assert.is(c0.bcastAfter, 'next');
  assert.is(c1.bcastAfter, 'next');
});

test('a real 2 GiB + 4 KiB message from a C sender using an MPI datatype: recv and recvAsync refuse it, the next message arrives', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'mpistack-large-'));
  const exe = join(tmp, 'big-sender');
  execFileSync('mpicc', ['-O1', '-o', exe, resolve(here, '../../../test/native/programs/big-sender.c')], { stdio: 'pipe' });
  const r = await mpirun(1, [exe, ':', '-n', '1', process.execPath, program('large-recv')], { timeoutMs: 240_000 });
  const checks = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('RESULT '))
    .map((l) => JSON.parse(l.slice(7)) as { checks?: RecvChecks })[0]?.checks;
  assert.is(r.code, 0, explain(r));
  assert.ok(checks, explain(r));
  assert.is(checks.recv.isRange, true, JSON.stringify(checks.recv));
  assert.match(checks.recv.message, /^recv: a message from rank 0 with tag 8 is 2 GiB or larger .* received and discarded/);
  assert.is(checks.recvAsync.name, 'MessageTooLargeError', JSON.stringify(checks.recvAsync));
  assert.is(checks.recvAsync.typed, true);
  assert.match(checks.recvAsync.message, /rank 0 with tag 9 is 2 GiB or larger/);
  assert.is(checks.after, 'after');
});

test.run();
