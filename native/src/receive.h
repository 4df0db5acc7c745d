// Receiving one message: the primitive the receive thread and the blocking
// recv/recvInto share, and the checks that keep a message of 2 GiB or more
// from ever being truncated.
//
// Receiving is matched probe + receive. MPI-3 (Open MPI 1.7+) has it:
// MPI_Improbe/MPI_Mprobe return a message handle that MPI_Mrecv takes, so no
// other thread can steal the message in between. MPI-2.1 (the seed's Open MPI
// 1.6.5) has not: there every probe and receive of this process goes through
// one mutex (MPI_Iprobe, then MPI_Recv of exactly the probed source and tag,
// which by MPI's non-overtaking rule is the probed message), and a blocking
// receive polls that pair with backoff instead of blocking inside MPI. Same
// behaviour, chosen at compile time from MPI_VERSION (MPISTACK_MATCHED_PROBE).
#pragma once

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <string>
#include <utility>

#include "state.h"

namespace mpistack {

// ---- message sizes: an MPI count is an int --------------------------------
// A buffer or message of 2 GiB or more is refused with a RangeError, never
// cast to int (which would truncate it: 4 GiB casts to 0).

[[noreturn]] inline void ThrowTooLarge(Napi::Env env, const char* what, size_t bytes) {
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

inline std::string TooLargeMessage(const MPI_Status& st) {
  return "a message from rank " + std::to_string(st.MPI_SOURCE) + " with tag " + std::to_string(st.MPI_TAG) +
         " is 2 GiB or larger (its byte count does not fit MPI's int): it was received and discarded; send it in pieces";
}

inline void SleepNs(long ns) {
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
    if (polls < 100) {
      sched_yield();
      continue;
    }
    SleepNs(sleepNs);
    sleepNs = std::min(sleepNs * 2, 100'000L);
  }
#endif
}

}  // namespace mpistack
