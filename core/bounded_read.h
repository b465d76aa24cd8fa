// Reading a file named by the configuration without trusting it: `bearer_token_file: /dev/zero`,
// a FIFO nobody writes to, or a 10 GB rule file must give a clear error at once, never a hang or
// an exhausted heap. Thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/status.h"

namespace obsmon {

// Reads the whole of `path` when it is a regular file of at most `max_bytes` bytes. Refuses,
// naming the path: a directory, device, FIFO or socket ("is not a regular file"), a larger file
// ("is larger than N bytes"). The file is opened with O_NONBLOCK so that a FIFO never blocks the
// open, and its type is checked on the opened descriptor (no race with a rename).
Result<std::string> ReadRegularFile(const std::string& path, size_t max_bytes);

// Expands a shell glob (`*`, `?`, `[...]`) within bounds: at most `max_matches` paths, and a
// pattern with more than `max_wildcard_segments` path segments holding wildcards (such as
// `/**/**/**/*`, which walks the whole tree) is refused before anything is read.
// A pattern without wildcard characters is returned as is (its file may not exist yet).
Result<std::vector<std::string>> ExpandGlobBounded(const std::string& pattern, size_t max_matches,
                                                   size_t max_wildcard_segments = 3);

bool HasGlobChars(const std::string& pattern);

// How many '/'-separated segments of `pattern` hold a wildcard character.
size_t WildcardSegments(const std::string& pattern);

}  // namespace obsmon
