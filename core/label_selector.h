// A series selector's label matchers, checked as PromQL reads them, for what reads a report from
// a Prometheus-compatible store (source/) and what checks the config naming one (config/, the
// `source:` of a component; the CLI's --selector). Checking here means a typo is an error where
// it was written, not a 400 from the store at the first report. Thread-safe (no shared state).
#pragma once

#include <string>

#include "core/status.h"

namespace obsmon {

// The matchers inside the braces of `selector` ('{job="a"}' or 'job="a"', outer blanks ignored),
// as written, when they are one list of PromQL label matchers: `name op value` separated by
// commas (a trailing comma allowed), name [a-zA-Z_][a-zA-Z0-9_]*, op one of = != =~ !~, value a
// quoted string ("...", '...' with backslash escapes, or `...`), and for =~ and !~ a regex RE2
// compiles. InvalidArgument, quoting the selector and saying what is wrong where, otherwise, and
// for an empty list (it would select every series of the metric).
Result<std::string> SelectorMatchers(const std::string& selector);

}  // namespace obsmon
