// The schema as an ordered, append-only list of SQL steps. The database's schema version is
// `PRAGMA user_version` = the number of steps applied. Opening a database applies the missing
// steps, each in its own transaction together with the version bump.
//
// APPEND ONLY: never edit, reorder or renumber a released step (databases in the field have
// applied it); add a new step at the end instead. Other folders (alerts/) append their own tables
// as new steps in migrations.cc.
#pragma once

#include <string_view>
#include <vector>

namespace obsmon::storage {

struct Migration {
  std::string_view name;  // short description, shown in errors and docs
  std::string_view sql;   // one or more statements, run with sqlite3_exec
};

// All steps, in order. Step i (0-based) brings the schema to version i + 1.
const std::vector<Migration>& Migrations();

// The schema version this build writes: Migrations().size().
int LatestSchemaVersion();

}  // namespace obsmon::storage
