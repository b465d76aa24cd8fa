// Follows one log path across rotations: the state machine behind the log probe's exactly-once
// promise (docs/log-probe.md). Each Poll() reads what was appended since the cursor, finishing a
// rotated file (`.1`, `.2.gz`, copytruncate copies) from the saved offset before reading newer
// files from their start, and returns counts, matched lines and the new cursor. The caller
// commits them in one transaction; the follower's in-memory cursor advances at once, so a
// result that is not committed must be followed by a restart (Restore from storage).
//
// Not thread-safe: one Poll() at a time. `scanner` is not owned and must outlive the follower.
#pragma once

#include <climits>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/read_buffer.h"
#include "core/records.h"
#include "probes/log_file.h"
#include "probes/log_scanner.h"

namespace obsmon::probes {

struct FollowOptions {
  size_t read_chunk_bytes = 1 << 20;  // one read; also the longest line matched in full
  size_t max_line_bytes = 1024;       // a kept event's line is cut to this
  // Beyond it a severity's matches are counted but not kept (each severity its own, so that a
  // noisy error log keeps a critical line's evidence).
  size_t max_events_per_poll = 1000;
  // A plain file with at least this many unread bytes is read by two threads at once, each half
  // (split at a newline) with its own pread()s, and counted as one pass would: catching up on a
  // backlog takes half the time on two cores. 0: always one thread.
  size_t parallel_min_bytes = 32 << 20;
  // An unfinished last line scanned to its end is not scanned again while the file keeps its
  // inode, size, mtime and the line's first 4 KiB; every this long its first 1 MiB is compared
  // too: a writer through mmap() may change bytes farther out without changing the mtime.
  int64_t tail_rescan_ns = 10'000'000'000;
};

struct MatchedLine {
  std::string file;  // the file it was read from (a rotated name when finishing one)
  int severity = 0;  // index into the scanner's severities
  std::string line;  // cleaned: cut, valid UTF-8
};

struct FollowOutput {
  uint64_t lines = 0;               // complete lines read
  uint64_t bytes = 0;               // bytes consumed (the cursors' advance)
  std::vector<uint64_t> matches;    // per severity
  std::vector<MatchedLine> events;  // at most max_events_per_poll of each severity
  uint64_t events_dropped = 0;      // matches beyond max_events_per_poll (of their severity)
  std::vector<size_t> kept;         // `events` per severity (grown as severities are seen)
  // Set when the cursor moved or changed file: what to store.
  std::optional<LogCursor> cursor;
  // Why the followed path cannot be read now ("no such file", "permission denied",
  // "is a directory"); empty when it was read.
  std::string trouble;
  // Set with `trouble` when the path is no file: it does not exist, or it is a directory. A
  // glob's match that went away (rotated, deleted) or became a directory is no trouble (a
  // subdirectory a wildcard matches is not followed either); an explicit path's is. A symlink
  // to a missing file is not "no file": its name is there, and the log it names is missed.
  bool trouble_is_no_file = false;
  // Set with `trouble_is_no_file` when nothing of the path is left to read: the rotated files
  // this poll planned (the cursor's, renamed, and those after it) were read to their end, and
  // none could not be opened (or it was never read, so every rotated file is history). A glob's
  // match in that state is forgotten (LogProbe): a file of the same name made later is new,
  // read from its start as any new match is, and its rotated files are history to it.
  bool gone = false;
  // Non-fatal remarks for the run's detail ("binary content (NUL bytes)", ...).
  std::vector<std::string> notes;
  // Bytes not yet consumed after this poll: of the live file, plus, when the poll stopped
  // before it, the rest of the rotated files still to finish (a compressed one at its size on
  // disk).
  int64_t lag_bytes = 0;
  // Unread bytes in rotated files this process may not open (mode 0600 of another user, ...),
  // when certain (docs/log-probe.md): never counted as read. Each such file is reported once, by
  // the poll that finds it unread, with a note naming it; a compressed one, or one whose place
  // is unknown, is only noted.
  uint64_t unreadable_bytes = 0;
  // The file the cursor was in was gone when this poll looked for it: rotated away and deleted
  // (rotations faster than `rotate` keeps files between two polls), made again, or truncated
  // with no copy. Whatever was written to it after the last poll that read it, and any
  // generation rotated away in between, is lost; how much cannot be known (the file is gone).
  // 1 once per such file, and only when a rotated file newer than it holds lines to read (the
  // log was written across the rotations): a quiet log rotated away lost nothing. Said in a
  // note too.
  uint64_t files_missed = 0;
};

class LogFollower {
 public:
  LogFollower(std::string path, const LogScanner* scanner, FollowOptions options);

