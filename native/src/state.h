// The binding's shared state and the small helpers every part uses. One State
// per process (MPI is per process too), created at module load, never freed.
//
// The parts, by job:
//   receive.h    the receive primitive (matched probe on MPI-3, serialised
//                MPI_Iprobe + MPI_Recv on MPI-2.1) and the 2 GiB size checks
//   receiver.cc  the receive thread, its hand-over to JS, the heartbeat
//   lifecycle.cc init, finalize (and the env cleanup hooks), abort, facts
//   comm.cc      communicator methods: rank, size, dup, send, recv, probe, bcast
//   addon.cc     registration: the exported function table
#pragma once

#include <mpi.h>
#include <napi.h>
#include <uv.h>

#include <atomic>
#include <climits>
#include <condition_variable>
#include <deque>
#include <cstdlib>
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

namespace mpistack {

constexpr int kMaxComms = 1024;
constexpr int kStopTag = 32767;  // reserved tag on the private control communicator
enum Policy { kSpin = 0, kYield = 1, kAdaptive = 2 };

// Bytes from malloc, freed by RAII (and handed to a Napi::Buffer's finalizer with release()).
struct Free {
  void operator()(char* p) const { std::free(p); }
};
using MallocBytes = std::unique_ptr<char, Free>;
inline MallocBytes Allocate(size_t n) { return MallocBytes(static_cast<char*>(std::malloc(n > 0 ? n : 1))); }

// A communicator the binding knows, by handle (its index in State::slots).
struct Slot {
  MPI_Comm comm = MPI_COMM_NULL;
  std::atomic<bool> watched{false};
  std::atomic<int> hbRequest{-1};
  std::atomic<int> hbReply{-1};
  std::mutex hbMutex;
  std::vector<char> hbPayload;
};

// A received message on its way to JS (in State::inbox). Owns its bytes
// until JS owns them. tooLarge: a message of 2 GiB or more (its byte count
// does not fit MPI's int), drained and refused: JS gets null, not a Buffer.
struct Incoming {
  Incoming(int c, int s, int t, size_t n) : comm(c), source(s), tag(t), data(Allocate(n)), size(n) {}
  int comm;
  int source;
  int tag;
  MallocBytes data;
  size_t size;
  bool tooLarge = false;
};

void CallJs(Napi::Env env, Napi::Function cb, std::nullptr_t*, std::nullptr_t*);
using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, std::nullptr_t, CallJs>;

// The thread-safe function by which the receive thread wakes JS when it has
// put messages in the inbox (JS then takes them): created by startReceiver,
// referenced while JS waits for messages, aborted when MPI is finalized or
// the env goes away. Wake-ups are coalesced: one is outstanding at a time.
class JsChannel {
 public:
  void Open(Napi::Env env, Napi::Function cb) {
    fn_ = Tsfn::New(env, cb, "mpistack-recv", 0, 1, nullptr);
    fn_.Unref(env);
    live_ = true;
    refed_ = false;
  }
  bool Live() const { return live_; }
  void Ref(Napi::Env env, bool on) {
    if (!live_ || on == refed_) return;
    if (on) fn_.Ref(env); else fn_.Unref(env);
    refed_ = on;
  }
  // from the receive thread; false when the channel is closing
  bool Wake() { return fn_.NonBlockingCall(nullptr) == napi_ok; }
  void Abort() {
    if (!live_) return;
    fn_.Abort();  // pending calls are finalized with env == nullptr (freed)
    live_ = false;
  }
  ~JsChannel() { Abort(); }

