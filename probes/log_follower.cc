#include "probes/log_follower.h"

#include <algorithm>
#include <sys/stat.h>

#include <climits>
#include <cstdlib>
#include <cstring>

namespace obsmon::logs {

namespace {

void AddNote(std::vector<std::string>* notes, std::string note) {
  for (const auto& n : *notes) {
    if (n == note) return;
  }
  notes->push_back(std::move(note));
}

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return "";
  return buf;
}

}  // namespace

LogFollower::LogFollower(std::string path, const LogScanner* scanner, FollowOptions options)
    : path_(std::move(path)), scanner_(scanner), options_(options) {
  if (options_.read_chunk_bytes < 4096) options_.read_chunk_bytes = 4096;
  cursor_.path = path_;
}

void LogFollower::Restore(const LogCursor& cursor) {
  cursor_ = cursor;
  cursor_.path = path_;
}

std::vector<RotatedName> LogFollower::Rotated() const {
  std::vector<RotatedName> out = ListRotated(path_);
  const std::string real = RealPath(path_);
  if (!real.empty() && real != path_) {
    for (auto& r : ListRotated(real)) {
      // The symlink's own directory may hold the same file under the same name.
      bool dup = false;
      for (const auto& o : out) dup = dup || RealPath(o.path) == RealPath(r.path);
      if (!dup) out.push_back(std::move(r));
    }
  }
  return out;
}

void LogFollower::SetCursor(const LogFile& file, std::string fingerprint, int64_t offset,
                            FollowOutput* out) {
  cursor_.dev = file.id().dev;
  cursor_.inode = file.id().inode;
  cursor_.fingerprint = std::move(fingerprint);
  cursor_.offset = offset;
  out->cursor = cursor_;
}

void LogFollower::CountLine(std::string_view line, int severity, const std::string& file,
                            FollowOutput* out) {
  if (severity < 0) return;
  ++out->matches[static_cast<size_t>(severity)];
  if (out->events.size() >= options_.max_events_per_poll) {
    ++out->events_dropped;
    return;
  }
  bool invalid = false;
  out->events.push_back({file, severity, CleanLine(line, options_.max_line_bytes, &invalid)});
  if (invalid) AddNote(&out->notes, "invalid UTF-8 in matched lines (replaced by U+FFFD)");
}

bool LogFollower::ReadFile(LogFile& file, int64_t offset, bool finished_file,
                           const std::function<bool()>& expired, FollowOutput* out,
                           int64_t* end_offset) {
  *end_offset = offset;
  if (Status s = file.Seek(offset); !s.ok()) {
    AddNote(&out->notes, file.path() + ": " + s.message());
    return false;
  }
  const size_t cap = options_.read_chunk_bytes;
  buffer_.resize(cap);
  char* buf = buffer_.data();
  size_t have = 0;          // bytes in buf not yet consumed (a partial line)
  int64_t consumed = offset;
  bool in_long = false;     // inside a line longer than the buffer
  int long_severity = -1;
  std::string long_head;    // the long line's first bytes, for its event
  int64_t long_bytes = 0;   // bytes of the long line already discarded
  std::vector<LineMatch> matches;
  bool complete = true;

  for (;;) {
    if (expired()) {
      complete = false;
      break;
    }
    auto got = file.Read(buf + have, cap - have);
    if (!got.ok()) {
      AddNote(&out->notes, file.path() + ": " + got.status().message());
      complete = false;
      break;
    }
    const size_t n = *got;
    if (n == 0) {
      // End of file. A finished (rotated) file will never complete its last line: count it.
      if (finished_file && (have > 0 || in_long)) {
        ++out->lines;
        if (in_long) {
          CountLine(long_head, long_severity, file.path(), out);
          consumed += long_bytes;
        } else {
          std::string_view line(buf, have);
          CountLine(line, scanner_->Classify(line), file.path(), out);
        }
        consumed += static_cast<int64_t>(have);
      }
      break;
    }
    if (std::memchr(buf + have, '\0', n) != nullptr) {
      AddNote(&out->notes, file.path() + ": binary content (NUL bytes)");
    }
    size_t start = 0;  // first byte of buf not yet handled
    have += n;
    if (in_long) {
      const void* nl = std::memchr(buf, '\n', have);
      if (nl == nullptr) {
        long_bytes += static_cast<int64_t>(have);
        have = 0;
        continue;
      }
      const size_t upto = static_cast<size_t>(static_cast<const char*>(nl) - buf) + 1;
      ++out->lines;
      CountLine(long_head, long_severity, file.path(), out);
      consumed += long_bytes + static_cast<int64_t>(upto);
      in_long = false;
      start = upto;
    }
    const void* last_nl = memrchr(buf + start, '\n', have - start);
    if (last_nl != nullptr) {
      const size_t end = static_cast<size_t>(static_cast<const char*>(last_nl) - buf) + 1;
      std::string_view text(buf + start, end - start);
      matches.clear();
      out->lines += scanner_->Scan(text, &matches);
      for (const auto& m : matches) {
        CountLine(text.substr(m.offset, m.length), m.severity, file.path(), out);
      }
      consumed += static_cast<int64_t>(text.size());
      start = end;
    }
    // Keep the partial line at the front of the buffer.
    if (start > 0) {
      std::memmove(buf, buf + start, have - start);
      have -= start;
    }
    if (have == cap) {
      // No newline in a whole buffer: classify the line on its first `cap` bytes, skip the rest.
      std::string_view head(buf, have);
      long_severity = scanner_->Classify(head);
      long_head.assign(buf, std::min(have, options_.max_line_bytes + 4));
      long_bytes = static_cast<int64_t>(have);
      have = 0;
      in_long = true;
      AddNote(&out->notes, file.path() + ": line longer than " + std::to_string(cap) +
                               " bytes (matched on its first " + std::to_string(cap) + " bytes)");
    }
  }
  out->bytes += static_cast<uint64_t>(consumed - offset);
  *end_offset = consumed;
  return complete;
}