  // Adopts a stored cursor (before the first Poll()).
  void Restore(const LogCursor& cursor);
  // `expired` is checked between reads: when it returns true, Poll() stops at a line boundary
  // and the cursor records how far it got. It is called from two threads at once while a large
  // backlog is read in two (parallel_min_bytes).
  FollowOutput Poll(const std::function<bool()>& expired);

  const std::string& path() const { return path_; }
  const LogCursor& cursor() const { return cursor_; }
  // One-thread reads go to `shared` instead of a buffer of the follower's own: the followers of
  // one probe, polled one at a time, share one (a glob's thousands of files held 1 MiB of
  // address space each, what their reads had touched of it resident, and a mapping each
  // against the kernel's vm.max_map_count of 65,530). Not owned; must outlive the follower.
  void ShareReadBuffer(ReadBuffer* shared) { shared_buffer_ = shared; }

 private:
  // A rotated sibling that may hold unread lines: not empty, not the live file, not a copy of
  // the live file's current content (a copytruncate copy in progress or not yet truncated, a
  // compressed rotation of it), and not more recent than those (rotated after the live file
  // was opened: read by the next poll, after the live file).
  struct Candidate {
    LogFile file;
    std::string head;  // its first kFingerprintBytes bytes (decompressed)
    size_t rank = 0;   // its place among the rotated names listed, 0 = most recent
  };
  // A rotated name listed that could not be opened for a reason other than its absence.
  struct Unreadable {
    std::string path;
    uint64_t inode = 0;
    size_t rank = 0;
    int64_t size = -1;  // from statx(), which needs no read permission; -1 when unknown
    int64_t mtime_ns = 0;
    int64_t birth_ns = 0;  // 0 when the file system keeps none
    std::string why;
  };

  // Reads `file` from `offset` to its end (a rotated file's unterminated last line counts as a
  // line). Returns false when it stopped early (deadline or read error). *end_offset is the
  // consumed position. When `head` is given, the bytes read at file positions below
  // kFingerprintBytes are appended to it (the partial last line included).
  bool ReadFile(LogFile& file, int64_t offset, bool finished_file,
                const std::function<bool()>& expired, FollowOutput* out, int64_t* end_offset,
                std::string* head = nullptr);
  // Where ReadFile() splits a large unread part in two (just after a newline near its middle),
  // or -1 to read it in one pass.
  int64_t SplitPoint(LogFile& file, int64_t offset) const;
  // [offset, end) in this thread, with the kept buffer; false with out->trouble set when that
  // buffer cannot be mapped.
  bool ReadInOne(LogFile& file, int64_t offset, bool finished_file,
                 const std::function<bool()>& expired, FollowOutput* out, int64_t* end_offset,
                 std::string* head);
  // What of the kept buffer stays resident after a read that used more of it.
  static constexpr size_t kKeptResidentBytes = size_t{1} << 20;
  // [offset, split) in a second thread (on file.Share()), [split, end) in this one; in one
  // thread when no thread or buffers can be had.
  bool ReadInTwo(LogFile& file, int64_t offset, int64_t split, bool finished_file,
                 const std::function<bool()>& expired, FollowOutput* out, int64_t* end_offset,
                 std::string* head);
  // Adds a part read after what `out` holds, keeping max_events_per_poll over both.
  void Append(FollowOutput part, FollowOutput* out) const;
  // ReadFile() over [offset, limit) with `buf` (read_chunk_bytes of it): safe to run in two
  // threads at once on two LogFiles and two buffers. `limit` must follow a newline (or be
  // kNoLimit).
  static constexpr int64_t kNoLimit = INT64_MAX;
  bool ReadRange(LogFile& file, int64_t offset, int64_t limit, bool finished_file,
                 const std::function<bool()>& expired, FollowOutput* out, int64_t* end_offset,
                 std::string* head, char* buf) const;
  void CountLine(std::string_view line, int severity, const std::string& file,
                 FollowOutput* out) const;
  static void NoteBinary(const LogFile& file, FollowOutput* out);
  void SetCursor(const LogFile& file, std::string fingerprint, int64_t offset, FollowOutput* out);
  // Rotated siblings, most recent first, of the path and of its symlink target.
  std::vector<RotatedName> Rotated() const;
  // The rotated siblings that may hold unread lines, most recent first (see Candidate). When
  // `listed` is given, it gets the inode of every rotated file listed (candidates or not); when
  // `unreadable` is given, the names that could not be opened.
  std::vector<Candidate> Candidates(LogFile* live, std::vector<uint64_t>* listed = nullptr,
                                    std::vector<Unreadable>* unreadable = nullptr) const;
  // Whether a rotated file is listed now that `before` did not have: a rotation since.
  bool RotatedSince(const std::vector<uint64_t>& before) const;
  // Points the cursor at "everything that exists now has been read" when the live file is
  // empty and the cursor says nothing useful (first run, lost file): the end of the most recent
  // non-empty rotated file, else an empty cursor on the live file.
  void Anchor(LogFile* live, std::vector<Candidate>& candidates, bool listed, FollowOutput* out);

