/*
 * grpc/absl_mode.cc — the one C++ file of the server: turns off abseil's
 * lock-order tracking, which Debian's abseil (built without NDEBUG) keeps
 * on. The gRPC C core locks through absl::Mutex, and with tracking on every
 * Lock and Unlock also updates one process-wide lock graph under a global
 * lock (GraphCycles::GetId, ~3% of a gRPC search's CPU in a profile, and a
 * lock the network threads contend on). The tracking is a debugging aid for
 * C++ code that takes locks in inconsistent orders; the server does not
 * take abseil locks itself.
 *
 * Locking: the mode is a process-wide atomic, set once before the core
 * starts (agrpc_prepare). Durability: none.
 */
#include <absl/synchronization/mutex.h>

extern "C" void agrpc_lock_tracking_off(void) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}
