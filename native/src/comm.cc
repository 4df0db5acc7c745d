// Communicator methods: handles, rank and size, dup, and the synchronous
// point-to-point and collective calls. Sizes are checked here a second time
// (TypeScript checks first): a count of 2 GiB or more never reaches MPI.
#include <chrono>
#include <cstring>

#include "receive.h"
#include "state.h"

namespace mpistack {

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

Bytes BytesOf(const Napi::Value& v) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(v.Env(), v, &type, &length, &data, nullptr, nullptr) != napi_ok || type != napi_uint8_array)
    ThrowState(v.Env(), "expected a Uint8Array");
  return {data, length};
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

// send's and isend's arguments (h, bytes, dest, tag), the size checked
struct SendArgs {
  MPI_Comm comm;
  Bytes bytes;
  int dest;
  int tag;
};

SendArgs SendArgsOf(const Napi::CallbackInfo& info) {
  SendArgs a{CommOf(info, 0), BytesOf(info[1]), info[2].As<Napi::Number>().Int32Value(), info[3].As<Napi::Number>().Int32Value()};
  if (a.bytes.size > static_cast<size_t>(INT_MAX)) ThrowTooLarge(info.Env(), "send buffer", a.bytes.size);
  return a;
}

void BlockingSend(Napi::Env env, const SendArgs& a) {
  Check(env, MPI_Send(a.bytes.data, static_cast<int>(a.bytes.size), MPI_BYTE, a.dest, a.tag, a.comm), "MPI_Send");
}

Napi::Value Send(const Napi::CallbackInfo& info) {
  BlockingSend(info.Env(), SendArgsOf(info));
  return info.Env().Undefined();
}

// isend(h, bytes, dest, tag): MPI_Isend of a copy, returning at once. Open MPI's blocking MPI_Send
// of more than 256 bytes over shared memory (and of smaller ones once the peer's fast box is full)
// waits until the receiver polls MPI: a client would stall on every server busy in a command, and
// a server on a client busy in JS. A buffer above kIsendCopyBytes is not copied: it goes by
// MPI_Send (a large message waits for its receiver anyway). MPI's order between this process's
// sends to one rank is the order they were posted, isend or send.
constexpr size_t kIsendCopyBytes = 64 * 1024;

size_t ReapSends(long long waitNs) {
  auto& reqs = g->sendReqs;
  auto& sends = g->sends;
  if (reqs.empty()) return 0;  // the common case, on every isend and take: no clock read
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(waitNs);
  for (;;) {
    int n = static_cast<int>(reqs.size());
    int done = 0;
    std::vector<int> idx(n);
    std::vector<MPI_Status> st(n);
    int rc = MPI_Testsome(n, reqs.data(), &done, idx.data(), st.data());
    if (done != MPI_UNDEFINED && done > 0) {
      for (int k = 0; k < done; ++k) {
        int i = idx[k];
        int err = rc == MPI_ERR_IN_STATUS ? st[k].MPI_ERROR : rc;
        if (err != MPI_SUCCESS && g->sendFailure == MPI_SUCCESS) {
          g->sendFailure = err;
          g->failedDest = sends[i].dest;
          g->failedTag = sends[i].tag;
        }
        sends[i].data.reset();
      }
      // compact: the finished ones are MPI_REQUEST_NULL now
      size_t keep = 0;
      for (size_t i = 0; i < reqs.size(); ++i) {
        if (reqs[i] == MPI_REQUEST_NULL) continue;
        if (keep != i) {
          reqs[keep] = reqs[i];
          sends[keep] = std::move(sends[i]);
        }
        ++keep;
      }
      reqs.resize(keep);
      sends.resize(keep);
    }
    if (waitNs <= 0 || reqs.empty()) return reqs.size();
    if (std::chrono::steady_clock::now() >= deadline) {
      // a receiver that never polls again: the requests go (legal for sends) and MPI completes them
      // when it can; their bytes stay allocated (MPI may still read them), the process is finalizing
      for (auto& r : reqs) MPI_Request_free(&r);
      for (auto& s : sends) (void)s.data.release();
      size_t left = reqs.size();
      reqs.clear();
      sends.clear();
      return left;
    }
    sched_yield();
  }
}

Napi::Value Isend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const SendArgs a = SendArgsOf(info);
  const Bytes& b = a.bytes;
  ReapSends();
  if (g->sendFailure != MPI_SUCCESS) {
    int rc = g->sendFailure;
    g->sendFailure = MPI_SUCCESS;
    std::string where = "MPI_Isend (an earlier isend to rank " + std::to_string(g->failedDest) + " with tag " + std::to_string(g->failedTag) + ")";
    ThrowMpi(env, rc, where.c_str());
  }
  if (b.size > kIsendCopyBytes) {
    BlockingSend(env, a);
    return env.Undefined();
  }
  MallocBytes copy = Allocate(b.size);
  if (b.size > 0) std::memcpy(copy.get(), b.data, b.size);
  MPI_Request req = MPI_REQUEST_NULL;
  Check(env, MPI_Isend(copy.get(), static_cast<int>(b.size), MPI_BYTE, a.dest, a.tag, a.comm, &req), "MPI_Isend");
  int done = 0;
  MPI_Status st;
  int rc = MPI_Test(&req, &done, &st);  // the common case: gone into the peer's fast box already
  if (done && rc != MPI_SUCCESS) Check(env, rc == MPI_ERR_IN_STATUS ? st.MPI_ERROR : rc, "MPI_Isend");
  if (!done) {
    g->sendReqs.push_back(req);
    g->sends.push_back(PendingSend{a.dest, a.tag, std::move(copy)});
  }
  return env.Undefined();
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
  MallocBytes data;
  int rc = ProbeRecv(c, source, tag, true, &got, &st, [&](int n) {
    tooLarge = CountTooLarge(n);  // drained into nothing (MPI reports MPI_ERR_TRUNCATE), refused below
    count = tooLarge ? 0 : n;
    data = Allocate(count);
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

}  // namespace mpistack
