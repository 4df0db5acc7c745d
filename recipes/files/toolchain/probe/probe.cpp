#include <boost/mpi.hpp>
#include <boost/serialization/map.hpp>
#include <boost/serialization/string.hpp>
#include <iostream>
#include <map>
#include <string>
#include <mpi.h>

int main(int argc, char** argv) {
  boost::mpi::environment env(argc, argv, boost::mpi::threading::multiple);
  boost::mpi::communicator world;
  int provided = 0;
  MPI_Query_thread(&provided);
  if (world.rank() == 0) {
    std::map<std::string, int> m{{"answer", 42}, {"ranks", world.size()}};
    for (int r = 1; r < world.size(); ++r) world.send(r, 0, m);
  } else if (world.rank() == 1) {
    std::map<std::string, int> m;
    world.recv(0, 0, m);
    std::cout << "cmake-probe rank 1 got answer=" << m["answer"] << " ranks=" << m["ranks"]
              << " thread_multiple=" << (provided == MPI_THREAD_MULTIPLE ? "yes" : "no") << std::endl;
  }
  return 0;
}
