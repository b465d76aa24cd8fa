#include "render/html_template.h"

#include <stdexcept>

#include "core/html_escape.h"

namespace obsmon::render_detail {

std::string RenderHtmlTemplate(std::string_view tmpl, const View& view) {
  kainjow::mustache::mustache page{std::string(tmpl)};
  if (!page.is_valid()) {
    throw std::logic_error("render/: HTML template does not parse: " + page.error_message());
  }
  page.set_custom_escape([](const std::string& text) { return EscapeHtml(text); });
  return page.render(view);
}

const char* VerdictClass(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kFail:
      return "fail";
    case Verdict::kInProgress:
      return "progress";
    case Verdict::kInsufficientData:
      return "insufficient";
  }
  return "insufficient";
}

}  // namespace obsmon::render_detail
