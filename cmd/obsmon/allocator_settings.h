// How the daemon has glibc's malloc keep memory: its number of arenas, its mmap threshold and its
// per-thread caches, set before anything allocates much, and freed memory handed back after the
// daemon's transient peaks (docs/operations.md, "Memory"). A user's MALLOC_ARENA_MAX,
// MALLOC_MMAP_THRESHOLD_ or GLIBC_TUNABLES setting of the same knob wins.
#pragma once

namespace obsmon {

// mallopt(M_ARENA_MAX, 2) and mallopt(M_MMAP_THRESHOLD, 256 KiB).
void SetAllocatorOptions();

// glibc's per-thread caches (tcache) are read from GLIBC_TUNABLES only when a program starts, so
// for `obsmon run` this executes the same binary again (/proc/self/exe), same pid and arguments,
// with glibc.malloc.tcache_count=0 added; started again, it takes back the name the kernel first
// gave it and puts the user's GLIBC_TUNABLES back for its children (exec probes). Returns when it
// does not execute: the count already set by the user, the second start, secure mode (file
// capabilities, setuid: glibc ignores GLIBC_TUNABLES there), AddressSanitizer's allocator in
// place of glibc's, or the exec failed; ThreadCachesNote() then says why, for the log.
void ExecAgainWithoutThreadCaches(int argc, char** argv);

// Why glibc's per-thread caches stayed on although nobody asked for them, or nullptr.
const char* ThreadCachesNote();

// malloc_trim(0), after a refresh or a report a user asked for: glibc keeps what a burst of
// reports freed in its arenas otherwise (fresh eyes, stop 62: 67 MB of anonymous memory kept
// after four reports). Nothing under AddressSanitizer, whose allocator is not glibc's (glibc's
// malloc_trim then walks arenas ASan never set up: a SEGV in mtrim in the sanitized suite).
void ReturnFreedMemory();

}  // namespace obsmon
