// The `GET /` page's template (render/index_page.cc fills it). `{{x}}` is HTML-escaped
// (render/html_template.h). A section opens at the start of its first line and closes at the start of
// the line after it (kainjow keeps the newline of a skipped section standing on a line of its own).
#pragma once

#include <string_view>

namespace obsmon::render_detail {

inline constexpr std::string_view kIndexPageTemplate = R"mustache(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width">
<title>{{title}}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;padding:0 16px;color:#222}table{border-collapse:collapse;width:100%}th,td{border:1px solid #ddd;padding:5px 8px;text-align:left}th{background:#f6f6f6}.num{text-align:right}.state{font-weight:700;padding:2px 8px;border-radius:4px;color:#fff}.up{background:#2e9d57}.down{background:#d93f3f}.unknown{background:#888}.muted{color:#666}.neg{color:#d93f3f;font-weight:700}</style></head>
<body>
<h1>{{title}}</h1>
<p class="muted">{{component_count}} component{{^one_component}}s{{/one_component}} · {{now}} UTC{{#has_version}} · obsmon {{version}}{{/has_version}} · <a href="/metrics">/metrics</a> · <a href="/api/v1/components">API</a></p>
{{#has_components}}<table id="components"><tr><th>Component</th><th>State</th><th>Uptime</th><th>Coverage</th><th>Objective</th><th>Budget left</th><th>Observation period</th><th>Report</th></tr>
{{#components}}<tr><td>{{name}}</td><td><span class="state {{state_class}}">{{state}}</span></td><td class="num">{{uptime}}</td><td class="num">{{coverage}}</td><td class="num">{{objective}}</td><td class="num">{{#budget_negative}}<span class="neg">{{budget}}</span>{{/budget_negative}}{{^budget_negative}}{{budget}}{{/budget_negative}}</td><td>{{#period}}#{{id}} {{state}}, {{start}} → {{end}}{{#has_verdict}}: <b>{{verdict}}</b>{{/has_verdict}}{{/period}}{{^period}}<span class="muted">none</span>{{/period}}</td><td><a href="{{report_url}}">HTML report</a></td></tr>
{{/components}}</table>
{{/has_components}}{{^has_components}}<p>No component configured.</p>
{{/has_components}}</body></html>
)mustache";

}  // namespace obsmon::render_detail
