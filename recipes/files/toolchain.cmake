# mpistack CMake toolchain file (seed 4.4): build MPI applications with the
# stack's compiler wrappers, and find MPI and Boost in this tree only.
#
#   cmake -DCMAKE_TOOLCHAIN_FILE=<tree>/share/mpistack/toolchain.cmake -S src -B build
#
# The tree is found from this file's own location (two directories up), so it
# keeps working after the tree is packed and unpacked anywhere. In a moved
# tree, source <tree>/env.sh before building: the wrappers need OPAL_PREFIX at
# build time too (this file sets it for the configure step only).
if(NOT DEFINED MPISTACK_ROOT)
  get_filename_component(MPISTACK_ROOT "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
endif()

if(NOT DEFINED ENV{OPAL_PREFIX})
  set(ENV{OPAL_PREFIX} "${MPISTACK_ROOT}")
endif()

set(CMAKE_C_COMPILER "${MPISTACK_ROOT}/bin/mpicc")
set(CMAKE_CXX_COMPILER "${MPISTACK_ROOT}/bin/mpicxx")
set(MPI_C_COMPILER "${MPISTACK_ROOT}/bin/mpicc")
set(MPI_CXX_COMPILER "${MPISTACK_ROOT}/bin/mpicxx")
if(EXISTS "${MPISTACK_ROOT}/bin/mpifort")
  set(CMAKE_Fortran_COMPILER "${MPISTACK_ROOT}/bin/mpifort")
  set(MPI_Fortran_COMPILER "${MPISTACK_ROOT}/bin/mpifort")
endif()

# FindMPI and find_package(Boost) look here first, and only here for Boost
set(MPI_HOME "${MPISTACK_ROOT}")
# a cache entry: FindMPI declares it with set(CACHE), which drops a plain variable
set(MPIEXEC_EXECUTABLE "${MPISTACK_ROOT}/bin/mpiexec" CACHE FILEPATH "the tree's mpiexec (mpistack toolchain)")
set(Boost_ROOT "${MPISTACK_ROOT}")
set(Boost_NO_SYSTEM_PATHS ON)
list(PREPEND CMAKE_PREFIX_PATH "${MPISTACK_ROOT}")
set(CMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY ON)
set(CMAKE_FIND_PACKAGE_NO_SYSTEM_PACKAGE_REGISTRY ON)
