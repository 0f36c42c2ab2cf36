// The audit log's hash chain: how an entry's hash is computed from the
// previous hash and the entry's content, and how a log is verified. Shared
// by every backend (which computes the hash when appending), by
// `cadre audit verify` and by the API.
//
// What verification proves: every entry's hash covers its content and the
// hash before it, so altering an entry (without recomputing its hash), or
// deleting, inserting or reordering entries breaks the chain at the first
// record touched. Someone who rewrites an entry *and* recomputes its hash is
// caught at the next entry (its prev_hash no longer matches), unless they
// rewrite the whole tail to the end; deleting entries at the end leaves a
// valid shorter chain. Both are caught only against a head ({seq, hash})
// exported earlier and kept elsewhere (`cadre audit head`).
//
// Thread-safety: free functions; AuditChainVerifier is one caller's object.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/result.h"
#include "store/audit_store.h"

namespace cadre {

// The prev_hash of the first entry.
inline const std::string kAuditGenesisHash(64, '0');

// The canonical bytes an entry's hash covers: every field but the hashes,
// as a compact JSON array with sorted object keys.
std::string audit_content(const AuditEntry& entry);

// SHA-256 hex of prev_hash, a newline, and audit_content(entry).
std::string audit_hash(const std::string& prev_hash, const AuditEntry& entry);

// The JSON view of an entry (CLI --json, API): its fields and `time`, the
// ISO text of `at`.
Json to_json(const AuditEntry& entry);

// The newest entry's position, exported to be checked against later. An
// empty log's head is {0, kAuditGenesisHash}.
struct AuditHead {
  int64_t seq = 0;
  std::string hash = kAuditGenesisHash;
};

Json to_json(const AuditHead& head);
// Reads {seq, hash} (other fields, such as `at`, are ignored): seq a
// non-negative integer, hash 64 lower-case hex digits.
Result<AuditHead> audit_head_from_json(const Json& json);

// What is wrong with a log, for programs; AuditVerification::problem says it
// for people.
enum class AuditProblem {
  kNone,
  kNotFromStart,     // the first entry is not #1: entries at the start are missing
  kGap,              // seq skips numbers: entries are missing
  kDuplicate,        // the same seq twice
  kOutOfOrder,       // seq goes backwards
  kBrokenLink,       // prev_hash is not the previous entry's hash
  kAltered,          // the hash does not cover the content
  kHeadMismatch,     // the entry at the exported head's seq has another hash
  kTruncated,        // the log ends before the exported head's seq
};
std::string_view to_string(AuditProblem problem);

struct AuditVerification {
  bool ok = true;
  int64_t entries = 0;          // entries read (up to and including the bad one)
  int64_t head_seq = 0;         // the last entry read that was sound, 0 if none
  std::string head_hash = kAuditGenesisHash;
  TimeMs head_at = 0;
  int64_t first_bad_seq = 0;    // 0 when ok; for kTruncated, the first missing seq
  AuditProblem kind = AuditProblem::kNone;
  std::string problem;          // "" when ok, else one sentence naming the record
};

Json to_json(const AuditVerification& verification);

// Checks entries handed to it one at a time, in the order the log holds
// them, keeping only the previous entry: a log of any length is verified in
// constant memory. Stops at the first problem.
class AuditChainVerifier {
 public:
  explicit AuditChainVerifier(std::optional<AuditHead> expected_head = std::nullopt)
      : expected_head_(std::move(expected_head)) {}

  // Checks the next entry; false once a problem was found (feed no more).
  bool add(const AuditEntry& entry);
  // The verdict, with the check against the expected head's seq (whether
  // the log reached it) done at the end.
  AuditVerification finish();

 private:
  bool fail(int64_t seq, AuditProblem kind, std::string problem);
  bool check_position(const AuditEntry& entry);

  std::optional<AuditHead> expected_head_;
  bool head_seen_ = false;
  bool finished_ = false;
  std::optional<AuditEntry> previous_;
  AuditVerification result_;
};

// Reads the whole log of `store` oldest first, `page_size` entries per read,
// and verifies it (against `expected_head` when given). Errors only when
// the log cannot be read; a broken chain is an answer with ok = false.
Result<AuditVerification> verify_audit_chain(AuditStore& store,
                                             const std::optional<AuditHead>& expected_head = std::nullopt,
                                             int page_size = 1000);

// The same over any source: `next_page(after_seq)` returns the entries after
// `after_seq` in seq order (empty at the end). For other backends and tests.
using AuditPageReader = std::function<Result<std::vector<AuditEntry>>(int64_t after_seq)>;
Result<AuditVerification> verify_audit_chain(const AuditPageReader& next_page,
                                             const std::optional<AuditHead>& expected_head = std::nullopt);

}  // namespace cadre
