#include "probes/log_follower.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>
#include <optional>
#include <system_error>
#include <thread>

#include "core/spread_thread.h"

namespace obsmon::probes {

namespace {

void AddNote(std::vector<std::string>* notes, std::string note) {
  for (const auto& n : *notes) {
    if (n == note) return;
  }
  notes->push_back(std::move(note));
}

int64_t ToNs(int64_t seconds, int64_t nanoseconds) { return seconds * 1'000'000'000 + nanoseconds; }

int64_t MtimeNs(const struct stat& st) { return ToNs(st.st_mtim.tv_sec, st.st_mtim.tv_nsec); }

// Whether bytes are all NUL: a preallocated file's padding, not text.
bool AllNul(const char* bytes, size_t n) {
  return n == 0 || (bytes[0] == '\0' && std::memcmp(bytes, bytes + 1, n - 1) == 0);
}

// The file's birth time (statx), 0 when the file system does not keep one or it cannot be read.
int64_t BirthNs(const std::string& path) {
  struct statx stx {};
  if (::statx(AT_FDCWD, path.c_str(), 0, STATX_BTIME, &stx) != 0) return 0;
  if ((stx.stx_mask & STATX_BTIME) == 0) return 0;
  return ToNs(stx.stx_btime.tv_sec, stx.stx_btime.tv_nsec);
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
  // The run that stored it began at updated_ms, before its poll read anything.
  if (cursor.updated_ms > 0) {
    last_poll_start_.coarse_ns = last_poll_start_.fine_ns = cursor.updated_ms * 1'000'000;
  }
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
  // Every time: a file made again on the cursor's inode number has the number but not the
  // birth of the one read before (fresh eyes, stop 48: kept from the old file, every later poll
  // took the new one for made again and read it from its start, forever).
  cursor_.birth_ns = file.BirthNs();
  cursor_.dev = file.id().dev;
  cursor_.inode = file.id().inode;
  cursor_.fingerprint = std::move(fingerprint);
  cursor_.offset = offset;
  out->cursor = cursor_;
}

namespace {

// Whether `out` may keep one more line of `severity` under `max` a severity, counting it if so.
bool KeepOneMore(FollowOutput* out, int severity, size_t max) {
  const auto s = static_cast<size_t>(severity);
  if (out->kept.size() <= s) out->kept.resize(s + 1, 0);
  if (out->kept[s] >= max) return false;
  ++out->kept[s];
  return true;
}

}  // namespace

void LogFollower::CountLine(std::string_view line, int severity, const std::string& file,
                            FollowOutput* out) const {
  if (severity < 0) return;
  ++out->matches[static_cast<size_t>(severity)];
  if (!KeepOneMore(out, severity, options_.max_events_per_poll)) {
    ++out->events_dropped;
    return;
  }
  bool invalid = false;
  out->events.push_back({file, severity, CleanLine(line, options_.max_line_bytes, &invalid)});
  if (invalid) AddNote(&out->notes, "invalid UTF-8 in matched lines (replaced by U+FFFD)");
}

void LogFollower::NoteBinary(const LogFile& file, FollowOutput* out) {
  AddNote(&out->notes, file.path() + ": binary content (NUL bytes)");
}

std::string LogFollower::TailFingerprint(LogFile& file, int64_t offset, int64_t size,
                                         size_t max_bytes) {
  // Sized to what the file holds there: most unfinished tails are a few bytes.
  std::string bytes(static_cast<size_t>(std::clamp<int64_t>(
                        size - offset, 0, static_cast<int64_t>(max_bytes))),
                    '\0');
  auto got = file.ReadAt(offset, bytes.data(), bytes.size());
  bytes.resize(got.ok() ? *got : 0);
  return FormatFingerprint(bytes);
}

bool LogFollower::ReadFile(LogFile& file, int64_t offset, bool finished_file,
                           const std::function<bool()>& expired, FollowOutput* out,
                           int64_t* end_offset, std::string* head) {
  if (const int64_t split = SplitPoint(file, offset); split > offset) {
    return ReadInTwo(file, offset, split, finished_file, expired, out, end_offset, head);
  }
  return ReadInOne(file, offset, finished_file, expired, out, end_offset, head);
}

bool LogFollower::ReadInOne(LogFile& file, int64_t offset, bool finished_file,
                            const std::function<bool()>& expired, FollowOutput* out,
                            int64_t* end_offset, std::string* head) {
  *end_offset = offset;
  ReadBuffer& buffer = shared_buffer_ != nullptr ? *shared_buffer_ : own_buffer_;
  char* buf = nullptr;
  try {
    buf = buffer.Reserve(options_.read_chunk_bytes, ReadBuffer::kSmallPages);
  } catch (const std::bad_alloc&) {
    // The run fails naming the file and the setting; the probe's other files go on, and this
    // one is read from the same place by a later run.
    if (out->trouble.empty()) {
      out->trouble = file.path() + ": cannot map a read buffer of " +
                     std::to_string(options_.read_chunk_bytes) +
                     " bytes (read_chunk_bytes): out of memory";
    }
    return false;
  }
  const bool done =
      ReadRange(file, offset, kNoLimit, finished_file, expired, out, end_offset, head, buf);
  // A read that used more than kKeptResidentBytes of a larger buffer gives those pages back:
  // between runs a followed file holds at most that much, whatever read_chunk_bytes is (fresh
  // eyes: 100 files of 20 MB at read_chunk_bytes 64 MiB held 2.4 GB for good).
  if (*end_offset - offset > static_cast<int64_t>(kKeptResidentBytes)) {
    buffer.Trim(kKeptResidentBytes);
  }
  return done;
}

int64_t LogFollower::SplitPoint(LogFile& file, int64_t offset) const {
  static const bool two_cores = std::thread::hardware_concurrency() >= 2;
  if (options_.parallel_min_bytes == 0 || file.compressed() || !two_cores) return -1;
  struct stat st {};
  if (!file.Stat(&st) || st.st_size - offset < static_cast<int64_t>(options_.parallel_min_bytes)) {
    return -1;
  }
  // The first newline at or after the middle, looked for within one read chunk: the first part
  // then ends with a complete line, and a line longer than that is not worth a second thread.
  const int64_t middle = offset + (st.st_size - offset) / 2;
  std::string probe(std::min<size_t>(options_.read_chunk_bytes, 64 * 1024), '\0');
  if (!file.Seek(middle).ok()) return -1;
  for (int64_t at = middle; at < middle + static_cast<int64_t>(options_.read_chunk_bytes);) {
    auto got = file.Read(probe.data(), probe.size());
    if (!got.ok() || *got == 0) return -1;
    const void* nl = std::memchr(probe.data(), '\n', *got);
    if (nl != nullptr) return at + (static_cast<const char*>(nl) - probe.data()) + 1;
    at += static_cast<int64_t>(*got);
  }
  return -1;
}

bool LogFollower::ReadInTwo(LogFile& file, int64_t offset, int64_t split, bool finished_file,
                            const std::function<bool()>& expired, FollowOutput* out,
                            int64_t* end_offset, std::string* head) {
  auto shared = file.Share();
  if (!shared.ok()) return ReadInOne(file, offset, finished_file, expired, out, end_offset, head);
  // Each part counts into its own output; the parts are then added in file order, exactly as
  // one pass would have (same lines, counts, kept events and notes in the same order).
  FollowOutput first, second;
  first.matches.assign(out->matches.size(), 0);
  second.matches.assign(out->matches.size(), 0);
  int64_t first_end = offset, second_end = split;
  bool second_done = false;
  // One mapping for both parts' buffers, released after the read: with the default 1 MiB
  // chunk it is one 2 MiB huge page where the kernel offers them, 0.1-0.2 ms to fault in
  // instead of 5 ms for 512 fresh 4 KiB pages on this VM (core/read_buffer.h), and it does
  // not stay resident in every follower that once read a backlog.
  // Without that memory or a thread (a tasks limit, RLIMIT_AS) the file is read in one thread,
  // as a smaller backlog is (fresh eyes: the exception failed every run of the probe, for good).
  ReadBuffer buffers;
  char* first_buffer = nullptr;
  try {
    first_buffer = buffers.Reserve(2 * options_.read_chunk_bytes, ReadBuffer::kHugePages);
  } catch (const std::bad_alloc&) {
    return ReadInOne(file, offset, finished_file, expired, out, end_offset, head);
  }
  char* const second_buffer = first_buffer + options_.read_chunk_bytes;
  {
    // The helper joins even when this thread's part throws; its own failure (memory) counts as
    // a first part that stopped short: nothing of this file is counted this run. It starts on
    // another CPU than this thread's (core/spread_thread.h: else the two often shared one).
    std::optional<SpreadThread> helper;
    try {
      helper.emplace([&] {
        try {
          ReadRange(*shared, offset, split, false, expired, &first, &first_end, head, first_buffer);
        } catch (...) {
          first = FollowOutput{};
          first.matches.assign(out->matches.size(), 0);
          first_end = offset;
        }
      });
    } catch (const std::system_error&) {
      buffers = ReadBuffer();
      return ReadInOne(file, offset, finished_file, expired, out, end_offset, head);
    }
    second_done = ReadRange(file, split, kNoLimit, finished_file, expired, &second, &second_end,
                            nullptr, second_buffer);
  }
  Append(std::move(first), out);
  if (first_end != split) {
    // The first part stopped short (deadline, read error, the file truncated under it): what
    // the second part read is not contiguous with it, so it is read again next time.
    *end_offset = first_end;
    return false;
  }
  Append(std::move(second), out);
  *end_offset = second_end;
  return second_done;
}

void LogFollower::Append(FollowOutput part, FollowOutput* out) const {
  out->lines += part.lines;
  out->bytes += part.bytes;
  for (size_t i = 0; i < part.matches.size() && i < out->matches.size(); ++i) {
    out->matches[i] += part.matches[i];
  }
  for (auto& e : part.events) {
    if (KeepOneMore(out, e.severity, options_.max_events_per_poll)) {
      out->events.push_back(std::move(e));
    } else {
      ++out->events_dropped;
    }
  }
  out->events_dropped += part.events_dropped;
  for (auto& n : part.notes) AddNote(&out->notes, std::move(n));
}

bool LogFollower::ReadRange(LogFile& file, int64_t offset, int64_t limit, bool finished_file,
                            const std::function<bool()>& expired, FollowOutput* out,
                            int64_t* end_offset, std::string* head, char* buf) const {
  *end_offset = offset;
  if (Status s = file.Seek(offset); !s.ok()) {
    AddNote(&out->notes, file.path() + ": " + s.message());
    return false;
  }
  const size_t cap = options_.read_chunk_bytes;
  size_t have = 0;  // bytes in buf not yet consumed (a partial line)
  int64_t consumed = offset;
  bool in_long = false;  // inside a line longer than the buffer
  int long_severity = -1;
  std::string long_head;   // the long line's first bytes, for its event
  int64_t long_bytes = 0;  // bytes of the long line already discarded
  bool long_nul = true;    // ... all of them NUL (true when there is no long line)
  std::vector<LineMatch> matches;
  bool complete = true;
  int64_t read_pos = offset;  // file position of the next byte read

  // The deadline stops a plain file's read at a line boundary, but only once this read has
  // consumed a line: a run always gets past its seek, so a seek slower than the probe's timeout
  // cannot stop every run before its first read, for good. A compressed file is finished in one
  // run: stopping in it would make the next run decompress it again from its start up to the
  // cursor (fresh eyes: a 9 MB .gz of 744 MB, re-decompressed by every 1 s run, never read on).
  const bool heed_deadline = !file.compressed();
  for (;;) {
    if (heed_deadline && consumed > offset && expired()) {
      complete = false;
      break;
    }
    const size_t room = cap - have;
    const size_t want =
        limit == kNoLimit ? room : static_cast<size_t>(std::min<int64_t>(room, limit - read_pos));
    auto got = want == 0 ? Result<size_t>(size_t{0}) : file.Read(buf + have, want);
    if (!got.ok()) {
      AddNote(&out->notes, file.path() + ": " + got.status().message());
      complete = false;
      break;
    }
    const size_t n = *got;
    if (head != nullptr && read_pos < static_cast<int64_t>(kFingerprintBytes)) {
      const size_t want = std::min(n, kFingerprintBytes - static_cast<size_t>(read_pos));
      head->append(buf + have, want);
    }
    read_pos += static_cast<int64_t>(n);
    if (n == 0) {
      // End of file. A finished (rotated) file will never complete its last line: count it,
      // unless it is only NUL bytes: a preallocated file's padding past its last line, read
      // but no line (fresh eyes, stop 50: each rotation of such a file counted one line more).
      if (finished_file && (have > 0 || in_long) && long_nul && AllNul(buf, have)) {
        consumed += long_bytes + static_cast<int64_t>(have);
      } else if (finished_file && (have > 0 || in_long)) {
        if (std::memchr(buf, '\0', have) != nullptr) NoteBinary(file, out);
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
    // NUL bytes: complete lines are checked by the scanner's newline count (one pass); the
    // bytes of a line longer than the buffer and a rotated file's last line, here.
    bool nul = false;
    size_t start = 0;  // first byte of buf not yet handled
    have += n;
    if (in_long) {
      const void* nl = std::memchr(buf, '\n', have);
      const size_t long_part =
          nl == nullptr ? have : static_cast<size_t>(static_cast<const char*>(nl) - buf);
      if (std::memchr(buf, '\0', long_part) != nullptr) NoteBinary(file, out);
      if (nl == nullptr) {
        long_nul = long_nul && AllNul(buf, have);
        long_bytes += static_cast<int64_t>(have);
        have = 0;
        continue;
      }
      const size_t upto = static_cast<size_t>(static_cast<const char*>(nl) - buf) + 1;
      ++out->lines;
      CountLine(long_head, long_severity, file.path(), out);
      consumed += long_bytes + static_cast<int64_t>(upto);
      in_long = false;
      long_nul = true;
      start = upto;
    }
    const void* last_nl = memrchr(buf + start, '\n', have - start);
    if (last_nl != nullptr) {
      const size_t end = static_cast<size_t>(static_cast<const char*>(last_nl) - buf) + 1;
      std::string_view text(buf + start, end - start);
      matches.clear();
      out->lines += scanner_->Scan(text, &matches, &nul);
      if (nul) NoteBinary(file, out);
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
      if (std::memchr(buf, '\0', have) != nullptr) NoteBinary(file, out);
      std::string_view head(buf, have);
      long_severity = scanner_->Classify(head);
      long_head.assign(buf, std::min(have, options_.max_line_bytes + 4));
      long_bytes = static_cast<int64_t>(have);
      long_nul = AllNul(buf, have);
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

std::vector<LogFollower::Candidate> LogFollower::Candidates(
    LogFile* live, std::vector<uint64_t>* listed, std::vector<Unreadable>* unreadable) const {
  // Open what was listed; a concurrent logrotate may rename between listing and opening, so
  // every opened inode must be the listed one, else list again.
  std::vector<LogFile> opened;
  std::vector<size_t> ranks;  // of each opened file among `names`
  std::vector<RotatedName> names;
  std::vector<Unreadable> refused;
  for (int attempt = 0; attempt < 20; ++attempt) {
    opened.clear();
    ranks.clear();
    refused.clear();
    bool consistent = true;
    names = Rotated();
    for (size_t rank = 0; rank < names.size(); ++rank) {
      const auto& r = names[rank];
      auto f = LogFile::Open(r.path);
      if (!f.ok()) {
        consistent = consistent && !f.status().IsNotFound();
        if (!f.status().IsNotFound()) {
          // statx needs no read permission: size, mtime and (where the file system keeps it)
          // the birth time.
          struct statx stx {};
          const bool sized = ::statx(AT_FDCWD, r.path.c_str(), 0,
                                     STATX_SIZE | STATX_MTIME | STATX_BTIME, &stx) == 0;
          refused.push_back({r.path, r.inode, rank, sized ? static_cast<int64_t>(stx.stx_size) : -1,
                             sized ? ToNs(stx.stx_mtime.tv_sec, stx.stx_mtime.tv_nsec) : 0,
                             sized && (stx.stx_mask & STATX_BTIME)
                                 ? ToNs(stx.stx_btime.tv_sec, stx.stx_btime.tv_nsec)
                                 : 0,
                             f.status().message()});
        }
        continue;
      }
      consistent = consistent && f->id().inode == r.inode;
      opened.push_back(std::move(*f));
      ranks.push_back(rank);
    }
    if (consistent) break;
  }
  if (unreadable != nullptr) *unreadable = std::move(refused);
  // Every name listed, opened or not: a rotated file this process may not read (mode 0600 of
  // another user) must not look new to RotatedSince() at every poll.
  if (listed != nullptr) {
    listed->clear();
    for (const auto& r : names) listed->push_back(r.inode);
  }
  // Each listed file's first bytes, and where the live file itself sits in the list: when it
  // was rotated after we opened it, it appears under a rotated name (same inode), or as a
  // compressed copy or a copytruncate copy (same first bytes as its current content).
  std::vector<std::string> heads(opened.size());
  int live_at = -1;  // index in `opened` (most recent first) of the live file's own entry
  for (size_t i = 0; i < opened.size(); ++i) {
    auto head = opened[i].Head(kFingerprintBytes);
    if (head.ok()) heads[i] = std::move(*head);
    if (live != nullptr && opened[i].id() == live->id()) {
      live_at = static_cast<int>(i);
      break;
    }
  }
  if (live != nullptr && live_at < 0) {
    const FileId cursor_id{cursor_.dev, cursor_.inode};
    // A copy of the live file's content came after the cursor's file was rotated, so it is
    // more recent: only the names before the cursor's own are looked at. An older file that
    // began with the same bytes (a banner, a long line of one byte) was taken for the live
    // file's copy, and every file more recent than it, the cursor's among them, was left
    // unread (fresh eyes, stop 41: a writer rotating every 2 s lost up to 600 KB a run).
    size_t newer_than_cursor = opened.size();
    for (size_t i = 0; i < opened.size(); ++i) {
      // Its inode and its first bytes: an inode number alone may be a new file's (reused).
      if (cursor_.inode != 0 && opened[i].id() == cursor_id && !opened[i].compressed() &&
          HeadMatches(heads[i], cursor_.fingerprint)) {
        newer_than_cursor = i;
        break;
      }
    }
    // The live file kept the cursor's inode (a copytruncate, or a file made again on the inode
    // number): a copy of its current content is being made now, so it can only be the most
    // recent rotated file. Any older one whose first bytes begin the live file is an older
    // generation: a 22-byte one ("...line 1", the live file "...line 15...") was taken for the
    // live file's copy, and the cursor's copy, more recent, was left unread (a random life of a
    // log, LogFollowerTest: 28 lines lost, 1 seed in 3,000; fresh eyes then found the same with
    // the short generation newer than the cursor's copy, three copytruncates between polls).
    if (cursor_.inode != 0 && live->id() == cursor_id) {
      newer_than_cursor = std::min<size_t>(newer_than_cursor, 1);
    }
    // A copy of the live file is made after the live file was: a file born before it (where the
    // file system keeps birth times) is an earlier generation that begins with the same bytes,
    // not a copy. A log of identical lines rotated (`create`) twice between two polls lost the
    // generation between (fresh eyes, stop 58: 35,950 of 49,950 lines counted, runs a success).
    const int64_t live_birth = live->BirthNs();
    for (size_t i = 0; i < newer_than_cursor; ++i) {
      if (heads[i].empty()) continue;
      if (const int64_t birth = opened[i].BirthNs();
          live_birth != 0 && birth != 0 && birth < live_birth) {
        continue;
      }
      // The cursor's own file, renamed, is never a copy of the new live file, however alike
      // their first bytes (fresh eyes, stop 32: every file began with the same 1,100-byte
      // banner, the renamed file was taken for the live one's copy, and the new file was read
      // on from the old offset, its first bytes skipped).
      if (cursor_.inode != 0 && opened[i].id() == cursor_id) continue;
      // Compared with the live file's bytes NOW, so a copy made after the live file was opened
      // (copytruncate not yet truncated, a copy still being written, a compressed rotation of
      // it) is recognised too.
      auto live_head = live->Head(heads[i].size());
      if (live_head.ok() && *live_head == heads[i]) {
        live_at = static_cast<int>(i);
        break;
      }
    }
  }
  std::vector<Candidate> out;
  // The live file's entry is read once, as the live file. Files MORE RECENT than it (rotations
  // after we opened it) are left for the next poll: read now, they would come before the live
  // file, whose cursor would then send the next poll over them again.
  for (size_t i = static_cast<size_t>(live_at + 1); i < opened.size(); ++i) {
    auto& f = opened[i];
    bool skip = live != nullptr && f.id() == live->id();
    for (const auto& c : out) skip = skip || c.file.id() == f.id();  // mid-rename: two names
    if (skip) continue;
    if (heads[i].empty()) {
      // Empty (or unreadable): nothing to read, and perhaps a copy just created; the next poll
      // sees it again.
      auto head = f.Head(kFingerprintBytes);
      if (!head.ok() || head->empty()) continue;
      heads[i] = std::move(*head);
    }
    out.push_back({std::move(f), std::move(heads[i]), ranks[i]});
  }
  return out;
}

void LogFollower::Anchor(LogFile* live, std::vector<Candidate>& candidates, bool listed,
                         FollowOutput* out) {
  if (!listed) candidates = Candidates(live);
  if (!candidates.empty()) {
    Candidate& newest = candidates.front();
    auto size = newest.file.ContentSize();
    if (size.ok()) {
      SetCursor(newest.file, FormatFingerprint(newest.head), *size, out);
      return;
    }
  }
  if (live != nullptr) SetCursor(*live, "", 0, out);
}

FollowOutput LogFollower::Poll(const std::function<bool()>& expired) {
  FollowOutput out;
  out.matches.assign(scanner_->severities().size(), 0);

  // Files not modified since the previous poll began hold nothing it did not read (but for the
  // cursor's own file, when that poll stopped inside it): the test of LostToUnreadable(). The
  // kernel stamps mtime from the coarse clock, so the start is read from it too: a write after
  // it cannot carry an earlier mtime.
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
  struct timespec fine {};
  ::clock_gettime(CLOCK_REALTIME, &fine);
  const PollStart previous = last_poll_start_;

  auto live = LogFile::Open(path_);
  if (!live.ok()) {
    out.trouble = live.status().message();
    struct stat st {
    }, link{};
    const bool exists = ::stat(path_.c_str(), &st) == 0;
    const int stat_errno = errno;
    if (!exists && ::lstat(path_.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
      // ELOOP: a loop of symlinks, which "a missing file" would misname (fresh eyes, stop 49).
      out.trouble +=
          stat_errno == ELOOP ? " (a loop of symlinks)" : " (a symlink to a missing file)";
    } else {
      out.trouble_is_no_file = live.status().IsNotFound() || (exists && S_ISDIR(st.st_mode));
    }
  }
  ReadPlan plan = PlanPoll(live.ok() ? &*live : nullptr, previous, &out);
  CountMiss(plan, &out);
  // No file at the path, and once this poll has read the rotated files it planned, nothing left
  // of it: gone (unless a rotated file could not be opened, which a poll that opens the live
  // file judges).
  const bool gone_once_read =
      out.trouble_is_no_file && (cursor_.inode == 0 || (plan.listed && plan.unreadable.empty()));
  // While the live file cannot be opened the run fails with that reason, and the rotated files
  // are judged by the next poll that can: the mark stays (fresh eyes: with an unreadable live
  // file every restart named the same rotated file again).
  if (live.ok()) {
    if (plan.listed) ReportLost(plan, &out);
    last_poll_start_ = {ToNs(now.tv_sec, now.tv_nsec), ToNs(fine.tv_sec, fine.tv_nsec)};
  }
  // What is left to read when this poll stops at step `at`, `end` bytes into it (`end` <
  // 0: not started): the rest of it, the later rotated files and the live file. A compressed
  // file counts at its size on disk (its decompressed size is only known by reading it).
  auto pending = [&](size_t at, int64_t end) {
    int64_t bytes = 0;
    for (size_t i = at; i < plan.steps.size(); ++i) {
      const auto& step = plan.steps[i];
      const bool started = i == at && end >= 0;
      if (!step.file.compressed()) {
        bytes += std::max<int64_t>(0, step.file.size_on_disk() - (started ? end : step.offset));
      } else if (!started) {
        bytes += step.file.size_on_disk();
      }
    }
    if (plan.live_in_plan) bytes += std::max<int64_t>(0, live->size_on_disk() - plan.live_offset);
    return bytes;
  };
  // A run past its deadline that has read something does not start another file: a
  // compressed one would be read whole (fresh eyes: one run read three pending .gz files,
  // 2.9 s at a 1 s timeout). The next run goes on from there.
  bool progressed = false;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    auto& step = plan.steps[i];
    if (progressed && expired()) {
      out.lag_bytes = pending(i, -1);
      return out;
    }
    int64_t end = 0;
    const bool done = ReadFile(step.file, step.offset, true, expired, &out, &end);
    SetCursor(step.file, step.fingerprint, end, &out);  // candidates are never empty
    progressed = progressed || end > step.offset;
    if (!done) {  // continue with this file next time
      out.lag_bytes = pending(i, end);
      return out;
    }
  }
  if (plan.live_in_plan) {
    if (progressed && expired()) {
      out.lag_bytes = pending(plan.steps.size(), -1);
      return out;
    }
    ReadLive(*live, plan, expired, &out);
  }
  out.gone = gone_once_read;
  return out;
}

LogFollower::ReadPlan LogFollower::PlanPoll(LogFile* live, PollStart previous,
                                            FollowOutput* out) const {
  ReadPlan plan;
  const bool has_cursor = cursor_.inode != 0;
  // An empty fingerprint: no non-empty file was read yet (see cursor_).
  const bool cursor_empty = FingerprintLength(cursor_.fingerprint) == 0;
  const FileId cursor_id{cursor_.dev, cursor_.inode};
  plan.cursor_valid = has_cursor;
  if (!has_cursor) {
    // First run: the live file is read from 0; existing rotated files are history.
    plan.live_in_plan = live != nullptr;
  } else if (!cursor_empty && live != nullptr && live->id() == cursor_id &&
             live->size_on_disk() >= cursor_.offset &&
             live->MatchesFingerprint(cursor_.fingerprint) && !MadeAgain(*live)) {
    plan.live_offset = cursor_.offset;
    plan.live_in_plan = true;
  } else {
    if (live != nullptr) {
      if (auto head = live->Head(kFingerprintBytes); head.ok()) plan.live_head = std::move(*head);
    }
    plan.candidates = Candidates(live, &plan.listed_inodes, &plan.unreadable);
    plan.listed = true;
    if (!plan.unreadable.empty()) {
      // Where the cursor's file sits among the names listed: what is more recent is unread.
      int cursor_rank = -1;
      if (const int found = cursor_empty ? -1 : FindCursorFile(plan.candidates); found >= 0) {
        cursor_rank = static_cast<int>(plan.candidates[static_cast<size_t>(found)].rank);
      }
      LostToUnreadable(live, cursor_rank, previous, &plan);
    }
    if (cursor_empty) {
      // Nothing non-empty was read before: every non-empty rotated file is unread (they were
      // all written after the cursor was taken), then the live file. The (empty) file the
      // cursor names gone from both means generations were rotated away before this poll
      // (fresh eyes, stop 58: a log rotated every 0.1 s from its first line, polled every 3 s).
      // Every rotated name listed counts, read or not (an empty one is no candidate).
      // A live file on the cursor's inode number but born since is another file (reused).
      if ((live == nullptr || live->id() != cursor_id || MadeAgain(*live)) &&
          std::find(plan.listed_inodes.begin(), plan.listed_inodes.end(), cursor_.inode) ==
              plan.listed_inodes.end()) {
        out->files_missed = 1;
      }
      for (auto it = plan.candidates.rbegin(); it != plan.candidates.rend(); ++it) {
        std::string fp = FormatFingerprint(it->head);
        plan.steps.push_back({std::move(it->file), 0, std::move(fp)});
      }
      plan.candidates.clear();
      plan.live_in_plan = live != nullptr;
    } else {
      PlanAfterRotation(live, &plan, out);
    }
  }
  return plan;
}

void LogFollower::PlanAfterRotation(LogFile* live, ReadPlan* plan, FollowOutput* out) const {
  const FileId cursor_id{cursor_.dev, cursor_.inode};
  const int found = FindCursorFile(plan->candidates);
  if (found >= 0) {
    for (int i = found; i >= 0; --i) {
      auto& c = plan->candidates[static_cast<size_t>(i)];
      std::string fp = FormatFingerprint(c.head);
      plan->steps.push_back({std::move(c.file), i == found ? cursor_.offset : 0, std::move(fp)});
    }
    plan->candidates.clear();
    plan->live_in_plan = live != nullptr;
  } else if (live != nullptr) {
    // Another file (another inode) with the cursor's file nowhere among the rotated ones is a
    // new file, read from its start, even when it begins as the old one did: a job's log made
    // again under the same name with the same first lines (fresh eyes, stop 48: 6 ERROR lines
    // written, 2 stored, when the new file was taken for the old one moved back into place).
    if (live->id() == cursor_id && MadeAgain(*live)) {
      // The old file is gone (deleted, its inode number reused): a miss as below.
      AddNote(&out->notes, path_ + ": made again (on the old file's inode number); reading from "
                                   "the start");
      out->files_missed = 1;
    } else if (live->id() == cursor_id) {
      AddNote(&out->notes, path_ + ": truncated, with no copy found; reading from the start");
      out->files_missed = 1;
    } else {
      AddNote(&out->notes, path_ +
                               ": previous file not found among rotated files; reading the "
                               "new file from the start");
      // One this process may not open is there, and counted in unreadable_bytes instead.
      const bool unreadable = std::any_of(plan->unreadable.begin(), plan->unreadable.end(),
                                          [&](const Unreadable& u) {
                                            return u.inode == cursor_.inode;
                                          });
      if (!unreadable) out->files_missed = 1;
    }
    plan->live_in_plan = true;
    plan->cursor_valid = false;
  }
}

void LogFollower::CountMiss(const ReadPlan& plan, FollowOutput* out) {
  // PlanPoll() set files_missed to 1 when the cursor's file is gone. Whether lines went with it
  // cannot be known (the file is gone), so it is counted only where the log shows it was being
  // written across the rotations: a rotated file newer than it holds lines to read. A quiet log
  // rotated away (an empty error log, `ifempty`, `rotate 1`) lost nothing, and was counted at
  // every run (fresh eyes 2, stop 58: 20 in a few seconds, the alert firing for a log with no
  // line); lines in the new live file alone say nothing of the old file's last ones (the same
  // eyes: a quiet log rotated four times, then two lines written, was counted once). And once
  // per lost file: the cursor keeps naming it while the live file stays empty.
  if (out->files_missed == 0) return;
  out->files_missed = 0;
  const std::string lost = std::to_string(cursor_.dev) + ':' + std::to_string(cursor_.inode) +
                           ':' + cursor_.fingerprint;
  if (lost == last_missed_) return;
  // Rotated files with lines made after the lost file: planned to be read (before anything was
  // read, all are), or listed and born after it. One born before it was read already: an
  // application truncating its log at a restart, beside last week's rotations, lost nothing.
  const auto newer = [&](const Candidate& c) {
    const int64_t birth = c.file.BirthNs();
    return cursor_.birth_ns == 0 || birth == 0 || birth > cursor_.birth_ns;
  };
  if (plan.steps.empty() && std::none_of(plan.candidates.begin(), plan.candidates.end(), newer)) {
    return;
  }
  last_missed_ = lost;
  out->files_missed = 1;
  AddNote(&out->notes, path_ + ": lines written to the file read last, after that read, may "
                               "be lost (it was gone before this run)");
}

bool LogFollower::MadeAgain(const LogFile& live) const {
  if (cursor_.birth_ns == 0) return false;
  const int64_t birth = live.BirthNs();
  return birth != 0 && birth != cursor_.birth_ns;
}

bool LogFollower::Fresh(int64_t mtime_ns, PollStart previous) {
  return previous.coarse_ns > 0 && mtime_ns >= previous.coarse_ns;
}

bool LogFollower::OlderHistoryListed(const ReadPlan& plan, size_t rank, PollStart previous) {
  for (const auto& u : plan.unreadable) {
    if (u.rank > rank && !Fresh(u.mtime_ns, previous)) return true;
  }
  for (const auto& c : plan.candidates) {
    struct stat st {};
    if (c.rank <= rank || !c.file.Stat(&st)) continue;
    if (!Fresh(ToNs(st.st_mtim.tv_sec, st.st_mtim.tv_nsec), previous)) return true;
  }
  return false;
}

void LogFollower::LostToUnreadable(const LogFile* live, int cursor_rank, PollStart previous,
                                   ReadPlan* plan) const {
  const FileId cursor_id{cursor_.dev, cursor_.inode};
  const auto compressed = [](const Unreadable& u) { return u.path.ends_with(".gz"); };
  const auto fresh = [&](const Unreadable& u) { return Fresh(u.mtime_ns, previous); };
  const auto is_live = [&](const Unreadable& u) {
    return live != nullptr && u.inode == live->id().inode;
  };
  // Born after the previous poll began: a new file, whatever inode number it got back (logrotate
  // deletes a file and creates the next, and ext4 hands the number out again). Unknown (0) on a
  // file system that keeps no birth time: then not new. Against the fine clock: a file created
  // before that start carries a stamp no later than it, coarse or fine (the kernel stamps
  // some files finely), and must stay the cursor's.
  const auto born_since = [&](int64_t birth_ns) {
    return birth_ns > 0 && previous.fine_ns > 0 && birth_ns > previous.fine_ns;
  };
  // The cursor's own file, when it is unreadable: renamed (same inode, not the live file's, at
  // least as long as what was read of it, and not born since)...
  const Unreadable* cursor_file = nullptr;
  for (const auto& u : plan->unreadable) {
    if (u.inode == cursor_.inode && !is_live(u) && (u.size >= cursor_.offset || compressed(u)) &&
        !born_since(u.birth_ns)) {
      cursor_file = &u;
    }
  }
  // ... or copied out and truncated in place (copytruncate: the live file keeps the cursor's
  // inode). Then each rotation since the previous poll made one fresh plain copy, most recent
  // first: the oldest holds the cursor's generation, the newer ones later generations. Only
  // taken when that oldest copy is at least as long as the cursor's offset; otherwise (the
  // live file a new file that reuses the cursor's inode number) the place is unknown.
  // (A live file born since is a new file on a reused inode number, not one truncated in place:
  // with delaycompress, two rotations between runs took a later generation for the cursor's
  // copy and left the cursor's tail unsaid; ASan run of LogUnreadableTest/delaycompress.)
  if (cursor_file == nullptr && cursor_rank < 0 && live != nullptr && live->id() == cursor_id &&
      !born_since(BirthNs(path_))) {
    for (const auto& u : plan->unreadable) {
      if (fresh(u) && !compressed(u) && !is_live(u)) cursor_file = &u;  // the oldest wins
    }
    if (cursor_file != nullptr && cursor_file->size < cursor_.offset) cursor_file = nullptr;
    // Only certain when a file older than it, not written since, is still listed: otherwise
    // the cursor's own copy may have been deleted by a rotation beyond `rotate N` (fresh eyes:
    // with `rotate 1` and two rotations between runs, a later generation was taken for it).
    if (cursor_file != nullptr && !OlderHistoryListed(*plan, cursor_file->rank, previous)) {
      cursor_file = nullptr;
    }
  }
  const int cursor_at = cursor_rank >= 0         ? cursor_rank
                        : cursor_file != nullptr ? static_cast<int>(cursor_file->rank)
                                                 : -1;
  for (const auto& u : plan->unreadable) {
    if (is_live(u)) continue;
    int64_t bytes = 0;
    if (&u == cursor_file) {
      bytes = compressed(u) || u.size < 0 ? kUnknownBytes
                                          : std::max<int64_t>(0, u.size - cursor_.offset);
    } else if (static_cast<int>(u.rank) < cursor_at) {
      // Rotated after the cursor's file: none of it was read. A compressed file's size on
      // disk is not its lines' bytes.
      bytes = compressed(u) || u.size < 0 ? kUnknownBytes : u.size;
    } else if (cursor_at < 0 && fresh(u)) {
      bytes = kMaybeBytes;  // written since the previous poll, its place unknown
    } else {
      continue;  // older than the cursor's file, or not written since the previous poll
    }
    if (bytes != 0) plan->lost.emplace_back(u, bytes);
  }
}

void LogFollower::ReportLost(const ReadPlan& plan, FollowOutput* out) {
  std::erase_if(reported_unreadable_, [&](const Unreadable& r) {
    return std::find(plan.listed_inodes.begin(), plan.listed_inodes.end(), r.inode) ==
           plan.listed_inodes.end();
  });
  for (const auto& lost : plan.lost) {
    // Named, not a structured binding: clang 14 (the fuzz build) cannot capture one.
    const auto& file = lost.first;
    const auto bytes = lost.second;
    // The same file: inode, mtime and size. An inode number alone is reused by logrotate's
    // next files (fresh eyes: a new copy on a reported one's number was never named).
    const bool reported = std::any_of(
        reported_unreadable_.begin(), reported_unreadable_.end(), [&](const Unreadable& r) {
          return r.inode == file.inode && r.mtime_ns == file.mtime_ns && r.size == file.size;
        });
    if (reported) continue;
    reported_unreadable_.push_back(file);
    std::string what;
    if (bytes > 0) {
      out->unreadable_bytes += static_cast<uint64_t>(bytes);
      what = std::to_string(bytes) + " unread bytes in it are not counted";
    } else if (bytes == kUnknownBytes) {
      what = "its unread lines are not counted";
    } else {
      what = "it may hold lines not read, which are not counted";
    }
    AddNote(&out->notes, file.path + ": " + file.why + "; " + what);
  }
}

bool LogFollower::RotatedSince(const std::vector<uint64_t>& before) const {
  for (const auto& r : Rotated()) {
    if (std::find(before.begin(), before.end(), r.inode) == before.end()) return true;
  }
  return false;
}

// Same inode first, then the newest copy with the same first bytes.
int LogFollower::FindCursorFile(const std::vector<Candidate>& candidates) const {
  const FileId cursor_id{cursor_.dev, cursor_.inode};
  for (size_t i = 0; i < candidates.size(); ++i) {
    const auto& c = candidates[i];
    if (c.file.id() == cursor_id && !c.file.compressed() &&
        HeadMatches(c.head, cursor_.fingerprint)) {
      return static_cast<int>(i);
    }
  }
  for (size_t i = 0; i < candidates.size(); ++i) {
    const auto& c = candidates[i];
    if ((c.file.compressed() || c.file.size_on_disk() >= cursor_.offset) &&
        HeadMatches(c.head, cursor_.fingerprint)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

void LogFollower::ReadLive(LogFile& live, ReadPlan& plan, const std::function<bool()>& expired,
                           FollowOutput* out) {
  // A copytruncate during the read would let read() return the next generation's bytes at
  // offsets of the old one. Check afterwards that the file still starts with the bytes read
  // (or, continuing, with the cursor's) and is still as long; if not, forget this read: the
  // next poll sees the truncation and finishes the old generation from its copy.
  const FollowOutput before = *out;
  const int64_t offset = plan.live_offset;
  // The unfinished last line an earlier poll scanned to the end, in a file not changed since:
  // nothing new to read (fresh eyes, stop 49: a tail of NUL bytes with no newline, as a crash or
  // a preallocated file leaves, was scanned again every run, 20 ms for 250 MB). The cursor is
  // given again, as a read of nothing would give it.
  // Its first bytes are compared too: a writer through mmap() changes no mtime until the
  // kernel writes the page back and it is written to again (fresh eyes, stop 50: 10 ERROR lines
  // written into a preallocated file so, 1 counted), and an in-place writer writes there.
  // Scanned again every tail_rescan_ns all the same (at once if the clock went back): a line
  // written by mmap() farther out waits no longer than that (fresh eyes, stop 50: a long line
  // split past 4 KiB inside a dirty page, and the lines after it, waited for good). A file of
  // NUL bytes only is not the cursor's file (see below): skipping it leaves the cursor where
  // the rotated files read before it put it, as reading it would.
  // Every tail_rescan_ns the first kTailWideBytes are compared too (by fingerprint), rather
  // than the whole tail scanned again: a 10 GiB tail of NUL bytes scanned every 10 s kept half
  // a core busy.
  const int64_t since_scan = last_poll_start_.coarse_ns - unfinished_tail_.scanned_ns;
  if (struct stat now_st {}; plan.cursor_valid && unfinished_tail_.offset == offset &&
                             (plan.steps.empty() || unfinished_tail_.no_line) &&
                             unfinished_tail_.id == live.id() && live.Stat(&now_st) &&
                             now_st.st_size == unfinished_tail_.size &&
                             MtimeNs(now_st) == unfinished_tail_.mtime_ns &&
                             TailFingerprint(live, offset, now_st.st_size, kTailStartBytes) ==
                                 unfinished_tail_.start_fingerprint) {
    bool same = since_scan >= 0 && since_scan < options_.tail_rescan_ns;
    if (!same && TailFingerprint(live, offset, now_st.st_size, kTailWideBytes) ==
                     unfinished_tail_.wide_fingerprint) {
      unfinished_tail_.scanned_ns = last_poll_start_.coarse_ns;
      same = true;
    }
    if (same) {
      if (!unfinished_tail_.no_line) SetCursor(live, cursor_.fingerprint, offset, out);
      out->lag_bytes = now_st.st_size - offset;
      return;
    }
  }
  unfinished_tail_ = {};
  std::string head;
  int64_t end = 0;
  const bool to_the_end =
      ReadFile(live, offset, false, expired, out, &end, offset == 0 ? &head : nullptr);
  // The fingerprint covers the bytes consumed (whole lines) once there are any, never the
  // unfinished line after them: a file written in place (preallocated, NUL bytes until
  // written) changes there at every write, which then read as a new file, read again from 0
  // (fresh eyes, stop 49: 11 lines stored 66 times). With nothing consumed yet, it covers the
  // first line still unfinished up to its first NUL byte, so that it names the file; NUL bytes
  // only (a preallocated file not yet written) are an empty file, which is never the cursor's
  // file. A fingerprint of NUL bytes would be overwritten by the first line, and then would
  // name any other preallocated file instead (fresh eyes, stop 50: the lines of a file rotated
  // before a run saw one complete were lost, 40 of 40, and a rotated file was taken for the
  // copy of such a file and counted twice).
  size_t fp_bytes = static_cast<size_t>(std::min<int64_t>(end, kFingerprintBytes));
  if (end == 0) fp_bytes = std::min({head.find('\0'), head.size(), kFingerprintBytes});
  // Taken BEFORE the check: if the check passes, the file was not truncated in between, so this
  // is the same generation's (longer) fingerprint.
  auto now = live.Fingerprint(fp_bytes);
  const std::string read_fp = offset == 0 ? FormatFingerprint(std::string_view(head).substr(
                                                0, std::min(head.size(), fp_bytes)))
                                          : cursor_.fingerprint;
  struct stat st {};
  const bool unchanged =
      live.Stat(&st) && st.st_size >= end && (read_fp.empty() || live.MatchesFingerprint(read_fp));
  // A plan that listed the rotated files and then reads the live file from 0 counts on no
  // rotation between the listing and this read. A copytruncate in between moves the generation
  // the plan took for live into a new copy, and the live file starts the next one (a loaded
  // logrotate test lost whole generations so). It shows as a rotated file listed now that was
  // not then, or as a live file that no longer starts as it did (a copy in progress then, taken
  // for the live file's own entry, completed since). Either way this read is forgotten: the
  // cursor stays at the end of the last rotated file read, and the next poll reads the copy,
  // then the live file. The heads are compared over the bytes both have: a read in two threads
  // keeps only its first part's head, which may end before 1 KiB.
  const size_t common = std::min(head.size(), plan.live_head.size());
  const bool rotated =
      unchanged && plan.listed && offset == 0 &&
      (head.compare(0, common, plan.live_head, 0, common) != 0 || RotatedSince(plan.listed_inodes));
  if (!unchanged || rotated) {
    *out = before;
    AddNote(&out->notes,
            path_ + (rotated ? ": rotated while reading; will resume from its copy"
                             : ": truncated while reading; will resume from its copy"));
    // Without a cursor (a first run), what the file held when this read began was not history:
    // name it by the first bytes read, so that the next poll finds them in the copytruncate
    // copy and reads it from 0, instead of taking the copy for history (fresh eyes: a first run
    // on a 400 MB log copytruncated under it lost all of its lines).
    if (!rotated && !plan.cursor_valid && offset == 0 && FingerprintLength(read_fp) > 0) {
      SetCursor(live, read_fp, 0, out);
    }
    return;
  }
  // Read to the end, and the file last modified before this poll began (a write in the same
  // tick of the coarse clock could carry the same mtime): its unfinished tail is as scanned.
  const bool tail_scanned =
      to_the_end && end < st.st_size && MtimeNs(st) < last_poll_start_.coarse_ns;
  if (!read_fp.empty()) {
    std::string fp = read_fp;
    // Longer as the file grows; shorter when a cursor stored before stop 50 covered its
    // unfinished line too.
    if (now.ok() && (FingerprintLength(*now) > FingerprintLength(fp) ||
                     FingerprintLength(fp) > fp_bytes)) {
      fp = *now;
    }
    SetCursor(live, fp, end, out);
    if (tail_scanned) {
      unfinished_tail_ = {live.id(),
                          end,
                          static_cast<int64_t>(st.st_size),
                          MtimeNs(st),
                          TailFingerprint(live, end, st.st_size, kTailStartBytes),
                          last_poll_start_.coarse_ns,
                          TailFingerprint(live, end, st.st_size, kTailWideBytes)};
    }
  } else {
    // The live file was empty, or NUL bytes only: keep a cursor that still says what was read,
    // else anchor.
    if (!plan.cursor_valid) Anchor(&live, plan.candidates, plan.listed, out);
    // NUL bytes only are not scanned again either while unchanged (review, stop 50: a 10 GiB
    // file preallocated and not yet written was read whole by every run).
    if (tail_scanned) {
      unfinished_tail_ = {live.id(),
                          0,
                          static_cast<int64_t>(st.st_size),
                          MtimeNs(st),
                          TailFingerprint(live, 0, st.st_size, kTailStartBytes),
                          last_poll_start_.coarse_ns,
                          TailFingerprint(live, 0, st.st_size, kTailWideBytes),
                          true};
    }
  }
  out->lag_bytes = 0;
  auto again = LogFile::Open(path_);
  if (again.ok() && again->id() == live.id()) {
    out->lag_bytes = std::max<int64_t>(0, again->size_on_disk() - end);
  }
}

}  // namespace obsmon::probes