 private:
  Tsfn fn_;
  bool live_ = false;
  bool refed_ = false;
};

// A communicator the binding created and frees (never after MPI_Finalize).
struct OwnedComm {
  MPI_Comm comm = MPI_COMM_NULL;
  void Free() {
    int fin = 0;
    MPI_Finalized(&fin);
    if (comm != MPI_COMM_NULL && !fin) MPI_Comm_free(&comm);
    comm = MPI_COMM_NULL;
  }
  ~OwnedComm() { Free(); }
};

// A send isend() posted and MPI may not have finished (its bytes, copied, are freed with it).
struct PendingSend {
  int dest;
  int tag;
  MallocBytes data;
};

struct State {
  Slot slots[kMaxComms];
  std::atomic<int> nslots{0};
  OwnedComm control;  // private dup of COMM_WORLD for the stop message
  int worldRank = 0;
  int provided = -1;
  bool initializedByUs = false;
  std::atomic<int> policy{kAdaptive};
  std::thread receiver;
  std::atomic<bool> stopRequested{false};
  std::atomic<bool> active{false};  // MPI initialized and not finalized
  JsChannel channel;
  // Received messages in arrival order, until JS takes them. The receive
  // thread holds recvMutex from its probe until the message is in the inbox,
  // and so does JS while it receives itself (take): a message JS receives can
  // never overtake one the thread has already received.
  std::mutex recvMutex;
  std::mutex inboxMutex;
  std::deque<std::unique_ptr<Incoming>> inbox;
  std::atomic<bool> wakePending{false};
  // JS is receiving on its own thread (take with a budget) and will again
  // soon, or the receive thread has just woken it with messages: the receive
  // thread parks instead of polling (it would only compete for the core),
  // until the event loop is about to wait for I/O (a uv_prepare hook clears
  // the flag). Once a millisecond it makes one round for heartbeat requests,
  // except on the slot JS itself polled within that millisecond (JS answers
  // those in take).
  std::atomic<bool> jsHot{false};
  // JS is inside take() now / when it last left it (steady_clock ticks) / on which slot: while it
  // polls a slot, it answers that slot's heartbeat requests itself and the parked thread leaves it alone
  std::atomic<bool> inTake{false};
  std::atomic<long long> tookAt{0};
  std::atomic<int> tookSlot{-1};
  std::mutex parkMutex;
  std::condition_variable park;
  uv_prepare_t* loopIdle = nullptr;
  Napi::FunctionReference errorCtor;
  Napi::Reference<Napi::Int32Array> statusRef;
  int32_t* statusOut = nullptr;
  int32_t statusFallback[4] = {0, 0, 0, 0};
  // isend()'s sends in flight, JS thread only: requests and their bytes, index for index; and the
  // first one MPI reported failed after isend() had returned (the next isend() throws it)
  std::vector<MPI_Request> sendReqs;
  std::vector<PendingSend> sends;
  int sendFailure = MPI_SUCCESS;
  int failedDest = -1;
  int failedTag = -1;
  std::string libPath;
  napi_env owner = nullptr;  // the one JS environment (thread) that uses MPI
#if !MPISTACK_MATCHED_PROBE
  std::mutex probeRecv;  // MPI-2: every probe + receive pair of the process holds it
#endif
};

extern State* g;

// ---- errors -------------------------------------------------------------------

// An MPIError (the class JS registered with setErrorClass) for a failed MPI call.
[[noreturn]] void ThrowMpi(Napi::Env env, int code, const char* where);

inline void Check(Napi::Env env, int rc, const char* where) {
  if (rc != MPI_SUCCESS) ThrowMpi(env, rc, where);
}

[[noreturn]] inline void ThrowState(Napi::Env env, const std::string& what) { throw Napi::Error::New(env, what); }

// ---- handles ------------------------------------------------------------------

// Throws unless MPI is initialized and not finalized.
void RequireActive(Napi::Env env);

// The communicator of handle info[i] (validated).
MPI_Comm CommOf(const Napi::CallbackInfo& info, size_t i);

// The slot of a handle CommOf has validated.
inline Slot& SlotOf(const Napi::CallbackInfo& info, size_t i) { return g->slots[info[i].As<Napi::Number>().Int32Value()]; }

// Registers a communicator; its handle, or -1 when the table is full.
int AddComm(MPI_Comm c);

// ---- bytes --------------------------------------------------------------------

struct Bytes {
  void* data;
  size_t size;
};

// A Uint8Array's bytes (adjusted by its offset), in one N-API call.
Bytes BytesOf(const Napi::Value& v);

// The last status goes into a shared Int32Array [source, tag, count, handle]
// that TypeScript reads: cheaper than building an object per call.
inline void PutStatus(int source, int tag, int count, int handle = 0) {
  g->statusOut[0] = source;
  g->statusOut[1] = tag;
  g->statusOut[2] = count;
  g->statusOut[3] = handle;
}
inline void PutStatus(const MPI_Status& st, int count) { PutStatus(st.MPI_SOURCE, st.MPI_TAG, count); }

// ---- the exported functions, by file --------------------------------------------

// lifecycle.cc
// Stop the receive thread, abort the channel, free the binding's communicators, MPI_Finalize. Returns MPI's rc.
int DoFinalize();
// At module load: the state, the libmpi promotion, the env cleanup hook.
void InitState(Napi::Env env);
Napi::Value SetErrorClass(const Napi::CallbackInfo& info);
Napi::Value SetStatusArray(const Napi::CallbackInfo& info);
Napi::Value InitThread(const Napi::CallbackInfo& info);
Napi::Value IsInitialized(const Napi::CallbackInfo& info);
Napi::Value IsFinalized(const Napi::CallbackInfo& info);
Napi::Value Finalize(const Napi::CallbackInfo& info);
Napi::Value Abort(const Napi::CallbackInfo& info);
Napi::Value ProcessorName(const Napi::CallbackInfo& info);
Napi::Value LibraryVersion(const Napi::CallbackInfo& info);
Napi::Value Version(const Napi::CallbackInfo& info);
Napi::Value LibraryPath(const Napi::CallbackInfo& info);
Napi::Value Wtime(const Napi::CallbackInfo& info);
Napi::Value ThreadLevelProvided(const Napi::CallbackInfo& info);
Napi::Value SetWaitPolicy(const Napi::CallbackInfo& info);

// comm.cc
Napi::Value CommRank(const Napi::CallbackInfo& info);
Napi::Value CommSize(const Napi::CallbackInfo& info);
Napi::Value CommDup(const Napi::CallbackInfo& info);
Napi::Value Send(const Napi::CallbackInfo& info);
Napi::Value Isend(const Napi::CallbackInfo& info);
Napi::Value Recv(const Napi::CallbackInfo& info);
Napi::Value RecvInto(const Napi::CallbackInfo& info);
Napi::Value Iprobe(const Napi::CallbackInfo& info);
Napi::Value Barrier(const Napi::CallbackInfo& info);
Napi::Value Bcast(const Napi::CallbackInfo& info);

// receiver.cc
Napi::Value StartReceiver(const Napi::CallbackInfo& info);
Napi::Value RefReceiver(const Napi::CallbackInfo& info);
Napi::Value Watch(const Napi::CallbackInfo& info);
Napi::Value EnableHeartbeat(const Napi::CallbackInfo& info);
Napi::Value SetHeartbeatPayload(const Napi::CallbackInfo& info);
Napi::Value Take(const Napi::CallbackInfo& info);
// Stop and join the receive thread (lifecycle.cc calls it before MPI_Finalize).
void StopReceiver();
// Free what isend() posted and MPI has finished (comm.cc); `waitNs` > 0: wait up to that long
// for all of them (before MPI_Finalize), then free the requests of the rest. Returns how many are left.
size_t ReapSends(long long waitNs = 0);

}  // namespace mpistack
