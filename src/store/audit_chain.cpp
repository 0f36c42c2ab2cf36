#include "store/audit_chain.h"

#include <cctype>

#include "core/clock.h"
#include "core/hash.h"

namespace cadre {
namespace {

std::string at_seq(int64_t seq) { return "#" + std::to_string(seq); }

bool is_sha256_hex(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

}  // namespace

std::string audit_content(const AuditEntry& e) {
  Json content = Json::array({e.seq, e.at, e.actor, e.action, e.subject, e.objective_id, e.task_id, e.data});
  return dump_json(content);
}

std::string audit_hash(const std::string& prev_hash, const AuditEntry& entry) {
  return sha256_hex(prev_hash + "\n" + audit_content(entry));
}

Json to_json(const AuditEntry& e) {
  return {{"seq", e.seq},
          {"at", e.at},
          {"time", e.at > 0 ? Json(format_time_utc(e.at)) : Json(nullptr)},
          {"actor", e.actor},
          {"action", e.action},
          {"subject", e.subject},
          {"objective_id", e.objective_id},
          {"task_id", e.task_id},
          {"data", e.data},
          {"prev_hash", e.prev_hash},
          {"hash", e.hash}};
}

Json to_json(const AuditHead& head) { return {{"seq", head.seq}, {"hash", head.hash}}; }

Result<AuditHead> audit_head_from_json(const Json& json) {
  if (!json.is_object()) return Status::InvalidArgument("an audit head must be a JSON object {seq, hash}");
  const auto seq = json.find("seq");
  if (seq == json.end() || !seq->is_number_integer() || seq->get<int64_t>() < 0)
    return Status::InvalidArgument("an audit head needs 'seq', a non-negative integer");
  const auto hash = json.find("hash");
  if (hash == json.end() || !hash->is_string() || !is_sha256_hex(hash->get<std::string>()))
    return Status::InvalidArgument("an audit head needs 'hash', 64 lower-case hex digits");
  return AuditHead{seq->get<int64_t>(), hash->get<std::string>()};
}

std::string_view to_string(AuditProblem problem) {
  switch (problem) {
    case AuditProblem::kNone: return "none";
    case AuditProblem::kNotFromStart: return "not_from_start";
    case AuditProblem::kGap: return "gap";
    case AuditProblem::kDuplicate: return "duplicate";
    case AuditProblem::kOutOfOrder: return "out_of_order";
    case AuditProblem::kBrokenLink: return "broken_link";
    case AuditProblem::kAltered: return "altered";
    case AuditProblem::kHeadMismatch: return "head_mismatch";
    case AuditProblem::kTruncated: return "truncated";
  }
  return "unknown";
}

Json to_json(const AuditVerification& v) {
  Json out = {{"ok", v.ok},
              {"entries", v.entries},
              {"head", {{"seq", v.head_seq}, {"hash", v.head_hash}, {"at", v.head_at}}}};
  if (!v.ok) {
    out["first_bad_seq"] = v.first_bad_seq;
    out["kind"] = to_string(v.kind);
    out["problem"] = v.problem;
  }
  return out;
}

bool AuditChainVerifier::fail(int64_t seq, AuditProblem kind, std::string problem) {
  result_.ok = false;
  result_.first_bad_seq = seq;
  result_.kind = kind;
  result_.problem = std::move(problem);
  return false;
}

// Where the entry sits: #1 first, then each seq one more than the last.
bool AuditChainVerifier::check_position(const AuditEntry& e) {
  if (!previous_) {
    if (e.seq == 1) return true;
    return fail(e.seq, AuditProblem::kNotFromStart,
                "the log starts at " + at_seq(e.seq) + ", not #1 (the first entries deleted?)");
  }
  const int64_t last = previous_->seq;
  if (e.seq == last + 1) return true;
  if (e.seq == last) return fail(e.seq, AuditProblem::kDuplicate, "the same seq appears twice (inserted?)");
  if (e.seq < last) {
    return fail(e.seq, AuditProblem::kOutOfOrder, "it comes after " + at_seq(last) + " (reordered?)");
  }
  std::string missing = e.seq == last + 2 ? at_seq(last + 1) + " is" : at_seq(last + 1) + ".." + at_seq(e.seq - 1) + " are";
  return fail(e.seq, AuditProblem::kGap, "it follows " + at_seq(last) + "; " + missing + " missing (deleted?)");
}

bool AuditChainVerifier::add(const AuditEntry& e) {
  if (!result_.ok || finished_) return false;
  ++result_.entries;
  if (!check_position(e)) return false;
  const std::string& expected_prev = previous_ ? previous_->hash : kAuditGenesisHash;
  if (e.prev_hash != expected_prev) {
    std::string previous = previous_ ? "the hash of " + at_seq(previous_->seq) : "the genesis hash (64 zeros)";
    std::string why = previous_ ? " (" + at_seq(previous_->seq) + " rewritten with a new hash, or an entry "
                                      "inserted or removed before this one?)"
                                : " (entries before it removed?)";
    return fail(e.seq, AuditProblem::kBrokenLink, "its prev_hash is not " + previous + why);
  }
  if (audit_hash(e.prev_hash, e) != e.hash) {
    return fail(e.seq, AuditProblem::kAltered, "its hash does not match its content (altered?)");
  }
  if (expected_head_ && e.seq == expected_head_->seq) {
    head_seen_ = true;
    if (e.hash != expected_head_->hash) {
      return fail(e.seq, AuditProblem::kHeadMismatch,
                  "its hash differs from the exported head's (the log rewritten up to here since the head "
                  "was exported?)");
    }
  }
  result_.head_seq = e.seq;
  result_.head_hash = e.hash;
  result_.head_at = e.at;
  previous_ = e;
  return true;
}

AuditVerification AuditChainVerifier::finish() {
  if (!finished_ && result_.ok && expected_head_ && expected_head_->seq > result_.head_seq && !head_seen_) {
    const int64_t last = result_.head_seq;
    const int64_t want = expected_head_->seq;
    fail(last + 1, AuditProblem::kTruncated,
         "the log ends at " + at_seq(last) + " but the exported head is " + at_seq(want) + ": " +
             (want == last + 1 ? at_seq(want) + " is" : at_seq(last + 1) + ".." + at_seq(want) + " are") +
             " missing (deleted from the end?)");
  }
  finished_ = true;
  return result_;
}

Result<AuditVerification> verify_audit_chain(const AuditPageReader& next_page,
                                             const std::optional<AuditHead>& expected_head) {
  AuditChainVerifier verifier(expected_head);
  int64_t after = 0;
  while (true) {
    CADRE_ASSIGN_OR_RETURN(std::vector<AuditEntry> page, next_page(after));
    if (page.empty()) break;
    for (const auto& entry : page) {
      if (!verifier.add(entry)) return verifier.finish();
    }
    after = page.back().seq;
  }
  return verifier.finish();
}

Result<AuditVerification> verify_audit_chain(AuditStore& store, const std::optional<AuditHead>& expected_head,
                                             int page_size) {
  if (page_size <= 0) return Status::InvalidArgument("verify_audit_chain: page_size must be positive");
  return verify_audit_chain(
      [&](int64_t after_seq) -> Result<std::vector<AuditEntry>> {
        AuditFilter filter;
        filter.after_seq = after_seq;
        filter.limit = page_size;
        return store.list(filter);
      },
      expected_head);
}

}  // namespace cadre
