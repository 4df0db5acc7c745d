/* Rank 0 of an MPMD job whose rank 1 is a node program on the mpistack
 * binding (large-recv.ts): sends two messages of 2 GiB + 4 KiB, which only a
 * sender using an MPI datatype can make (their byte count does not fit an
 * int), then a small one that must arrive intact after them. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  /* the binding's initThread dups COMM_WORLD for its private control
   * communicator: a collective call, matched here */
  MPI_Comm control;
  MPI_Comm_dup(MPI_COMM_WORLD, &control);
  const int block = 4096;
  const int blocks = (1 << 19) + 1; /* 2 GiB + 4 KiB */
  MPI_Datatype chunk;
  MPI_Type_contiguous(block, MPI_BYTE, &chunk);
  MPI_Type_commit(&chunk);
  char* buf = calloc((size_t)block, (size_t)blocks); /* zero pages: no memory until written */
  if (buf == NULL) {
    fprintf(stderr, "big-sender: cannot allocate %zu bytes\n", (size_t)block * blocks);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  MPI_Send(buf, blocks, chunk, 1, 8, MPI_COMM_WORLD); /* for recv */
  MPI_Send(buf, blocks, chunk, 1, 9, MPI_COMM_WORLD); /* for recvAsync */
  const char after[] = "after";
  MPI_Send(after, (int)sizeof after - 1, MPI_BYTE, 1, 10, MPI_COMM_WORLD);
  free(buf);
  MPI_Type_free(&chunk);
  MPI_Comm_free(&control);
  MPI_Finalize();
  return 0;
}