FollowOutput LogFollower::Poll(const std::function<bool()>& expired) {
  FollowOutput out;
  out.matches.assign(scanner_->severities().size(), 0);

  auto live = LogFile::Open(path_);
  if (!live.ok()) out.trouble = live.status().message();
  // The live file's fingerprint, taken once before anything else: rotated files with the same
  // start are copies of it (copytruncate) and are skipped, and the read of the live file is
  // rolled back if it no longer starts with these bytes afterwards.
  std::string live_fp;
  if (live.ok()) {
    auto fp = live->Fingerprint();
    if (fp.ok()) live_fp = *fp;
  }
  const bool has_cursor = cursor_.inode != 0;
  const FileId cursor_id{cursor_.dev, cursor_.inode};

  // The plan: files to read in order, with their start offsets.
  struct Step {
    LogFile file;
    int64_t offset;
    bool finished;  // a rotated file: its unterminated last line counts
  };
  std::vector<Step> plan;
  bool live_in_plan = false;
  int64_t live_offset = 0;

  const auto same_live = [&]() {
    return live.ok() && live->id() == cursor_id && live->size_on_disk() >= cursor_.offset &&
           (cursor_.fingerprint.empty() || live->MatchesFingerprint(cursor_.fingerprint));
  };

  if (has_cursor && same_live()) {
    live_offset = cursor_.offset;
    live_in_plan = true;
  } else if (has_cursor) {
    // Rotated (renamed, compressed), truncated, replaced or gone: find the cursor's file among
    // the rotated siblings. Same inode first, then the newest copy with the same first bytes.
    // Candidates, without duplicates (one inode under two names mid-rename) and without the
    // live file itself (rotated after we opened it: it is read once, as the live file).
    std::vector<LogFile> candidates;
    // Open what was listed; a concurrent logrotate may rename between listing and opening, so
    // every opened inode must be the listed one, else list again.
    std::vector<LogFile> opened;
    for (int attempt = 0; attempt < 20; ++attempt) {
      opened.clear();
      bool consistent = true;
      for (const auto& r : Rotated()) {
        auto f = LogFile::Open(r.path);
        if (!f.ok()) {
          consistent = consistent && !f.status().IsNotFound();
          continue;
        }
        consistent = consistent && f->id().inode == r.inode;
        opened.push_back(std::move(*f));
      }
      if (consistent) break;
    }
    for (auto& f : opened) {
      bool skip = live.ok() && f.id() == live->id();
      for (const auto& c : candidates) skip = skip || c.id() == f.id();
      if (!skip && !live_fp.empty() && f.MatchesFingerprint(live_fp)) {
        skip = true;  // a copy of the live file (rotated after we opened it): read it as live
      }
      if (!skip) candidates.push_back(std::move(f));
    }
    int found = -1;
    for (size_t i = 0; i < candidates.size() && found < 0; ++i) {
      auto& c = candidates[i];
      if (c.id() == cursor_id && !c.compressed() &&
          (cursor_.fingerprint.empty() || c.MatchesFingerprint(cursor_.fingerprint))) {
        found = static_cast<int>(i);
      }
    }
    for (size_t i = 0; i < candidates.size() && found < 0; ++i) {
      auto& c = candidates[i];
      if (!cursor_.fingerprint.empty() && (c.compressed() || c.size_on_disk() >= cursor_.offset) &&
          c.MatchesFingerprint(cursor_.fingerprint)) {
        found = static_cast<int>(i);
      }
    }
    if (found >= 0) {
      plan.push_back({std::move(candidates[found]), cursor_.offset, true});
      for (int i = found - 1; i >= 0; --i) {
        plan.push_back({std::move(candidates[i]), 0, true});
      }
      live_in_plan = live.ok();
    } else if (live.ok() && !cursor_.fingerprint.empty() &&
               live->size_on_disk() >= cursor_.offset &&
               live->MatchesFingerprint(cursor_.fingerprint)) {
      // Replaced by a file with the same start (a copy moved into place): continue.
      live_offset = cursor_.offset;
      live_in_plan = true;
    } else if (live.ok()) {
      if (live->id() == cursor_id) {
        AddNote(&out.notes, path_ + ": truncated; reading from the start");
      } else {
        AddNote(&out.notes, path_ + ": previous file not found among rotated files; reading the "
                                    "new file from the start");
      }
      live_in_plan = true;
    }
  } else {
    live_in_plan = live.ok();
  }

  const std::string& live_fp_before = live_fp;

  for (auto& step : plan) {
    std::string fp = cursor_.fingerprint;
    if (step.offset == 0 || fp.empty()) {
      auto f = step.file.Fingerprint();
      if (f.ok()) fp = *f;
    }
    int64_t end = 0;
    const bool done = ReadFile(step.file, step.offset, step.finished, expired, &out, &end);
    SetCursor(step.file, fp, end, &out);
    if (!done) return out;  // continue with this file next time
  }

  if (live_in_plan) {
    // A copytruncate during the read would let read() return the next generation's bytes at
    // offsets of the old one. Check afterwards that the file still starts with the same bytes
    // and is still as long; if not, forget this read: the next poll sees the truncation and
    // finishes the old generation from its copy.
    const std::string continued_fp = live_offset > 0 ? cursor_.fingerprint : std::string();
    const FollowOutput before = out;
    int64_t end = 0;
    ReadFile(*live, live_offset, false, expired, &out, &end);
    struct stat st {};
    const bool unchanged =
        live->Stat(&st) && st.st_size >= end &&
        (live_fp_before.empty() || live->MatchesFingerprint(live_fp_before)) &&
        (continued_fp.empty() || live->MatchesFingerprint(continued_fp));
    if (!unchanged) {
      out = before;
      AddNote(&out.notes, path_ + ": truncated while reading; will resume from its copy");
      return out;
    }
    // The cursor keeps the fingerprint taken before the read unless the file still starts with
    // those bytes (then the longer, current one).
    std::string fp = live_fp_before;
    if (!fp.empty() && live->MatchesFingerprint(fp)) {
      auto now = live->Fingerprint();
      if (now.ok() && FingerprintLength(*now) >= FingerprintLength(fp)) fp = *now;
    }
    SetCursor(*live, fp, end, &out);
    out.lag_bytes = 0;
    auto again = LogFile::Open(path_);
    if (again.ok() && again->id() == live->id()) {
      out.lag_bytes = std::max<int64_t>(0, again->size_on_disk() - end);
    }
  }
  return out;
}

}  // namespace obsmon::logs
