// The CLI's way to a running daemon: `obsmon observe` and `obsmon maintenance` given --config send
// their action to the daemon's API (/api/v1/periods, /api/v1/maintenance) when a daemon answers
// /-/healthy at the config's `listen` address, with the config's web credentials, so that the
// daemon validates and writes the change itself (and re-reads its maintenance calendar at
// once). No daemon there: the CLI writes the database itself (LocalPeriodManager).
#pragma once

#include <memory>
#include <string>

#include "cmd/obsmon/period_actions.h"
#include "config/config.h"

namespace obsmon {

// The daemon's PeriodManager, or nullptr when none answers at config.listen (a listen port of 0
// cannot be found: nullptr). `where` says which, for --verbose: "the daemon at
// http://127.0.0.1:9950" or why not. The manager's failures carry the daemon's message and the
// action's kind (400: InvalidArgument, 404: NotFound), so the CLI prints and exits as it does for
// a local failure; a refusal of the credentials (401, 403) or a lost connection is Unavailable.
std::unique_ptr<PeriodManager> DaemonPeriodManager(const Config& config, std::string* where);

}  // namespace obsmon
