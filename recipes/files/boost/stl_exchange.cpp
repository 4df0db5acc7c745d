#include <boost/mpi.hpp>
#include <boost/serialization/map.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace mpi = boost::mpi;

int main(int argc, char** argv) {
  mpi::environment env(argc, argv, mpi::threading::multiple);
  mpi::communicator world;
  if (env.thread_level() != mpi::threading::multiple) {
    std::cerr << "thread level below MPI_THREAD_MULTIPLE" << std::endl;
    return 3;
  }
  const int size = world.size();
  if (world.rank() == 0) {
    for (int r = 1; r < size; ++r) {
      std::map<std::string, std::vector<int>> m;
      m["rank"] = {r};
      for (int i = 0; i <= r; ++i) m["squares"].push_back(i * i);
      world.send(r, 0, m);
      world.send(r, 1, std::string("hello rank ") + std::to_string(r));
    }
    int ok = 0;
    for (int r = 1; r < size; ++r) {
      std::string reply;
      world.recv(r, 2, reply);
      if (reply == "ok " + std::to_string(r)) ++ok;
      else std::cerr << "bad reply from rank " << r << ": " << reply << std::endl;
    }
    std::cout << "boost-mpi-stl " << ok << "/" << (size - 1) << " ranks=" << size << std::endl;
    return ok == size - 1 ? 0 : 1;
  }
  std::map<std::string, std::vector<int>> m;
  std::string greeting;
  world.recv(0, 0, m);
  world.recv(0, 1, greeting);
  const int r = world.rank();
  const bool good = m.size() == 2 && m["rank"] == std::vector<int>{r} &&
                    m["squares"].size() == static_cast<std::size_t>(r + 1) && m["squares"].back() == r * r &&
                    greeting == "hello rank " + std::to_string(r);
  world.send(0, 2, good ? "ok " + std::to_string(r) : std::string("mismatch"));
  return 0;
}
