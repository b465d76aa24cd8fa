// Clang's thread-safety annotations (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html), as
// leveldb's port/thread_annotations.h and absl/base/thread_annotations.h spell them. Under clang
// the compiler checks them (scripts/check-thread-safety.sh runs -Wthread-safety over every
// library source as the unit test thread_safety_check); under GCC they expand to nothing.
//
// Mark a field GUARDED_BY(mu_) only with an obsmon::Mutex (core/mutex.h): std::mutex in
// libstdc++ carries no annotations, so a field guarded by one is not checked.
#pragma once

#if defined(__clang__)
#define OBSMON_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define OBSMON_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) OBSMON_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY OBSMON_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) OBSMON_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) OBSMON_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) OBSMON_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) OBSMON_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) OBSMON_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) OBSMON_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) OBSMON_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) OBSMON_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) OBSMON_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) OBSMON_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) OBSMON_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) OBSMON_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) OBSMON_THREAD_ANNOTATION(assert_capability(x))
#define RETURN_CAPABILITY(x) OBSMON_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS OBSMON_THREAD_ANNOTATION(no_thread_safety_analysis)
