// Receiving for JS. One receive thread per process, started by the first
// recvAsync, listen or enableHeartbeat, polls the communicators JS listens
// on, answers heartbeat requests itself (without waking JS), and puts every
// other message in the inbox, waking JS (one coalesced wake-up through the
// thread-safe function) to take them. Its wait between polls follows the
// wait policy (spin, yield, or adaptive: spin, then yield, then sleep with
// backoff).
//
// JS can also receive on its own thread (take), when it expects a message
// soon: it takes what the inbox holds first, then probes the communicator
// itself for a bounded time, holding recvMutex so that the receive thread,
// which holds it from its probe until the message is in the inbox, can
// neither be halfway through an earlier message nor overtake. A heartbeat
// request met there is answered the same way, in C++.
#include <chrono>

#include "receive.h"
#include "state.h"

namespace mpistack {

namespace {

using Clock = std::chrono::steady_clock;

// take() hands messages up to this size to JS as a copy (see its end)
constexpr size_t kCopyBytes = 4096;

// One non-blocking receive on slot h. *got: a message was taken. Returns it,
// or nullptr when there was none or it was a heartbeat request (answered here).
std::unique_ptr<Incoming> ReceiveOne(int h, bool* got) {
  Slot& s = g->slots[h];
  MPI_Status st;
  // owns the bytes from here on (RAII)
  std::unique_ptr<Incoming> msg;
  int rc = ProbeRecv(s.comm, MPI_ANY_SOURCE, MPI_ANY_TAG, false, got, &st, [&](int count) {
    // 2 GiB or more: drained into nothing (MPI_ERR_TRUNCATE) and refused to JS, never truncated
    bool tooLarge = CountTooLarge(count);
    msg = std::make_unique<Incoming>(h, st.MPI_SOURCE, st.MPI_TAG, tooLarge ? 0 : static_cast<size_t>(count));
    msg->tooLarge = tooLarge;
    return std::pair<void*, int>(msg->data.get(), tooLarge ? 0 : count);
  });
  if (!*got) return nullptr;
  if (Truncated(rc)) msg->tooLarge = true;  // MPI's own count was wrong: the bytes are not the message
  if (!msg->tooLarge && st.MPI_TAG == s.hbRequest.load(std::memory_order_acquire)) {
    std::vector<char> payload;
    {
      std::lock_guard<std::mutex> lock(s.hbMutex);
      payload = s.hbPayload;
    }
    MPI_Send(payload.data(), static_cast<int>(payload.size()), MPI_BYTE, st.MPI_SOURCE, s.hbReply.load(), s.comm);
    return nullptr;
  }
  return msg;
}

std::unique_ptr<Incoming> PopInbox() {
  std::lock_guard<std::mutex> lock(g->inboxMutex);
  if (g->inbox.empty()) return nullptr;
  std::unique_ptr<Incoming> msg = std::move(g->inbox.front());
  g->inbox.pop_front();
  return msg;
}

// The slot JS receives on itself: it is inside take() on it, or left take() less than a park period
// ago (so it sees that slot's heartbeat requests); -1 when neither.
int JsPollingSlot() {
  int h = g->tookSlot.load(std::memory_order_acquire);
  if (g->inTake.load(std::memory_order_acquire)) return h;
  long long since = Clock::now().time_since_epoch().count() - g->tookAt.load(std::memory_order_acquire);
  return since < std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(1)).count() ? h : -1;
}

// Some watched slot other than `except`.
bool OtherWatched(int except) {
  int n = g->nslots.load(std::memory_order_acquire);
  for (int h = 0; h < n; ++h)
    if (h != except && g->slots[h].watched.load(std::memory_order_acquire)) return true;
  return false;
}

// From the receive thread: one poll of slot h; true when a message was taken.
bool PollSlot(int h) {
  std::lock_guard<std::mutex> receiving(g->recvMutex);
  bool got = false;
  std::unique_ptr<Incoming> msg = ReceiveOne(h, &got);
  if (msg) {
    {
      std::lock_guard<std::mutex> lock(g->inboxMutex);
      g->inbox.push_back(std::move(msg));
    }
    // JS has work now and takes the rest itself: park until its loop waits again (set before the
    // wake, so the prepare hook that follows the wake-up always clears it)
    g->jsHot.store(true, std::memory_order_release);
    if (!g->wakePending.exchange(true, std::memory_order_acq_rel)) g->channel.Wake();
  }
  return got;
}

// The event loop is about to wait for I/O: JS is no longer receiving itself, the receive thread takes over.
void OnLoopIdle(uv_prepare_t*) {
  if (!g->jsHot.load(std::memory_order_relaxed)) return;
  {
    std::lock_guard<std::mutex> lock(g->parkMutex);
    g->jsHot.store(false, std::memory_order_release);
  }
  g->park.notify_one();
}

void ReceiveLoop() {
  using clock = std::chrono::steady_clock;
  auto idleSince = clock::now();
  for (;;) {
    int skip = -1;  // the slot JS polls itself this round
    if (g->jsHot.load(std::memory_order_acquire)) {
      std::unique_lock<std::mutex> lock(g->parkMutex);
      bool woken = g->park.wait_for(lock, std::chrono::milliseconds(1), [] {
        return !g->jsHot.load(std::memory_order_acquire) || g->stopRequested.load(std::memory_order_acquire);
      });
      // woken: JS went back to its event loop, a message it waits for may come any moment
      if (woken) {
        idleSince = clock::now();
      } else if ((skip = JsPollingSlot()) >= 0 && !OtherWatched(skip)) {
        // JS receives on its own (take) and answers that slot's heartbeat requests there: a round
        // here would only take recvMutex from it and cost both threads a context switch
        continue;
      }
      // else one round for heartbeats (JS is busy elsewhere, a long command), skipping the slot JS polls
    }
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
      if (h != skip && g->slots[h].watched.load(std::memory_order_acquire) && PollSlot(h)) got = true;
    }
    if (got) {
      idleSince = clock::now();
      continue;
    }
    if (g->stopRequested.load(std::memory_order_acquire)) break;  // belt and braces
    int p = g->policy.load(std::memory_order_relaxed);
    if (p == kSpin) continue;
    if (p == kYield) {
      sched_yield();
      continue;
    }
    // adaptive: spin ~50 us, yield until ~500 us, then sleep an eighth of the time idle so far
    // (10 us to 2 ms): a message that comes after a quiet spell waits at most ~1/8 longer than
    // it took, and an idle thread wakes ~30 times in its first 16 ms, then every 2 ms (~2% of a
    // core on a 2-core VM, where every wake-up is a timer exit to the hypervisor)
    long idleNs = std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - idleSince).count();
    if (idleNs < 50'000) continue;
    if (idleNs < 500'000) {
      sched_yield();
      continue;
    }
    SleepNs(std::clamp(idleNs / 8, 10'000L, 2'000'000L));
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

void CallJs(Napi::Env env, Napi::Function cb, std::nullptr_t*, std::nullptr_t*) {
  if (env == nullptr || cb.IsEmpty()) return;  // finalizing
  // cleared before JS takes: a message put in the inbox from now on wakes JS again
  g->wakePending.store(false, std::memory_order_release);
  try {
    cb.Call({});
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();  // surfaces as an uncaught exception, not std::terminate
  }
}

// Stop and join the receive thread: a self-message on the reserved tag of the
// control communicator. Never leaves a joinable std::thread behind.
void StopReceiver() {
  if (!g || !g->receiver.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(g->parkMutex);
    g->stopRequested.store(true, std::memory_order_release);
  }
  g->park.notify_one();
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
  if (g->loopIdle) {
    uv_prepare_stop(g->loopIdle);
    uv_close(reinterpret_cast<uv_handle_t*>(g->loopIdle), [](uv_handle_t* h) { delete reinterpret_cast<uv_prepare_t*>(h); });
    g->loopIdle = nullptr;
  }
}
}  // namespace

// startReceiver(onWake): create the thread-safe function and the thread (once). onWake() takes what the inbox holds.
Napi::Value StartReceiver(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env);
  if (g->receiver.joinable()) return env.Undefined();
  g->channel.Open(env, info[0].As<Napi::Function>());
  // Cleanup hooks run in reverse order: this one runs before the thread-safe
  // function's own, so the thread is joined while the function is still valid.
  napi_add_env_cleanup_hook(env, ReceiverCleanupHook, static_cast<napi_env>(env));
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) == napi_ok && loop) {
    g->loopIdle = new uv_prepare_t;
    uv_prepare_init(loop, g->loopIdle);
    uv_prepare_start(g->loopIdle, OnLoopIdle);
    uv_unref(reinterpret_cast<uv_handle_t*>(g->loopIdle));  // never keeps the process alive
  }
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

// take(handle, budgetNs): the next message for JS, or undefined. The inbox
// first (any communicator); then, when handle >= 0, MPI_Improbe on that
// communicator until a message comes or budgetNs has passed (0: one probe).
// The status array gets [source, tag, count, handle]; a message of 2 GiB or
// more (drained, refused) is null with count -1.
Napi::Value Take(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int h = info[0].As<Napi::Number>().Int32Value();
  ReapSends();  // isend()'s finished sends: their bytes go
  std::unique_ptr<Incoming> msg = PopInbox();
  if (!msg && h >= 0) {
    CommOf(info, 0);
    g->jsHot.store(true, std::memory_order_release);
    g->tookSlot.store(h, std::memory_order_release);
    g->inTake.store(true, std::memory_order_release);
    const auto deadline = Clock::now() + std::chrono::nanoseconds(static_cast<long long>(info[1].As<Napi::Number>().DoubleValue()));
    {
      std::lock_guard<std::mutex> receiving(g->recvMutex);
      msg = PopInbox();  // the thread may have finished one while this waited for the lock
      for (int probes = 0; !msg; ++probes) {
        bool got = false;
        msg = ReceiveOne(h, &got);
        if (msg || got) continue;  // a message, or a heartbeat answered: look again at once
        if (Clock::now() >= deadline) break;
        if (probes >= 16) sched_yield();  // a short spin, then let a runnable peer have the core
      }
    }
    g->tookAt.store(Clock::now().time_since_epoch().count(), std::memory_order_release);
    g->inTake.store(false, std::memory_order_release);
  }
  if (!msg) return env.Undefined();
  PutStatus(msg->source, msg->tag, msg->tooLarge ? -1 : static_cast<int>(msg->size), msg->comm);
  if (msg->tooLarge) return env.Null();
  size_t size = msg->size;
  // a small message is copied into a Buffer V8 owns: cheaper than an external Buffer, whose
  // finalizer V8 has to track and call (issue 19: the runtime's round trip has two per command)
  if (size <= kCopyBytes) return Napi::Buffer<char>::Copy(env, msg->data.get(), size);
  return Napi::Buffer<char>::New(env, msg->data.release(), size, [](Napi::Env, char* p) { std::free(p); });
}

}  // namespace mpistack
