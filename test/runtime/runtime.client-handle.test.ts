// Issue 16: one client handle. The index's `client` is a live binding of the
// one the constructor sets (never a stale copy), `new MPICommandClient()`
// returns it, and after reset() a new client replaces it everywhere
// (in-process transport; the global `client` of mpistack-run is checked
// under mpirun by runtime.matrix).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MPICommandClient, client as exported } from '../../runtime/index.js';
import * as runtime from '../../runtime/index.js';
import { cluster } from './inprocess.js';

test('the export, the instance and the constructor agree, across a reset', async () => {
  const a = await cluster(2);
  assert.is(runtime.client, a.client);
  assert.is(MPICommandClient.instance, a.client);
  assert.is(new MPICommandClient(), a.client);
  assert.is((await a.client.submit('1+1')).ret, 2);
  await a.client.stopServices();
  const b = await cluster(2);
  assert.is.not(b.client, a.client);
  assert.is(runtime.client, b.client, 'the export follows the new client');
  assert.is(exported, b.client, 'a named import is the same live binding');
  assert.is(new MPICommandClient(), b.client);
  await b.client.stopServices();
});

test.run();