  // What one Poll() reads: rotated files oldest first (each from its offset), then maybe the
  // live file. Built by PlanPoll() from the cursor and what is on disk.
  struct ReadPlan {
    struct Step {
      LogFile file;
      int64_t offset;
      std::string fingerprint;
    };
    std::vector<Step> steps;
    bool live_in_plan = false;
    int64_t live_offset = 0;
    // False when the cursor no longer says what was read (none yet, or its file was lost): if
    // the live file turns out empty, Anchor() then says "everything that exists now was read".
    bool cursor_valid = false;
    std::vector<Candidate> candidates;    // rotated siblings not in steps (for Anchor())
    bool listed = false;                  // candidates were listed
    std::vector<uint64_t> listed_inodes;  // every rotated file listed then (RotatedSince())
    std::string live_head;                // the live file's first bytes just before that listing
    std::vector<Unreadable> unreadable;   // rotated names listed that could not be opened
    // Of those, the ones that hold bytes after the cursor, with how many (LostToUnreadable()):
    // kUnknownBytes when some are unread but not how many, kMaybeBytes when perhaps some.
    std::vector<std::pair<Unreadable, int64_t>> lost;
  };
  static constexpr int64_t kUnknownBytes = -1;
  static constexpr int64_t kMaybeBytes = -2;
  // When a poll began, on the kernel's coarse wall clock (which stamps most mtimes: a write after
  // it cannot carry an earlier one) and on the fine one (no file created before it carries a
  // later stamp). 0: unknown.
  struct PollStart {
    int64_t coarse_ns = 0;
    int64_t fine_ns = 0;
  };
  // `previous`: when the previous poll began.
  ReadPlan PlanPoll(LogFile* live, PollStart previous, FollowOutput* out) const;
  // PlanPoll() when the live file is not the cursor's: rotated, truncated, replaced or gone.
  void PlanAfterRotation(LogFile* live, ReadPlan* plan, FollowOutput* out) const;
  // The index in `candidates` of the cursor's file, or -1.
  int FindCursorFile(const std::vector<Candidate>& candidates) const;
  // Fills plan->lost with the unreadable rotated files that hold unread bytes: the cursor's own
  // file (renamed, or a copytruncate copy of it) from the cursor's offset, every file rotated
  // after it whole, and, when the cursor's file cannot be placed, any written since the
  // previous poll began (how much of it is unread is then unknown). `cursor_rank` is the rank of
  // the cursor's file among the readable candidates, or -1.
  void LostToUnreadable(const LogFile* live, int cursor_rank, PollStart previous,
                        ReadPlan* plan) const;
  // Whether `live`, with the cursor's inode number, is another file than the one the cursor
  // was set on: born at another time (deleted and made again between two polls, the number
  // handed out again; fresh eyes, stop 48). The birth is stored with the cursor, so this holds
  // across restarts; unknown (false) for a cursor stored before it was, or without birth times.
  bool MadeAgain(const LogFile& live) const;
  // Whether a file was modified since the previous poll began (the same tick of the coarse
  // clock included). Unknown before a first poll with no stored cursor: then nothing is.
  static bool Fresh(int64_t mtime_ns, PollStart previous);
  // Whether a rotated file ranked after `rank` (older) and not Fresh() is listed.
  static bool OlderHistoryListed(const ReadPlan& plan, size_t rank, PollStart previous);
  // Counts FollowOutput::files_missed once per lost file, where the log was written since.
  void CountMiss(const ReadPlan& plan, FollowOutput* out);
  // Notes and counts each file of plan.lost once (a later poll may list it again).
  void ReportLost(const ReadPlan& plan, FollowOutput* out);
  // Reads the live file after the plan's rotated files and moves the cursor (see Poll()).
  void ReadLive(LogFile& live, ReadPlan& plan, const std::function<bool()>& expired,
                FollowOutput* out);

