# mpi4py sanity check (recipes/mpi4py.ts): rank 0 sends the dictionary given as JSON in argv[1] to
# rank 1, which prints it; rank 0 prints what every rank saw (thread level, mpicc, libmpi, where mpi4py came from).
import json, sys
import mpi4py
from mpi4py import MPI
comm = MPI.COMM_WORLD
rank = comm.Get_rank()
if rank == 0:
    comm.send(json.loads(sys.argv[1]), dest=1, tag=7)
elif rank == 1:
    d = comm.recv(source=0, tag=7)
    sys.stdout.write("mpi4py-recv " + json.dumps(d, sort_keys=True) + "\n")
    sys.stdout.flush()
libmpi = sorted({l.split()[-1] for l in open("/proc/self/maps") if "/libmpi.so" in l})
info = {"rank": rank, "size": comm.Get_size(), "file": mpi4py.__file__, "thread_multiple": MPI.Query_thread() == MPI.THREAD_MULTIPLE,
        "mpicc": mpi4py.get_config().get("mpicc"), "libmpi": libmpi}
# one line from rank 0 (one write): lines of several ranks may interleave on mpirun's output
infos = comm.gather(info, root=0)
if rank == 0:
    sys.stdout.write("mpi4py-infos " + json.dumps(infos, sort_keys=True) + "\n")
    sys.stdout.flush()
