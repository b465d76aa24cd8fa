// The HTML report's template (render/report_html.cc fills it). `{{x}}` is HTML-escaped
// (render/html_template.h); the three `{{{..._svg}}}` are the inline charts, which report_html.cc
// draws from the report's figures and fixed words only. A section opens at the start of its first
// line and closes at the start of the line after it (kainjow keeps the newline of a skipped section
// standing on a line of its own). The style stays inline: the page has no external asset.
#pragma once

#include <string_view>

namespace obsmon::render_detail {

inline constexpr std::string_view kReportHtmlTemplate = R"mustache(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:24px auto;max-width:1000px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px;border-bottom:1px solid #ddd;padding-bottom:3px}
.muted{color:#666}.verdict{display:inline-block;padding:6px 14px;border-radius:6px;font-weight:700;font-size:18px;color:#fff}
.pass{background:#2e9d57}.fail{background:#d93f3f}.progress{background:#2e6fd9}.insufficient{background:#8a6d1e}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border:1px solid #ddd;padding:4px 7px;text-align:left;vertical-align:top}
th{background:#f6f6f6}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}#days td{white-space:nowrap}.met{color:#2e9d57;font-weight:700}.unmet{color:#d93f3f;font-weight:700}.notyet{color:#8a6d1e;font-weight:700}
svg.chart{width:100%;height:auto;display:block}code.logline{white-space:pre-wrap;word-break:break-all;font-size:12px}
.legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:12px;height:12px;vertical-align:-2px;margin-right:4px}
section{break-inside:avoid;page-break-inside:avoid}
@media print{body{margin:0;max-width:none;font-size:11px}h2{break-after:avoid}a{color:inherit;text-decoration:none}@page{size:A4 landscape;margin:12mm}}
</style></head>
<body>
<header><h1>{{title}}</h1>
<p class="muted">{{from}} → {{to}} UTC{{#in_progress}} · evaluated to {{evaluated_to}}{{/in_progress}} · objective {{objective_percent}} % · generated {{now}} UTC</p>
<p><span id="verdict" class="verdict {{verdict_class}}">{{verdict}}</span></p>
<ul id="reasons">{{#reasons}}<li>{{text}}</li>{{/reasons}}</ul></header>
<section><h2>Criteria</h2><table id="criteria"><tr><th>Criterion</th><th>Measured</th><th>State</th></tr>
{{#criteria}}<tr><td>{{title}}</td><td>{{detail}}</td><td class="{{met_class}}">{{met_text}}</td></tr>
{{/criteria}}</table></section>
<section><h2>Availability</h2>
<p class="legend"><span><i class="sw" style="background:#2e9d57"></i>up</span><span><i class="sw" style="background:#d93f3f"></i>down (▼ incident)</span><span><i class="sw" style="background:#aaa"></i>unknown (not monitored)</span><span><i class="sw" style="background:#5b8dd9"></i>maintenance</span></p>
{{{availability_svg}}}<table><tr><th>Uptime</th><th>Coverage</th><th>Conservative</th><th>Up</th><th>Down</th><th>Unknown</th><th>Excluded</th></tr><tr>{{#totals}}<td class="num">{{uptime}}</td><td class="num">{{coverage}}</td><td class="num">{{conservative}}</td><td class="num">{{up}}</td><td class="num">{{down}}</td><td class="num">{{unknown}}</td><td class="num">{{excluded}}</td>{{/totals}}</tr></table></section>
<section><h2>Error budget</h2>{{#budget}}<p>Allowed <b>{{allowed}}</b> ({{allowed_percent}} % of {{window}} less maintenance), used <b>{{used}}</b>, left <b>{{left}}</b> ({{used_ratio}} used).</p>{{/budget}}
{{#projection}}<p id="projection">At the current burn rate ({{burn_rate}}), the window ends with {{projected_down}} down: projected <b>{{projected_verdict}}</b> (uptime {{projected_uptime}}){{#exhausted}}; the budget runs out at {{exhausted_at}} UTC{{/exhausted}}.</p>
{{/projection}}</section>
<section><h2>Daily uptime</h2>
{{{daily_svg}}}</section>
<section><h2>Latency</h2><table id="latency"><tr><th>Probe</th><th>Runs</th><th>p50</th><th>p95</th><th>p99</th><th>Max</th></tr>
{{#latency_by_probe}}<tr><td>{{probe}}{{#sla}} (SLA){{/sla}}</td><td class="num">{{count}}</td><td class="num">{{p50}}</td><td class="num">{{p95}}</td><td class="num">{{p99}}</td><td class="num">{{max}}</td></tr>
{{/latency_by_probe}}<tr class="muted"><td>all health probes, pooled</td><td class="num">{{#pooled}}{{count}}</td><td class="num">{{p50}}</td><td class="num">{{p95}}</td><td class="num">{{p99}}</td><td class="num">{{max}}{{/pooled}}</td></tr></table>
<p class="muted">Per hour, successful runs of {{latency_chart_probes}}:</p>
{{{latency_svg}}}</section>
<section><h2>Day by day</h2><table id="days"><tr><th>Day</th><th>Uptime</th><th>Down</th><th>Unknown</th><th>Incidents</th><th>Errors</th><th>Criticals</th><th>Checks passed/failed</th><th>p50</th><th>p95</th><th>p99</th></tr>
{{#days}}<tr><td>Day {{number}} ({{date}})</td><td class="num">{{uptime}}</td><td class="num">{{down}}</td><td class="num">{{unknown}}</td><td class="num">{{incidents}}</td><td class="num">{{errors}}</td><td class="num">{{criticals}}</td><td class="num">{{checks_passed}}/{{checks_failed}}</td><td class="num">{{p50}}</td><td class="num">{{p95}}</td><td class="num">{{p99}}</td></tr>
{{/days}}</table></section>
<section><h2>Incidents ({{incident_count}})</h2>
{{^has_incidents}}<p>No incidents.</p>{{/has_incidents}}{{#has_incidents}}<table id="incidents"><tr><th>#</th><th>Start (UTC)</th><th>End (UTC)</th><th>Duration</th><th>Failing probes</th><th>First reason</th></tr>
{{#incidents}}<tr><td>{{number}}</td><td>{{start}}</td><td>{{end}}</td><td class="num">{{duration}}</td><td>{{probes}}</td><td>{{first_probe}}: {{first_reason}}</td></tr>
{{/incidents}}</table>{{/has_incidents}}</section>
{{#has_checks}}<section><h2>Integration checks</h2><table id="checks"><tr><th>Check</th><th>Runs</th><th>Passed</th><th>Failed</th><th>Pass rate</th><th>First failure</th></tr>
{{#checks}}<tr><td>{{probe}}</td><td class="num">{{runs}}</td><td class="num">{{passed}}</td><td class="num">{{failed}}</td><td class="num">{{pass_rate}}</td><td>{{#failed_once}}{{first_failure}}: {{first_failure_reason}}{{/failed_once}}{{^failed_once}}-{{/failed_once}}</td></tr>
{{/checks}}</table></section>
{{/has_checks}}<section><h2>Log lines</h2><p>{{#logs_truncated}}at least {{/logs_truncated}}{{critical_lines}} critical, {{#logs_truncated}}at least {{/logs_truncated}}{{error_lines}} error lines matched.</p>
{{#has_log_lines}}<table id="loglines"><tr><th></th><th>Time (UTC)</th><th>Probe</th><th>Line</th></tr>
{{#log_lines}}<tr><th>{{what}}</th><td>{{time}}</td><td>{{probe}}</td><td><code class="logline">{{line}}</code></td></tr>
{{/log_lines}}</table>{{/has_log_lines}}</section>
<section><h2>Alerts fired ({{alert_count}})</h2>
{{#has_alerts}}<table id="alerts"><tr><th>Alert</th><th>Fired (UTC)</th><th>Resolved (UTC)</th><th>Fired in maintenance</th><th>Summary</th></tr>
{{#alerts}}<tr><td>{{rule}}</td><td>{{fired}}</td><td>{{resolved}}</td><td>{{maintenance}}</td><td>{{summary}}</td></tr>
{{/alerts}}</table>{{/has_alerts}}</section>
{{#has_excluded}}<section><h2>Maintenance (excluded)</h2><ul id="maintenance">{{#excluded}}<li>{{start}} → {{end}} UTC ({{length}}){{#has_reason}}: {{reason}}{{/has_reason}}</li>{{/excluded}}</ul></section>
{{/has_excluded}}<section><h2>obsmon's own gaps ({{gap_count}}, {{gaps_unknown}} unknown)</h2>
{{#has_gaps}}<ul id="gaps">{{#gaps}}<li>{{start}} → {{end}} UTC ({{length}})</li>{{/gaps}}{{#more_gaps}}<li>… and {{more_gaps}} shorter</li>{{/more_gaps}}</ul>{{/has_gaps}}</section>
<footer class="muted"><p>Health probes: {{health_probes}}. Uptime = up / (up + down); coverage = known / (window − maintenance); unknown time is never counted as up.</p></footer>
</body></html>
)mustache";

}  // namespace obsmon::render_detail
