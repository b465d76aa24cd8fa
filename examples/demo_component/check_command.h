// `obsmon-demo-component check --url URL [--timeout 2s]`: the demo's health_check_carbon.py.
// Exits 0 when the health endpoint answers 2xx; otherwise prints the reason and exits 1.
#pragma once

#include <cstdint>
#include <string>

namespace obsmon::demo {

// Runs the check, printing "OK: <url>" or the reason to stdout. Returns the process exit code.
int RunCheck(const std::string& url, int64_t timeout_ms);

}  // namespace obsmon::demo
