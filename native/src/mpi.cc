// Thin MPI binding for Node.js (issue 3). C++ validates handles and calls MPI;
// argument checks, defaults and messages live in native/index.ts.
//
// One dedicated receive thread per process polls the communicators JS listens
// on and hands messages to JS through a thread-safe function; it also answers
// heartbeat requests natively.
//
// Receiving is matched probe + receive. MPI-3 (Open MPI 1.7+) has it:
// MPI_Improbe/MPI_Mprobe return a message handle that MPI_Mrecv takes, so no
// other thread can steal the message in between. MPI-2.1 (the seed's Open MPI
// 1.6.5) has not: there every probe and receive of this process goes through
// one mutex (MPI_Iprobe, then MPI_Recv of exactly the probed source and tag,
// which by MPI's non-overtaking rule is the probed message), and a blocking
// receive polls that pair with backoff instead of blocking inside MPI. Same
// behaviour, chosen at compile time from MPI_VERSION (see ProbeRecv).
#include <dlfcn.h>
#include <mpi.h>
#include <napi.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

// -DMPISTACK_MATCHED_PROBE=0 builds the MPI-2.1 path against an MPI-3 library (the fallback's unit test)
#ifndef MPISTACK_MATCHED_PROBE
#if MPI_VERSION >= 3
#define MPISTACK_MATCHED_PROBE 1
#else
#define MPISTACK_MATCHED_PROBE 0
#endif
#endif

