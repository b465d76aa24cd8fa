// The `GET /` page's template (render/index_page.cc fills it). `{{x}}` is HTML-escaped
// (render/html_template.h). A section opens at the start of its first line and closes at the start of
// the line after it (kainjow keeps the newline of a skipped section standing on a line of its own).
#pragma once

#include <string_view>

namespace obsmon::render_detail {

inline constexpr std::string_view kIndexPageTemplate = R"mustache(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="60">
<title>{{title}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:16px auto;max-width:1100px;padding:0 12px;color:#222;background:#f4f5f7}
h1{font-size:20px;margin:0 0 4px}.muted{color:#666}a{color:#2e6fd9}
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:12px 14px;margin:12px 0}
.head{display:flex;flex-wrap:wrap;align-items:center;gap:8px}.head h2{font-size:18px;margin:0;flex:1 1 auto;overflow-wrap:anywhere}
.state{font-weight:700;padding:1px 8px;border-radius:4px;color:#fff;font-size:12px}.up{background:#2e9d57}.down{background:#d93f3f}.unknown{background:#999}.maintenance{background:#5b8dd9}.future{background:#e4e6ea}
.verdict{font-weight:700;padding:4px 10px;border-radius:6px;color:#fff}.pass{background:#2e9d57}.fail{background:#d93f3f}.progress{background:#2e6fd9}.insufficient{background:#8a6d1e}
.sub{margin:4px 0 8px}
.figs{display:grid;grid-template-columns:repeat(auto-fit,minmax(100px,1fr));gap:6px;margin:0 0 8px}.figs div{background:#f6f7f9;border-radius:6px;padding:4px 8px}
.figs dt{font-size:12px;color:#666}.figs dd{margin:0;font-weight:700;font-variant-numeric:tabular-nums}.neg{color:#d93f3f}
.bar{display:flex;gap:2px;margin:2px 0 8px}.bar i{flex:1 1 0;height:26px;border-radius:2px;min-width:3px}.hours i{height:18px}
.label{font-size:12px;color:#666;margin:0}
ul.criteria{list-style:none;padding:0;margin:4px 0 8px}ul.criteria li{padding:2px 0;overflow-wrap:anywhere}
.met b{color:#2e9d57}.notyet b{color:#8a6d1e}.failed b{color:#d93f3f}
.legend span{white-space:nowrap}.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 3px 0 8px;vertical-align:-1px}
</style></head>
<body>
<h1>{{title}}</h1>
<p class="muted">{{component_count}} component{{^one_component}}s{{/one_component}} · {{now}} UTC{{#has_version}} · obsmon {{version}}{{/has_version}} · <a href="/metrics">/metrics</a> · <a href="/api/v1/components">API</a></p>
<p class="muted legend"><span><i class="up"></i>up</span> <span><i class="down"></i>down</span> <span><i class="unknown"></i>unknown</span> <span><i class="maintenance"></i>maintenance</span> <span><i class="future"></i>to come</span></p>
{{#components}}<section class="card" data-component="{{name}}">
<div class="head"><h2>{{name}}</h2><span class="state {{state_class}}" title="current state">{{state}}</span>{{#has_report}}<span class="verdict {{verdict_class}}" data-figure="verdict">{{verdict}}</span>{{/has_report}}</div>
{{#has_report}}<p class="sub"><b data-figure="day">{{day_of_window}}</b> · {{from}} → {{to}} UTC{{#period}} · period #{{id}} ({{state}}){{/period}} · objective {{objective}}</p>
<dl class="figs"><div><dt>Uptime</dt><dd data-figure="uptime">{{uptime}}</dd></div><div><dt>Coverage</dt><dd data-figure="coverage">{{coverage}}</dd></div><div><dt>Budget left</dt><dd data-figure="budget"{{#budget_negative}} class="neg"{{/budget_negative}}>{{budget}}</dd></div><div><dt>Incidents</dt><dd data-figure="incidents">{{incidents}}</dd></div><div><dt>Critical lines</dt><dd data-figure="critical_lines">{{critical_lines}}</dd></div></dl>
<p class="label">Days</p><div class="bar days">{{#day_cells}}<i class="{{state}}" title="{{title}}"></i>{{/day_cells}}</div>
<p class="label">{{#in_progress}}Today{{/in_progress}}{{^in_progress}}Last day{{/in_progress}} ({{today}}), by hour (UTC)</p><div class="bar hours">{{#hour_cells}}<i class="{{state}}" title="{{title}}"></i>{{/hour_cells}}</div>
<ul class="criteria">{{#criteria}}<li class="{{state_class}}" data-criterion="{{name}}"><b>{{mark}} {{state}}</b> {{detail}}</li>{{/criteria}}</ul>
{{/has_report}}{{^has_report}}<p class="sub muted">No run stored yet · objective {{objective}}{{#period}} · period #{{id}} ({{state}}), {{start}} → {{end}}{{/period}}</p>
{{/has_report}}<p><a href="{{report_url}}">Report</a> · <a href="{{badge_url}}">Badge (SVG)</a></p>
</section>
{{/components}}{{^has_components}}<p>No component configured.</p>
{{/has_components}}</body></html>
)mustache";

}  // namespace obsmon::render_detail
