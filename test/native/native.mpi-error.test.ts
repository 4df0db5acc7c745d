// An MPI error (bad rank) becomes the TypeScript MPIError, with MPI's error class and string.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type MPIError } from '../../native/index.js';
import { explain, runProgram } from './helpers.js';

/** what programs/mpi-error.ts reports of the error its send threw */
type Thrown = { thrown: boolean; isMPIError: boolean; isError: boolean } & Pick<MPIError, 'name' | 'errorClass' | 'mpiMessage' | 'call' | 'message'>;

test('send to a bad rank throws MPIError carrying MPI_ERR_RANK', async () => {
  const r = await runProgram<Thrown>(1, 'mpi-error');
  assert.is(r.code, 0, explain(r));
  const x = r.results[0];
  assert.ok(x?.thrown, explain(r));
  assert.ok(x.isMPIError);
  assert.ok(x.isError);
  assert.is(x.name, 'MPIError');
  assert.is(x.errorClass, 6, 'MPI_ERR_RANK is 6 in Open MPI and MPICH');
  assert.match(x.mpiMessage, /rank/i);
  assert.is(x.call, 'MPI_Send');
});

test.run();
