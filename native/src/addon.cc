// Thin MPI binding for Node.js (issue 3): registration. C++ validates handles
// and calls MPI; argument checks, defaults and messages live in TypeScript
// (native/binding.ts). The functions below are the addon's whole surface,
// typed once in native/api.ts (NativeAddon); state.h says which file holds
// which part.
#include "state.h"

namespace mpistack {
namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitState(env);
  struct Fn {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  };
  const Fn fns[] = {
      {"setErrorClass", SetErrorClass}, {"setStatusArray", SetStatusArray}, {"initThread", InitThread}, {"isInitialized", IsInitialized},
      {"isFinalized", IsFinalized}, {"finalize", Finalize}, {"abort", Abort},
      {"processorName", ProcessorName}, {"libraryVersion", LibraryVersion}, {"version", Version},
      {"libraryPath", LibraryPath}, {"wtime", Wtime}, {"threadLevel", ThreadLevelProvided},
      {"setWaitPolicy", SetWaitPolicy}, {"commRank", CommRank}, {"commSize", CommSize},
      {"commDup", CommDup}, {"send", Send}, {"isend", Isend}, {"recv", Recv}, {"recvInto", RecvInto},
      {"iprobe", Iprobe}, {"barrier", Barrier}, {"bcast", Bcast}, {"startReceiver", StartReceiver},
      {"refReceiver", RefReceiver}, {"watch", Watch}, {"enableHeartbeat", EnableHeartbeat},
      {"setHeartbeatPayload", SetHeartbeatPayload}, {"take", Take},
  };
  for (const Fn& f : fns) exports.Set(f.name, Napi::Function::New(env, f.fn, f.name));
  exports.Set("ANY_SOURCE", Napi::Number::New(env, MPI_ANY_SOURCE));
  exports.Set("ANY_TAG", Napi::Number::New(env, MPI_ANY_TAG));
  exports.Set("MATCHED_PROBE", Napi::Boolean::New(env, MPISTACK_MATCHED_PROBE != 0));
  return exports;
}

}  // namespace
}  // namespace mpistack

// NODE_API_MODULE pastes the name into an identifier: no namespace qualifier
static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return mpistack::Init(env, exports); }
NODE_API_MODULE(mpi, InitAddon)
