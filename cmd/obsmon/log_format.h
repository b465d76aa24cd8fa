// obsmon's log line formats: `text` for people, `json` for collectors (journald, Loki, ...). The
// JSON format writes exactly one line per event: the message is JSON-escaped, so a multi-line
// message (a list of config errors) stays one line. Messages never carry secrets: the config's
// secrets are read from files and never logged.
#pragma once

#include <spdlog/logger.h>

#include <string>

namespace obsmon {

// False (and the logger unchanged) when `format` is not "text" or "json".
bool ApplyLogFormat(spdlog::logger& logger, const std::string& format);

// `text` escaped for a JSON string body (without the quotes); invalid UTF-8 bytes become \u00XX
// so the line always parses.
std::string JsonEscape(const std::string& text);

}  // namespace obsmon
