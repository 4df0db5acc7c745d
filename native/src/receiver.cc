// The receive thread: one per process, started by the first recvAsync or
// enableHeartbeat. It polls the communicators JS listens on, hands messages
// to JS through a thread-safe function (JsChannel), and answers heartbeat
// requests itself, without waking JS. Its wait between polls follows the
// wait policy (spin, yield, or adaptive: spin, then yield, then sleep with
// backoff).
#include <chrono>

#include "receive.h"
#include "state.h"

namespace mpistack {

namespace {

// One non-blocking receive on slot h; true when a message was taken (delivered, answered or refused).
bool PollSlot(int h) {
  Slot& s = g->slots[h];
  MPI_Status st;
  bool one = false;
  // owns the bytes from here on (RAII); handed to CallJs on success
  std::unique_ptr<Incoming> msg;
  int rc = ProbeRecv(s.comm, MPI_ANY_SOURCE, MPI_ANY_TAG, false, &one, &st, [&](int count) {
    // 2 GiB or more: drained into nothing (MPI_ERR_TRUNCATE) and refused to JS, never truncated
    bool tooLarge = CountTooLarge(count);
    msg = std::make_unique<Incoming>(h, st.MPI_SOURCE, st.MPI_TAG, tooLarge ? 0 : static_cast<size_t>(count));
    msg->tooLarge = tooLarge;
    return std::pair<void*, int>(msg->data.get(), tooLarge ? 0 : count);
  });
  if (!one) return false;
  if (Truncated(rc)) msg->tooLarge = true;  // MPI's own count was wrong: the bytes are not the message
  if (!msg->tooLarge && st.MPI_TAG == s.hbRequest.load(std::memory_order_acquire)) {
    std::vector<char> payload;
    {
      std::lock_guard<std::mutex> lock(s.hbMutex);
      payload = s.hbPayload;
    }
    MPI_Send(payload.data(), static_cast<int>(payload.size()), MPI_BYTE, st.MPI_SOURCE, s.hbReply.load(), s.comm);
    return true;
  }
  if (g->channel.Send(msg.get())) msg.release();  // now owned by CallJs; else freed here
  return true;
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
      ProbeRecv(g->control.comm, MPI_ANY_SOURCE, kStopTag, false, &stop, &st, [&](int) { return std::pair<void*, int>(&none, 0); });
    }
    if (stop) break;
    int n = g->nslots.load(std::memory_order_acquire);
    for (int h = 0; h < n; ++h) {
      if (g->slots[h].watched.load(std::memory_order_acquire) && PollSlot(h)) got = true;
    }
    if (got) {
      idleSince = clock::now();
      sleepNs = 10'000;
      continue;
    }
    if (g->stopRequested.load(std::memory_order_acquire)) break;  // belt and braces
    int p = g->policy.load(std::memory_order_relaxed);
    if (p == kSpin) continue;
    if (p == kYield) {
      sched_yield();
      continue;
    }
    // adaptive: spin ~50 us, yield until ~500 us, then sleep with backoff up to 1 ms
    auto idle = clock::now() - idleSince;
    if (idle < std::chrono::microseconds(50)) continue;
    if (idle < std::chrono::microseconds(500)) {
      sched_yield();
      continue;
    }
    SleepNs(sleepNs);
    sleepNs = sleepNs * 2 > 1'000'000 ? 1'000'000 : sleepNs * 2;
  }
}

// The send that wakes the receive thread for its stop; waited for when it goes out of scope.
struct StopSend {
  MPI_Request req = MPI_REQUEST_NULL;
  bool Post() { return MPI_Isend(nullptr, 0, MPI_BYTE, g->worldRank, kStopTag, g->control.comm, &req) == MPI_SUCCESS; }
  ~StopSend() {
    if (req != MPI_REQUEST_NULL) MPI_Wait(&req, MPI_STATUS_IGNORE);
  }
};

// Env teardown: finalize before the thread-safe function's own cleanup (see StartReceiver).
void ReceiverCleanupHook(void* arg);

}  // namespace

void CallJs(Napi::Env env, Napi::Function cb, std::nullptr_t*, Incoming* msg) {
  std::unique_ptr<Incoming> owned(msg);
  if (env == nullptr || cb.IsEmpty()) return;  // finalizing: just free
  Napi::Value data = env.Null();
  if (!owned->tooLarge) {
    size_t size = owned->size;
    data = Napi::Buffer<char>::New(env, owned->data.release(), size, [](Napi::Env, char* p) { std::free(p); });
  }
  try {
    cb.Call({Napi::Number::New(env, owned->comm), Napi::Number::New(env, owned->source), Napi::Number::New(env, owned->tag), data});
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();  // surfaces as an uncaught exception, not std::terminate
  }
}

// Stop and join the receive thread: a self-message on the reserved tag of the
// control communicator. Never leaves a joinable std::thread behind.
void StopReceiver() {
  if (!g || !g->receiver.joinable()) return;
  g->stopRequested.store(true, std::memory_order_release);
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  StopSend wake;  // declared before the join: waited for after it
  if (init && !fin) wake.Post();  // if it cannot be posted, the flag ends the thread
  g->receiver.join();
}

namespace {
void ReceiverCleanupHook(void* arg) {
  if (!g || g->owner != static_cast<napi_env>(arg)) return;
  DoFinalize();
}
}  // namespace

// startReceiver(onMessage): create the thread-safe function and the thread (once).
Napi::Value StartReceiver(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env);
  if (g->receiver.joinable()) return env.Undefined();
  g->channel.Open(env, info[0].As<Napi::Function>());
  // Cleanup hooks run in reverse order: this one runs before the thread-safe
  // function's own, so the thread is joined while the function is still valid.
  napi_add_env_cleanup_hook(env, ReceiverCleanupHook, static_cast<napi_env>(env));
  g->stopRequested.store(false);
  g->receiver = std::thread(ReceiveLoop);
  return env.Undefined();
}

// refReceiver(bool): keep the event loop alive while receives are pending.
Napi::Value RefReceiver(const Napi::CallbackInfo& info) {
  g->channel.Ref(info.Env(), info[0].As<Napi::Boolean>().Value());
  return info.Env().Undefined();
}

Napi::Value Watch(const Napi::CallbackInfo& info) {
  CommOf(info, 0);
  SlotOf(info, 0).watched.store(true, std::memory_order_release);
  return info.Env().Undefined();
}

Napi::Value EnableHeartbeat(const Napi::CallbackInfo& info) {
  CommOf(info, 0);
  Slot& s = SlotOf(info, 0);
  s.hbReply.store(info[2].As<Napi::Number>().Int32Value());
  s.hbRequest.store(info[1].As<Napi::Number>().Int32Value(), std::memory_order_release);
  s.watched.store(true, std::memory_order_release);
  return info.Env().Undefined();
}

Napi::Value SetHeartbeatPayload(const Napi::CallbackInfo& info) {
  CommOf(info, 0);
  Slot& s = SlotOf(info, 0);
  Bytes b = BytesOf(info[1]);
  if (b.size > static_cast<size_t>(INT_MAX)) ThrowTooLarge(info.Env(), "heartbeat payload", b.size);
  std::lock_guard<std::mutex> lock(s.hbMutex);
  s.hbPayload.assign(static_cast<char*>(b.data), static_cast<char*>(b.data) + b.size);
  return info.Env().Undefined();
}

}  // namespace mpistack