namespace {

constexpr int kMaxComms = 1024;
constexpr int kStopTag = 32767;  // reserved tag on the private control communicator
enum Policy { kSpin = 0, kYield = 1, kAdaptive = 2 };

struct Slot {
  MPI_Comm comm = MPI_COMM_NULL;
  std::atomic<bool> watched{false};
  std::atomic<int> hbRequest{-1};
  std::atomic<int> hbReply{-1};
  std::mutex hbMutex;
  std::vector<char> hbPayload;
};

// A received message on its way to JS. Owns its bytes until JS owns them.
// tooLarge: a message of 2 GiB or more (its byte count does not fit MPI's
// int), drained and refused: JS gets null instead of a Buffer.
struct Incoming {
  Incoming(int c, int s, int t, size_t n) : comm(c), source(s), tag(t), data(static_cast<char*>(std::malloc(n > 0 ? n : 1))), size(n) {}
  Incoming(const Incoming&) = delete;
  Incoming& operator=(const Incoming&) = delete;
  int comm;
  int source;
  int tag;
  char* data;
  size_t size;
  bool tooLarge = false;
  ~Incoming() { std::free(data); }
};

void CallJs(Napi::Env env, Napi::Function cb, std::nullptr_t*, Incoming* msg);
using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, Incoming, CallJs>;

struct State {
  Slot slots[kMaxComms];
  std::atomic<int> nslots{0};
  MPI_Comm control = MPI_COMM_NULL;  // private dup of COMM_WORLD for the stop message
  int worldRank = 0;
  int provided = -1;
  bool initializedByUs = false;
  std::atomic<int> policy{kAdaptive};
  std::unique_ptr<std::thread> receiver;
  std::atomic<bool> stopRequested{false};
  std::atomic<bool> active{false};  // MPI initialized and not finalized
  Tsfn tsfn;
  bool tsfnLive = false;
  bool tsfnRefed = false;
  Napi::FunctionReference errorCtor;
  Napi::Reference<Napi::Int32Array> statusRef;
  int32_t* statusOut = nullptr;
  int32_t statusFallback[3] = {0, 0, 0};
  std::string libPath;
  napi_env owner = nullptr;  // the one JS environment (thread) that uses MPI
#if !MPISTACK_MATCHED_PROBE
  std::mutex probeRecv;  // MPI-2: every probe + receive pair of the process holds it
#endif
};

State* g = nullptr;  // one per process: MPI is per process too

// ---- errors ---------------------------------------------------------------

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

inline void Check(Napi::Env env, int rc, const char* where) {
  if (rc != MPI_SUCCESS) ThrowMpi(env, rc, where);
}

[[noreturn]] void ThrowState(Napi::Env env, const std::string& what) { throw Napi::Error::New(env, what); }

// ---- message sizes: an MPI count is an int --------------------------------
// A buffer or message of 2 GiB or more is refused with a RangeError, never
// cast to int (which would truncate it: 4 GiB casts to 0).

[[noreturn]] void ThrowTooLarge(Napi::Env env, const char* what, size_t bytes) {
  throw Napi::RangeError::New(env, std::string(what) + " of " + std::to_string(bytes) + " bytes is larger than " + std::to_string(INT_MAX) +
                                       " (2 GiB - 1): an MPI count is an int; send it in pieces");
}

// MPI_Get_count is MPI_UNDEFINED for a message whose byte count does not fit an int.
inline bool CountTooLarge(int count) { return count == MPI_UNDEFINED || count < 0; }

// A receive sized by MPI_Get_count that still reports MPI_ERR_TRUNCATE: the
// count did not describe the message. Open MPI 1.6 (MPI-2.1) probes a 2 GiB +
// 4 KiB message with a wrapped count instead of MPI_UNDEFINED; refused the
// same way.
inline bool Truncated(int rc) {
  int cls = rc;
  return rc != MPI_SUCCESS && MPI_Error_class(rc, &cls) == MPI_SUCCESS && cls == MPI_ERR_TRUNCATE;
}

std::string TooLargeMessage(const MPI_Status& st) {
  return "a message from rank " + std::to_string(st.MPI_SOURCE) + " with tag " + std::to_string(st.MPI_TAG) +
         " is 2 GiB or larger (its byte count does not fit MPI's int): it was received and discarded; send it in pieces";
}

void RequireActive(Napi::Env env) {
  if (g->active.load(std::memory_order_acquire)) return;  // fast path: between our init and finalize
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (!init) ThrowState(env, "MPI is not initialized (call initThread first)");
  if (fin) ThrowState(env, "MPI is already finalized");
}

MPI_Comm CommOf(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  RequireActive(env);
  int h = info[i].As<Napi::Number>().Int32Value();
  if (h < 0 || h >= g->nslots.load(std::memory_order_acquire) || g->slots[h].comm == MPI_COMM_NULL)
    ThrowState(env, "invalid communicator handle " + std::to_string(h));
  return g->slots[h].comm;
}

int AddComm(MPI_Comm c) {
  int h = g->nslots.load();
  if (h >= kMaxComms) return -1;
  g->slots[h].comm = c;
  g->nslots.store(h + 1, std::memory_order_release);
  return h;
}

// ---- the receive thread -----------------------------------------------------

void SleepNs(long ns) {
  struct timespec ts{ns / 1000000000L, ns % 1000000000L};
  nanosleep(&ts, nullptr);
}

// Receive one message matching (source, tag) on c. `alloc(count)` is called
// with the message's byte count and returns where to put it and how many bytes
// fit ({pointer, capacity}); a smaller capacity makes MPI report
// MPI_ERR_TRUNCATE. Non-blocking (block == false) returns with *got == false
// when nothing is waiting. `st` gets the probed status. Returns MPI's rc.
template <class Alloc>
int ProbeRecv(MPI_Comm c, int source, int tag, bool block, bool* got, MPI_Status* st, Alloc alloc) {
  *got = false;
#if MPISTACK_MATCHED_PROBE
  MPI_Message m;
  int flag = 1;
  int rc = block ? MPI_Mprobe(source, tag, c, &m, st) : MPI_Improbe(source, tag, c, &flag, &m, st);
  if (rc != MPI_SUCCESS || !flag) return rc;
  int count = 0;
  MPI_Get_count(st, MPI_BYTE, &count);
  std::pair<void*, int> to = alloc(count);
  *got = true;
  return MPI_Mrecv(to.first, to.second, MPI_BYTE, &m, MPI_STATUS_IGNORE);
#else
  long sleepNs = 1'000;
  for (int polls = 0;; ++polls) {
    {
      std::lock_guard<std::mutex> lock(g->probeRecv);
      int flag = 0;
      int rc = MPI_Iprobe(source, tag, c, &flag, st);
      if (rc != MPI_SUCCESS) return rc;
      if (flag) {
        int count = 0;
        MPI_Get_count(st, MPI_BYTE, &count);
        std::pair<void*, int> to = alloc(count);
        *got = true;
        return MPI_Recv(to.first, to.second, MPI_BYTE, st->MPI_SOURCE, st->MPI_TAG, c, MPI_STATUS_IGNORE);
      }
    }
    if (!block) return MPI_SUCCESS;
    // a blocking receive: poll, yielding at first, then sleeping up to 100 us
    if (polls < 100) { sched_yield(); continue; }
    SleepNs(sleepNs);
    sleepNs = std::min(sleepNs * 2, 100'000L);
  }
#endif
}

void ReceiveLoop() {
  using clock = std::chrono::steady_clock;
  auto idleSince = clock::now();
  long sleepNs = 10'000;
  for (;;) {
    bool got = false;
    bool stop = false;
    // the control communicator first: the stop message
    {
      MPI_Status st;
      char none = 0;
      ProbeRecv(g->control, MPI_ANY_SOURCE, kStopTag, false, &stop, &st, [&](int) { return std::pair<void*, int>(&none, 0); });
    }
    if (stop) break;
    int n = g->nslots.load(std::memory_order_acquire);
    for (int h = 0; h < n; ++h) {
      Slot& s = g->slots[h];
      if (!s.watched.load(std::memory_order_acquire)) continue;
      MPI_Status st;
      bool one = false;
      // owns the bytes from here on (RAII); handed to CallJs on success
      std::unique_ptr<Incoming> msg;
      int rc = ProbeRecv(s.comm, MPI_ANY_SOURCE, MPI_ANY_TAG, false, &one, &st, [&](int count) {
        // 2 GiB or more: drained into nothing (MPI_ERR_TRUNCATE) and refused to JS, never truncated
        bool tooLarge = CountTooLarge(count);
        msg = std::make_unique<Incoming>(h, st.MPI_SOURCE, st.MPI_TAG, tooLarge ? 0 : static_cast<size_t>(count));
        msg->tooLarge = tooLarge;
        return std::pair<void*, int>(msg->data, tooLarge ? 0 : count);
      });
      if (!one) continue;
      got = true;
      if (Truncated(rc)) msg->tooLarge = true;  // MPI's own count was wrong: the bytes are not the message
      if (!msg->tooLarge && st.MPI_TAG == s.hbRequest.load(std::memory_order_acquire)) {
        std::vector<char> payload;
        {
          std::lock_guard<std::mutex> lock(s.hbMutex);
          payload = s.hbPayload;
        }
        MPI_Send(payload.data(), static_cast<int>(payload.size()), MPI_BYTE, st.MPI_SOURCE, s.hbReply.load(), s.comm);
        continue;
      }
      if (g->tsfn.BlockingCall(msg.get()) == napi_ok) msg.release();  // now owned by CallJs; else dropped here
    }
    if (got) {
      idleSince = clock::now();
      sleepNs = 10'000;
      continue;
    }
    if (g->stopRequested.load(std::memory_order_acquire)) break;  // belt and braces
    int p = g->policy.load(std::memory_order_relaxed);
    if (p == kSpin) continue;
    if (p == kYield) { sched_yield(); continue; }
    // adaptive: spin ~50 us, yield until ~500 us, then sleep with backoff up to 1 ms
    auto idle = clock::now() - idleSince;
    if (idle < std::chrono::microseconds(50)) continue;
    if (idle < std::chrono::microseconds(500)) { sched_yield(); continue; }
    SleepNs(sleepNs);
    sleepNs = sleepNs * 2 > 1'000'000 ? 1'000'000 : sleepNs * 2;
  }
}

void CallJs(Napi::Env env, Napi::Function cb, std::nullptr_t*, Incoming* msg) {
  std::unique_ptr<Incoming> owned(msg);
  if (env == nullptr || cb.IsEmpty()) return;  // finalizing: just free
  if (owned->tooLarge) {
    try {
      cb.Call({Napi::Number::New(env, owned->comm), Napi::Number::New(env, owned->source), Napi::Number::New(env, owned->tag), env.Null()});
    } catch (const Napi::Error& e) {
      e.ThrowAsJavaScriptException();
    }
    return;
  }
  char* data = owned->data;
  size_t size = owned->size;
  owned->data = nullptr;
  Napi::Buffer<char> buf = Napi::Buffer<char>::New(env, data, size, [](Napi::Env, char* p) { std::free(p); });
  try {
    cb.Call({Napi::Number::New(env, owned->comm), Napi::Number::New(env, owned->source), Napi::Number::New(env, owned->tag), buf});
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();  // surfaces as an uncaught exception, not std::terminate
  }
}

// Stop and join the receive thread: a self-message on the reserved tag of the
// control communicator. Never leaves a joinable std::thread behind.
void StopReceiver() {
  if (!g || !g->receiver) return;
  g->stopRequested.store(true, std::memory_order_release);
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin) {
    MPI_Request req;
    if (MPI_Isend(nullptr, 0, MPI_BYTE, g->worldRank, kStopTag, g->control, &req) == MPI_SUCCESS) {
      g->receiver->join();
      MPI_Wait(&req, MPI_STATUS_IGNORE);
    } else {
      g->receiver->join();  // the flag ends it
    }
  } else {
    g->receiver->join();
  }
  g->receiver.reset();
}

void ReleaseTsfn() {
  if (g && g->tsfnLive) {
    g->tsfn.Abort();  // pending calls are finalized with env == nullptr (freed)
    g->tsfnLive = false;
  }
}

// ---- finalize paths ---------------------------------------------------------

// Returns MPI's rc (or MPI_SUCCESS if nothing to do).
int DoFinalize() {
  g->active.store(false, std::memory_order_release);
  StopReceiver();
  ReleaseTsfn();
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (!init || fin) return MPI_SUCCESS;
  if (g->control != MPI_COMM_NULL) MPI_Comm_free(&g->control);
  for (int h = 1; h < g->nslots.load(); ++h)
    if (g->slots[h].comm != MPI_COMM_NULL) g->slots[h].watched.store(false);
  return MPI_Finalize();
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

void ReceiverCleanupHook(void* arg) {
  if (!g || g->owner != static_cast<napi_env>(arg)) return;
  DoFinalize();
}

// ---- exported functions -----------------------------------------------------

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  g->errorCtor = Napi::Persistent(info[0].As<Napi::Function>());
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
    Check(env, MPI_Comm_dup(MPI_COMM_WORLD, &g->control), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(g->control, MPI_ERRORS_RETURN);
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

Napi::Value CommRank(const Napi::CallbackInfo& info) {
  MPI_Comm c = CommOf(info, 0);
  int r = 0;
  Check(info.Env(), MPI_Comm_rank(c, &r), "MPI_Comm_rank");
  return Napi::Number::New(info.Env(), r);
}

Napi::Value CommSize(const Napi::CallbackInfo& info) {
  MPI_Comm c = CommOf(info, 0);
  int r = 0;
  Check(info.Env(), MPI_Comm_size(c, &r), "MPI_Comm_size");
  return Napi::Number::New(info.Env(), r);
}

Napi::Value CommDup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MPI_Comm c = CommOf(info, 0);
  if (g->nslots.load() >= kMaxComms) ThrowState(env, "too many communicators");
  MPI_Comm d;
  Check(env, MPI_Comm_dup(c, &d), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(d, MPI_ERRORS_RETURN);
  return Napi::Number::New(env, AddComm(d));
}

struct Bytes {
  void* data;
  size_t size;
};
// One N-API call: data is already adjusted by the byte offset. TS passes Uint8Arrays only.
Bytes BytesOf(const Napi::Value& v) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(v.Env(), v, &type, &length, &data, nullptr, nullptr) != napi_ok || type != napi_uint8_array)
    ThrowState(v.Env(), "expected a Uint8Array");
  return {data, length};
}

// The last status goes into a shared Int32Array [source, tag, count] that
// TypeScript reads: cheaper than building an object per call.
void PutStatus(const MPI_Status& st, int count) {
  g->statusOut[0] = st.MPI_SOURCE;
  g->statusOut[1] = st.MPI_TAG;
  g->statusOut[2] = count;
}

Napi::Value Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MPI_Comm c = CommOf(info, 0);
  Bytes b = BytesOf(info[1]);
  int dest = info[2].As<Napi::Number>().Int32Value();
  int tag = info[3].As<Napi::Number>().Int32Value();
  if (b.size > static_cast<size_t>(INT_MAX)) ThrowTooLarge(env, "send buffer", b.size);
  Check(env, MPI_Send(b.data, static_cast<int>(b.size), MPI_BYTE, dest, tag, c), "MPI_Send");
  return env.Undefined();
}

