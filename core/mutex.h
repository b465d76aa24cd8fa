// obsmon::Mutex: a std::mutex that clang's thread-safety analysis knows about (CAPABILITY), so
// that fields marked GUARDED_BY(mu_) are checked at compile time (core/thread_annotations.h).
//
//   mutable Mutex mu_;
//   int count_ GUARDED_BY(mu_) = 0;
//   void Add() EXCLUDES(mu_) { MutexLock lock(mu_); ++count_; }
//
// Waiting: MutexLock::native() is the std::unique_lock<std::mutex> that std::condition_variable
// (and Clock::WaitUntil) take. The analysis treats the mutex as held across the wait, which is
// what the caller sees. A predicate lambda is analysed as a function of its own, holding no lock:
// start it with `mu_.AssertHeld();` (it is always called with the lock held).
#pragma once

#include <mutex>
#include <shared_mutex>

#include "core/thread_annotations.h"

namespace obsmon {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  bool TryLock() TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // Tells the analysis that the calling thread holds the mutex (it cannot be verified at run
  // time with std::mutex): for lambdas run under a lock, such as condition-variable predicates.
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

  // The wrapped mutex, for std::unique_lock / std::condition_variable. Locking through it is
  // invisible to the analysis: prefer MutexLock.
  std::mutex& native() RETURN_CAPABILITY(this) { return mu_; }

 private:
  std::mutex mu_;
};

// Holds `mu` for its scope (std::unique_lock underneath, so that condition variables can wait on
// it through native()). Unlock()/Lock() release and re-take it within the scope.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : lock_(mu.native()) {}
  ~MutexLock() RELEASE() {}
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() RELEASE() { lock_.unlock(); }
  void Lock() ACQUIRE() { lock_.lock(); }
  // The same, spelled as std::unique_lock's (BasicLockable: std::condition_variable_any can wait
  // on a MutexLock directly).
  void unlock() RELEASE() { lock_.unlock(); }
  void lock() ACQUIRE() { lock_.lock(); }

  // For std::condition_variable::wait and Clock::WaitUntil, which release and re-take the mutex.
  std::unique_lock<std::mutex>& native() { return lock_; }

 private:
  std::unique_lock<std::mutex> lock_;
};

// A std::shared_mutex for the analysis: many readers (ReaderMutexLock) or one writer
// (WriterMutexLock). Fields it guards are read under either and written under the writer lock.
class CAPABILITY("shared_mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  void ReaderLock() ACQUIRE_SHARED() { mu_.lock_shared(); }
  void ReaderUnlock() RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

class SCOPED_CAPABILITY WriterMutexLock {
 public:
  explicit WriterMutexLock(SharedMutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~WriterMutexLock() RELEASE() { mu_.Unlock(); }
  WriterMutexLock(const WriterMutexLock&) = delete;
  WriterMutexLock& operator=(const WriterMutexLock&) = delete;

 private:
  SharedMutex& mu_;
};

class SCOPED_CAPABILITY ReaderMutexLock {
 public:
  explicit ReaderMutexLock(SharedMutex& mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu_.ReaderLock(); }
  ~ReaderMutexLock() RELEASE() { mu_.ReaderUnlock(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  SharedMutex& mu_;
};

}  // namespace obsmon
