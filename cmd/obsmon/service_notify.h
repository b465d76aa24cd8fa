// Tells the service manager what the daemon is doing, when it asked to be told: systemd's
// readiness protocol (sd_notify(3)), without libsystemd. A unit of Type=notify starts a
// datagram socket and names it in NOTIFY_SOCKET; `systemctl start` then returns once obsmon
// listens and runs its probes ("READY=1"), not at the fork, and jobs queued behind the start (a
// `systemctl reload` right after it, the units ordered after obsmon) wait for that moment.
// Around a reload it says "RELOADING=1" and "READY=1" again, at a stop "STOPPING=1".
//
// Without NOTIFY_SOCKET (a shell, a test, Type=simple) every call does nothing. A message
// waits up to kSendWaitSeconds for room in the manager's queue (none after a wait ran out,
// until a message gets through again); one that cannot be sent is not
// an error of obsmon's (the manager then treats the service as it would a silent one: its start
// or reload times out), and the caller logs it.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

namespace obsmon {

class ServiceNotifier {
 public:
  // Reads NOTIFY_SOCKET once ("/path", or "@name" for Linux's abstract namespace) and unsets
  // it, so that the probes' exec commands do not inherit it (the unit's NotifyAccess=main
  // makes systemd ignore anyone else who finds it).
  ServiceNotifier();

  // Whether a manager asked for notifications (NOTIFY_SOCKET was set and usable).
  bool enabled() const { return !address_.empty(); }

  // Sends `message` (newline-separated KEY=VALUE assignments). Returns the error text, empty
  // when sent or when notifications are off.
  std::string Send(std::string_view message) const;

  // The three moments, with the monotonic time systemd wants beside RELOADING=1.
  std::string Ready(std::string_view status) const;
  std::string Reloading() const;
  std::string Stopping() const;

  // Why NOTIFY_SOCKET was not used, if it was set but unusable (not a path or abstract name,
  // "@" alone, or longer than a socket address holds); empty otherwise.
  const std::string& unusable() const { return unusable_; }

 private:
  static constexpr int kSendWaitSeconds = 2;

  std::string address_;  // sun_path bytes (a leading '\0' for the abstract namespace)
  std::string shown_;    // NOTIFY_SOCKET as logged (control bytes escaped)
  // A wait for room ran out and no message got through since: the next do not wait.
  mutable std::atomic<bool> backlogged_{false};
  std::string unusable_;
};

}  // namespace obsmon
