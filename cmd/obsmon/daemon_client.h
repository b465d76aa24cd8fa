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
// A daemon that answers but writes another database than config.storage.path (another obsmon
// on that address) is not used either: nullptr, and `where` says so.
std::unique_ptr<PeriodManager> DaemonPeriodManager(const Config& config, std::string* where);

// The id a daemon of database `db_path` sends in its Obsmon-Database header: the hex SHA-256 of
// the path made absolute and canonical (as far as it exists), so that two spellings of one file
// agree and the path itself is not disclosed.
std::string DatabaseIdentity(const std::string& db_path);

}  // namespace obsmon
