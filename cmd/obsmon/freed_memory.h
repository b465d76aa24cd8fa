// Gives the C heap's freed memory back to the kernel (malloc_trim), after the daemon's transient
// peaks: a refresh, a report a user asked for. glibc keeps what a burst of reports freed in its
// arenas otherwise (fresh eyes, stop 62: 67 MB of anonymous memory kept after four reports).
#pragma once

namespace obsmon {

// malloc_trim(0); nothing under AddressSanitizer, whose allocator is not glibc's (glibc's
// malloc_trim then walks arenas ASan never set up: a SEGV in mtrim in the sanitized suite).
void ReturnFreedMemory();

}  // namespace obsmon