Napi::Value SetStatusArray(const Napi::CallbackInfo& info) {
  Napi::Int32Array a = info[0].As<Napi::Int32Array>();
  if (a.ElementLength() < 3) ThrowState(info.Env(), "status array needs 3 elements");
  g->statusRef = Napi::Persistent(a);
  g->statusOut = a.Data();
  return info.Env().Undefined();
}

// The name a failed blocking probe + receive reports.
constexpr const char* kRecvCall = MPISTACK_MATCHED_PROBE ? "MPI_Mprobe/MPI_Mrecv" : "MPI_Iprobe/MPI_Recv";

Napi::Value Recv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MPI_Comm c = CommOf(info, 0);
  int source = info[1].As<Napi::Number>().Int32Value();
  int tag = info[2].As<Napi::Number>().Int32Value();
  MPI_Status st;
  bool got = false;
  bool tooLarge = false;
  int count = 0;
  std::unique_ptr<char, decltype(&std::free)> data(nullptr, &std::free);
  int rc = ProbeRecv(c, source, tag, true, &got, &st, [&](int n) {
    tooLarge = CountTooLarge(n);  // drained into nothing (MPI reports MPI_ERR_TRUNCATE), refused below
    count = tooLarge ? 0 : n;
    data.reset(static_cast<char*>(std::malloc(count > 0 ? count : 1)));
    return std::pair<void*, int>(data.get(), count);
  });
  // the buffer was as large as MPI said the message is: a truncation means MPI's count was wrong
  if (tooLarge || Truncated(rc)) throw Napi::RangeError::New(env, "recv: " + TooLargeMessage(st));
  Check(env, rc, kRecvCall);
  PutStatus(st, count);
  return Napi::Buffer<char>::New(env, data.release(), count, [](Napi::Env, char* p) { std::free(p); });
}

