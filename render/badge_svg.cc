#include "render/badge_svg.h"

#include <fmt/format.h>

#include "core/html_escape.h"
#include "report/figure_format.h"

namespace obsmon {
namespace {

// Width of a text in 11 px Verdana, roughly: shields.io measures each glyph; an average of 7 px
// (6 for narrow letters) keeps the text inside its box without a font table.
int TextWidth(const std::string& text) {
  int w = 0;
  for (unsigned char ch : text) {
    if ((ch & 0xC0) == 0x80) continue;  // UTF-8 continuation byte: one glyph per character
    w += (ch == 'i' || ch == 'l' || ch == '.' || ch == ' ' || ch == '|' || ch == '1') ? 4 : 7;
  }
  return w + 10;  // 5 px padding each side
}

}  // namespace

std::string BadgeMessage(const Report& r) {
  const auto uptime = r.totals.uptime();
  if (!uptime) return VerdictName(r.verdict);
  return fmt::format("{} {}", VerdictName(r.verdict), FormatPercent(uptime));
}

const char* BadgeColor(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return "#2e9d57";
    case Verdict::kFail:
      return "#d93f3f";
    case Verdict::kInProgress:
      return "#2e6fd9";
    case Verdict::kInsufficientData:
      return "#8a6d1e";
  }
  return "#8a6d1e";
}

std::string RenderBadgeSvg(const Report& r) {
  return RenderBadgeSvg(r.component, BadgeMessage(r), BadgeColor(r.verdict));
}

std::string RenderBadgeSvg(const std::string& label, const std::string& message,
                           const std::string& color) {
  const int lw = TextWidth(label);
  const int mw = TextWidth(message);
  const std::string l = EscapeHtml(label);
  const std::string m = EscapeHtml(message);
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"20\" role=\"img\" "
      "aria-label=\"{3}: {4}\"><title>{3}: {4}</title>"
      "<rect width=\"{1}\" height=\"20\" rx=\"3\" fill=\"#555\"/>"
      "<rect x=\"{1}\" width=\"{2}\" height=\"20\" rx=\"3\" fill=\"{5}\"/>"
      "<rect x=\"{1}\" width=\"4\" height=\"20\" fill=\"{5}\"/>"
      "<g fill=\"#fff\" text-anchor=\"middle\" font-family=\"Verdana,DejaVu Sans,sans-serif\" "
      "font-size=\"11\"><text x=\"{6}\" y=\"14\">{3}</text><text x=\"{7}\" y=\"14\">{4}</text></g>"
      "</svg>\n",
      lw + mw, lw, mw, l, m, EscapeHtml(color), lw / 2, lw + mw / 2);
}

}  // namespace obsmon
