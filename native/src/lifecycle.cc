// Life cycle: load (the state, libmpi promoted to global scope, the env
// cleanup hook), MPI_Init_thread, finalize on every path out (explicit, env
// teardown), abort, and the facts about the library.
#include <dlfcn.h>

#include <cstdio>

#include "state.h"

namespace mpistack {

State* g = nullptr;

namespace {

// Promote the libmpi we are linked against to global scope so that Open MPI's
// plugins (dlopened later, linked against libmpi/libopen-pal symbols) resolve.
std::string PromoteLibmpi() {
  Dl_info dli;
  if (dladdr(reinterpret_cast<void*>(&MPI_Init_thread), &dli) == 0 || dli.dli_fname == nullptr) return "";
  std::string path = dli.dli_fname;
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
  (void)h;  // deliberately kept open for the life of the process
  return path;
}

void CleanupHook(void* arg) {
  // env teardown (normal exit after the JS 'exit' hook): finalize if the JS
  // side did not. Never with the receive thread inside MPI.
  if (!g || g->owner != static_cast<napi_env>(arg)) return;
  DoFinalize();
  g->errorCtor.Reset();
  g->statusOut = g->statusFallback;
  g->statusRef.Reset();
  g->owner = nullptr;
}

}  // namespace

void InitState(Napi::Env env) {
  if (g == nullptr) g = new State();  // never deleted: MPI state lives as long as the process
  if (g->owner != nullptr && g->owner != static_cast<napi_env>(env)) {
    // MPI state is per process; one JS thread owns it (a worker cannot share it)
    throw Napi::Error::New(env, "the MPI binding is already loaded by another JavaScript thread of this process");
  }
  g->owner = env;
  g->libPath = PromoteLibmpi();
  g->statusOut = g->statusFallback;
  napi_add_env_cleanup_hook(env, CleanupHook, static_cast<napi_env>(env));
}

[[noreturn]] void ThrowMpi(Napi::Env env, int code, const char* where) {
  int cls = code;
  MPI_Error_class(code, &cls);
  char text[MPI_MAX_ERROR_STRING + 1] = {0};
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) std::snprintf(text, sizeof text, "MPI error %d", code);
  if (g && !g->errorCtor.IsEmpty()) {
    Napi::Object err = g->errorCtor.New({Napi::String::New(env, where), Napi::Number::New(env, cls), Napi::String::New(env, text)});
    throw Napi::Error(env, err);
  }
  throw Napi::Error::New(env, std::string(where) + ": " + text);
}

void RequireActive(Napi::Env env) {
  if (g->active.load(std::memory_order_acquire)) return;  // fast path: between our init and finalize
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (!init) ThrowState(env, "MPI is not initialized (call initThread first)");
  if (fin) ThrowState(env, "MPI is already finalized");
}

// How long finalize waits for isend()'s sends still in flight (their receivers polling) before it
// lets them go: a rank that never polls again cannot hold this one's exit.
constexpr long long kFinalizeSendWaitNs = 5'000'000'000LL;

int DoFinalize() {
  g->active.store(false, std::memory_order_release);
  StopReceiver();
  g->channel.Abort();
  {
    std::lock_guard<std::mutex> lock(g->inboxMutex);
    g->inbox.clear();
  }
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (!init || fin) return MPI_SUCCESS;
  // isend()'s sends still in flight: their receivers may need a moment to poll (bounded: never hangs)
  ReapSends(kFinalizeSendWaitNs);
  g->control.Free();
  for (int h = 1; h < g->nslots.load(); ++h)
    if (g->slots[h].comm != MPI_COMM_NULL) g->slots[h].watched.store(false);
  return MPI_Finalize();
}

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  g->errorCtor = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value SetStatusArray(const Napi::CallbackInfo& info) {
  Napi::Int32Array a = info[0].As<Napi::Int32Array>();
  if (a.ElementLength() < 4) ThrowState(info.Env(), "status array needs 4 elements");
  g->statusRef = Napi::Persistent(a);
  g->statusOut = a.Data();
  return info.Env().Undefined();
}

Napi::Value InitThread(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int required = info[0].As<Napi::Number>().Int32Value();
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (fin) ThrowState(env, "MPI was finalized; it cannot be initialized again");
  int provided = -1;
  if (init) {
    MPI_Query_thread(&provided);  // initialized by someone else in this process
  } else {
    int rc = MPI_Init_thread(nullptr, nullptr, required, &provided);
    if (rc != MPI_SUCCESS) ThrowState(env, "MPI_Init_thread failed with code " + std::to_string(rc));
    g->initializedByUs = true;
  }
  g->provided = provided;
  if (g->nslots.load() == 0) {
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g->worldRank);
    Check(env, MPI_Comm_dup(MPI_COMM_WORLD, &g->control.comm), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(g->control.comm, MPI_ERRORS_RETURN);
    AddComm(MPI_COMM_WORLD);  // handle 0
  }
  g->active.store(true, std::memory_order_release);
  return Napi::Number::New(env, provided);
}

Napi::Value IsInitialized(const Napi::CallbackInfo& info) {
  int v = 0;
  MPI_Initialized(&v);
  return Napi::Boolean::New(info.Env(), v != 0);
}

Napi::Value IsFinalized(const Napi::CallbackInfo& info) {
  int v = 0;
  MPI_Finalized(&v);
  return Napi::Boolean::New(info.Env(), v != 0);
}

Napi::Value Finalize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Check(env, DoFinalize(), "MPI_Finalize");
  return env.Undefined();
}

Napi::Value Abort(const Napi::CallbackInfo& info) {
  int code = info[0].As<Napi::Number>().Int32Value();
  // Do not stop the receive thread: MPI_Abort must not wait on anything.
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // not reached with a working MPI
}

Napi::Value ProcessorName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  char name[MPI_MAX_PROCESSOR_NAME + 1] = {0};
  int len = 0;
  Check(env, MPI_Get_processor_name(name, &len), "MPI_Get_processor_name");
  return Napi::String::New(env, name, len);
}

Napi::Value LibraryVersion(const Napi::CallbackInfo& info) {
#if MPI_VERSION >= 3
  char text[MPI_MAX_LIBRARY_VERSION_STRING + 1] = {0};
  int len = 0;
  MPI_Get_library_version(text, &len);
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\0')) --len;
  return Napi::String::New(info.Env(), text, len);
#elif defined(OMPI_MAJOR_VERSION)
  // MPI_Get_library_version is MPI-3; Open MPI's mpi.h names its own version
  const std::string v = std::to_string(OMPI_MAJOR_VERSION) + "." + std::to_string(OMPI_MINOR_VERSION) + "." + std::to_string(OMPI_RELEASE_VERSION);
  return Napi::String::New(info.Env(), "Open MPI v" + v + ", ident: " + v + " (from mpi.h: MPI_Get_library_version is MPI-3)");
#else
  return Napi::String::New(info.Env(), "MPI " + std::to_string(MPI_VERSION) + "." + std::to_string(MPI_SUBVERSION) + " library");
#endif
}

Napi::Value Version(const Napi::CallbackInfo& info) {
  int major = 0, minor = 0;
  MPI_Get_version(&major, &minor);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("major", major);
  o.Set("minor", minor);
  return o;
}

Napi::Value LibraryPath(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), g->libPath); }

Napi::Value Wtime(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), MPI_Wtime()); }

Napi::Value ThreadLevelProvided(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), g->provided); }

Napi::Value SetWaitPolicy(const Napi::CallbackInfo& info) {
  g->policy.store(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

}  // namespace mpistack
