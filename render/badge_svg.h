// A small status badge (SVG), shields.io-like: "carbon | PASS 99.93 %", for a README or an issue.
// Pure function; thread-safe. Every text is XML-escaped; the colour follows the verdict.
#pragma once

#include <string>

#include "report/report.h"

namespace obsmon {

// The badge's message: the verdict, then the uptime so far when known ("PASS 99.934 %",
// "IN PROGRESS 99.120 %", "INSUFFICIENT DATA").
std::string BadgeMessage(const Report& report);

// Green for PASS, red for FAIL, blue for IN PROGRESS, amber for INSUFFICIENT DATA.
const char* BadgeColor(Verdict verdict);

// The badge of the report's component: label = its name, message = BadgeMessage.
std::string RenderBadgeSvg(const Report& report);

// The same drawing for any label, message and colour ("#rrggbb"); used for "no data yet".
std::string RenderBadgeSvg(const std::string& label, const std::string& message,
                           const std::string& color);

}  // namespace obsmon
