// node-mpi recipe check (recipes/nodempi.ts): a 2-rank send/recv through the staged binding
// (MPISTACK_BINDING) loaded by the checkout's compiled loader (MPISTACK_NATIVE_INDEX).
const { loadBinding, ThreadLevel } = await import(process.env.MPISTACK_NATIVE_INDEX);
const mpi = loadBinding({ path: process.env.MPISTACK_BINDING });
const provided = mpi.initThread(ThreadLevel.MULTIPLE);
const w = mpi.COMM_WORLD;
const payload = Buffer.from('mpistack node-mpi check');
if (w.rank === 0) {
  w.send(payload, 1, 7);
  const back = w.recv(1, 8);
  console.log('rank 0 got ' + back.data.toString() + ' provided=' + provided + ' size=' + w.size + ' libmpi=' + mpi.libraryPath());
} else {
  const m = w.recv(0, 7);
  w.send(Buffer.from(m.data.toString().toUpperCase()), 0, 8);
}
mpi.finalize();
