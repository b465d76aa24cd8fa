// The kernel's receive timestamps (SO_TIMESTAMPNS): when the bytes a recvmsg() read had
// arrived, so that a run read late is not charged for the wait (plain_http_exchange.h).
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <optional>

namespace obsmon::probes {

// Turns the kernel's stamping on for the life of the process and returns once it stamps (seen
// on a loopback exchange of its own), or after about 200 ms, or at once where IPv4 loopback
// cannot be used. Call before the first connection whose answers should be stamped; once it
// has succeeded, later calls return at once. Thread-safe (callers wait for the first).
void KeepReceiveTimestampsOn();

// The kernel's receive timestamp of what a recvmsg() read (its last segment), if it gave one.
std::optional<std::chrono::system_clock::time_point> ReceiveTimestamp(msghdr& msg);

}  // namespace obsmon::probes