Napi::Value RecvInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MPI_Comm c = CommOf(info, 0);
  Bytes b = BytesOf(info[1]);
  int source = info[2].As<Napi::Number>().Int32Value();
  int tag = info[3].As<Napi::Number>().Int32Value();
  MPI_Status st;
  bool got = false;
  bool tooLarge = false;
  int count = 0;
  // A message larger than the buffer is received truncated: MPI reports MPI_ERR_TRUNCATE.
  // A buffer of 2 GiB or more holds any message that fits an int count: clamp, never wrap.
  int rc = ProbeRecv(c, source, tag, true, &got, &st, [&](int n) {
    tooLarge = CountTooLarge(n);  // drained into nothing, refused below
    count = n;
    int capacity = tooLarge ? 0 : b.size > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(b.size);
    return std::pair<void*, int>(b.data, capacity);
  });
  if (tooLarge) throw Napi::RangeError::New(env, "recvInto: " + TooLargeMessage(st));
  Check(env, rc, kRecvCall);
  PutStatus(st, count);
  return env.Undefined();
}

Napi::Value Iprobe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MPI_Comm c = CommOf(info, 0);
  int source = info[1].As<Napi::Number>().Int32Value();
  int tag = info[2].As<Napi::Number>().Int32Value();
  int flag = 0;
  MPI_Status st;
  Check(env, MPI_Iprobe(source, tag, c, &flag, &st), "MPI_Iprobe");
  if (!flag) return Napi::Boolean::New(env, false);
  int count = 0;
  MPI_Get_count(&st, MPI_BYTE, &count);
  PutStatus(st, CountTooLarge(count) ? -1 : count);  // -1: 2 GiB or more, which recv refuses
  return Napi::Boolean::New(env, true);
}

