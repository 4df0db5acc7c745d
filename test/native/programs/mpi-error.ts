// An MPI error (send to a rank that does not exist) becomes an MPIError.
import { MPIError } from '../../../native/index.js';
import { report, world } from './common.js';

let res: Record<string, unknown> = { thrown: false };
try {
  world.send(Buffer.from('x'), world.size + 5, 1);
} catch (e) {
  const err = e as MPIError;
  res = {
    thrown: true,
    isMPIError: e instanceof MPIError,
    isError: e instanceof Error,
    name: err.name,
    errorClass: err.errorClass,
    mpiMessage: err.mpiMessage,
    call: err.call,
    message: err.message,
  };
}
report(res);
