// Private to render/: HTML pages from mustache templates (kainjow/mustache, Debian's
// libkainjow-mustache-dev) where `{{x}}` is escaped by core/html_escape's EscapeHtml (&, <, >, ",
// ' and control characters; kainjow's own escaper writes &apos; and lets control bytes through).
// `{{{x}}}` is unescaped and used only for markup render/ builds itself from numbers and fixed
// words (the inline SVG charts), never for text from outside.
#pragma once

#include <kainjow/mustache.hpp>
#include <string>
#include <string_view>

#include "report/report.h"

namespace obsmon::render_detail {

using View = kainjow::mustache::data;

// An empty list, to push_back items into.
inline View ViewList() { return View(View::type::list); }

// Renders `tmpl` with `view`. Thread-safe (the template is parsed per call; the pages are small).
// A template that does not parse is a bug in render/: throws std::logic_error.
std::string RenderHtmlTemplate(std::string_view tmpl, const View& view);

// The CSS class both pages colour a verdict by: "pass", "fail", "progress", "insufficient".
const char* VerdictClass(Verdict verdict);

}  // namespace obsmon::render_detail