Napi::Value Barrier(const Napi::CallbackInfo& info) {
  MPI_Comm c = CommOf(info, 0);
  Check(info.Env(), MPI_Barrier(c), "MPI_Barrier");
  return info.Env().Undefined();
}

Napi::Value Bcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MPI_Comm c = CommOf(info, 0);
  int root = info[2].As<Napi::Number>().Int32Value();
  int me = 0;
  Check(env, MPI_Comm_rank(c, &me), "MPI_Comm_rank");
  long long len = 0;
  Bytes b{nullptr, 0};
  if (me == root) {
    b = BytesOf(info[1]);
    len = static_cast<long long>(b.size);
  }
  Check(env, MPI_Bcast(&len, 1, MPI_LONG_LONG, root, c), "MPI_Bcast");
  // every rank has the root's length now: all refuse together, none waits in the second bcast
  if (len > static_cast<long long>(INT_MAX)) ThrowTooLarge(env, "bcast buffer (at the root)", static_cast<size_t>(len));
  Napi::Buffer<char> out = Napi::Buffer<char>::New(env, static_cast<size_t>(len));
  if (me == root && len > 0) std::memcpy(out.Data(), b.data, len);
  Check(env, MPI_Bcast(out.Data(), static_cast<int>(len), MPI_BYTE, root, c), "MPI_Bcast");
  return out;
}