  std::string path_;
  const LogScanner* scanner_;
  FollowOptions options_;
  // Key unset; inode == 0 until a file was seen. Invariant: the cursor names the most recent
  // NON-EMPTY file read (its fingerprint is never empty then), at the offset consumed; every
  // non-empty rotated file newer than it and the live file are unread. An empty fingerprint
  // (offset 0) means: no non-empty file was read, every non-empty rotated file is unread.
  // An empty file is never the cursor's file: it cannot be recognised once compressed.
  LogCursor cursor_;
  // The read buffer of one-thread reads (read_chunk_bytes), mapped at the first read and kept;
  // only the pages reads wrote are resident, at most kKeptResidentBytes between runs. Unused
  // when shared_buffer_ is set.
  ReadBuffer own_buffer_;
  ReadBuffer* shared_buffer_ = nullptr;
  // The live file's unfinished last line as a poll left it, scanned to the end: while the file
  // keeps its identity, size and mtime, the next polls do not scan it again (ReadLive()).
  struct UnfinishedTail {
    FileId id;
    int64_t offset = -1;  // the cursor's offset: where the unfinished line begins
    int64_t size = 0;
    int64_t mtime_ns = 0;
    std::string start_fingerprint;  // of its first kTailStartBytes
    int64_t scanned_ns = 0;  // when it was last scanned or compared whole (coarse wall clock)
    std::string wide_fingerprint;  // of its first kTailWideBytes
    bool no_line = false;          // NUL bytes only from 0: not the cursor's file
  };
  // Fingerprints, not the bytes, so that a glob's thousands of files keep a few bytes each.
  // The first 4 KiB are compared at every run; the first 1 MiB every tail_rescan_ns (a line
  // past them would be longer than 1 MiB, which a read takes as a long line anyway).
  static constexpr size_t kTailStartBytes = 4096;
  static constexpr size_t kTailWideBytes = size_t{1} << 20;
  // The fingerprint of the first min(max_bytes, size - offset) bytes at `offset` of a file of
  // `size` bytes.
  static std::string TailFingerprint(LogFile& file, int64_t offset, int64_t size,
                                     size_t max_bytes);
  UnfinishedTail unfinished_tail_;
  bool noted_binary_ = false;
  bool noted_invalid_utf8_ = false;
  // The unreadable rotated files already reported (ReportLost()); only those still listed
  // are kept.
  std::vector<Unreadable> reported_unreadable_;
  // The cursor (device, inode, fingerprint) whose file was last counted as missed: a quiet log
  // keeps its cursor on it run after run.
  std::string last_missed_;
  // When the previous Poll() began (wall clock, ns; a restored cursor's updated_ms), 0 if never.
  PollStart last_poll_start_;
};

}  // namespace obsmon::probes
