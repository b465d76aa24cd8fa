// The routes of /api/v1/periods and /api/v1/maintenance (docs/operations.md, "Managing periods
// and maintenance over HTTP"): methods (405 with Allow), ids, the `component` filter, the JSON
// body (parse errors with their line and column, nesting bounded), and who may change anything.
// The fields of a body are the backend's to read (ApiBackend::Manage).
#pragma once

#include <string>
#include <string_view>

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace obsmon {

class ApiBackend;

bool IsManagePath(const std::string& path);

// Answers a request for an IsManagePath path, whose credentials (if auth is configured) were
// checked. `auth_enabled`: whether the server has credentials configured; without, only a client
// on the loopback interface may change anything (MayChange).
void HandleManage(const httplib::Request& req, httplib::Response& res, ApiBackend& backend,
                  bool auth_enabled);

// Whether a request from `remote_addr` may change periods or maintenance: always when auth is
// configured (the request was authorized), else only from a loopback address (127.0.0.0/8, ::1,
// ::ffff:127.0.0.0/104). An unauthenticated change from the network would let anyone on it
// hide an outage in a maintenance window.
bool MayChange(bool auth_enabled, std::string_view remote_addr);

}  // namespace obsmon