// startReceiver(onMessage): create the thread-safe function and the thread (once).
Napi::Value StartReceiver(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env);
  if (g->receiver) return env.Undefined();
  g->tsfn = Tsfn::New(env, info[0].As<Napi::Function>(), "mpistack-recv", 0, 1, nullptr);
  // Cleanup hooks run in reverse order: this one runs before the thread-safe
  // function's own, so the thread is joined while the function is still valid.
  napi_add_env_cleanup_hook(env, ReceiverCleanupHook, static_cast<napi_env>(env));
  g->tsfn.Unref(env);
  g->tsfnLive = true;
  g->tsfnRefed = false;
  g->stopRequested.store(false);
  g->receiver = std::make_unique<std::thread>(ReceiveLoop);
  return env.Undefined();
}

// refReceiver(bool): keep the event loop alive while receives are pending.
Napi::Value RefReceiver(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool on = info[0].As<Napi::Boolean>().Value();
  if (g->tsfnLive && on != g->tsfnRefed) {
    if (on) g->tsfn.Ref(env); else g->tsfn.Unref(env);
    g->tsfnRefed = on;
  }
  return env.Undefined();
}

Napi::Value Watch(const Napi::CallbackInfo& info) {
  MPI_Comm c = CommOf(info, 0);
  (void)c;
  g->slots[info[0].As<Napi::Number>().Int32Value()].watched.store(true, std::memory_order_release);
  return info.Env().Undefined();
}

Napi::Value EnableHeartbeat(const Napi::CallbackInfo& info) {
  CommOf(info, 0);
  Slot& s = g->slots[info[0].As<Napi::Number>().Int32Value()];
  s.hbReply.store(info[2].As<Napi::Number>().Int32Value());
  s.hbRequest.store(info[1].As<Napi::Number>().Int32Value(), std::memory_order_release);
  s.watched.store(true, std::memory_order_release);
  return info.Env().Undefined();
}

Napi::Value SetHeartbeatPayload(const Napi::CallbackInfo& info) {
  CommOf(info, 0);
  Slot& s = g->slots[info[0].As<Napi::Number>().Int32Value()];
  Bytes b = BytesOf(info[1]);
  if (b.size > static_cast<size_t>(INT_MAX)) ThrowTooLarge(info.Env(), "heartbeat payload", b.size);
  std::lock_guard<std::mutex> lock(s.hbMutex);
  s.hbPayload.assign(static_cast<char*>(b.data), static_cast<char*>(b.data) + b.size);
  return info.Env().Undefined();
}

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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (g == nullptr) g = new State();  // never deleted: MPI state lives as long as the process
  if (g->owner != nullptr && g->owner != static_cast<napi_env>(env)) {
    // MPI state is per process; one JS thread owns it (a worker cannot share it)
    throw Napi::Error::New(env, "the MPI binding is already loaded by another JavaScript thread of this process");
  }
  g->owner = env;
  g->libPath = PromoteLibmpi();
  g->statusOut = g->statusFallback;
  napi_add_env_cleanup_hook(env, CleanupHook, static_cast<napi_env>(env));
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
      {"commDup", CommDup}, {"send", Send}, {"recv", Recv}, {"recvInto", RecvInto},
      {"iprobe", Iprobe}, {"barrier", Barrier}, {"bcast", Bcast}, {"startReceiver", StartReceiver},
      {"refReceiver", RefReceiver}, {"watch", Watch}, {"enableHeartbeat", EnableHeartbeat},
      {"setHeartbeatPayload", SetHeartbeatPayload},
  };
  for (const Fn& f : fns) exports.Set(f.name, Napi::Function::New(env, f.fn, f.name));
  exports.Set("ANY_SOURCE", Napi::Number::New(env, MPI_ANY_SOURCE));
  exports.Set("ANY_TAG", Napi::Number::New(env, MPI_ANY_TAG));
  exports.Set("MATCHED_PROBE", Napi::Boolean::New(env, MPISTACK_MATCHED_PROBE != 0));
  return exports;
}

}  // namespace

NODE_API_MODULE(mpi, Init)
