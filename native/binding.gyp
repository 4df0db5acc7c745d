{
  "targets": [
    {
      "target_name": "mpi",
      "sources": ["src/addon.cc", "src/lifecycle.cc", "src/comm.cc", "src/receiver.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node src/mpiflags.mjs include_dirs)"
      ],
      "defines": ["NAPI_VERSION=8", "OMPI_SKIP_MPICXX", "MPICH_SKIP_MPICXX", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags": ["-fvisibility=hidden", "<!@(node src/mpiflags.mjs cflags)"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-cast-function-type"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++14"],
      "ldflags": ["<!@(node src/mpiflags.mjs ldflags)"],
      "libraries": ["<!@(node src/mpiflags.mjs libs)", "-ldl", "-pthread"]
    }
  ]
}
