// The audit log's hash chain: how an entry's hash is computed from the
// previous hash and the entry's content. Shared by every backend (which
// computes it when appending) and by verification.
#pragma once

#include <string>

#include "store/audit_store.h"

namespace cadre {

// The prev_hash of the first entry.
inline const std::string kAuditGenesisHash(64, '0');

// The canonical bytes an entry's hash covers: every field but the hashes,
// as a compact JSON array with sorted object keys.
std::string audit_content(const AuditEntry& entry);

// SHA-256 hex of prev_hash, a newline, and audit_content(entry).
std::string audit_hash(const std::string& prev_hash, const AuditEntry& entry);

}  // namespace cadre
