#pragma once
// The posting engine of the allowance registry: the only code that changes balances.
//
// Every posting goes through one PostgreSQL function (gx_post; many transfers at once
// through gx_post_transfers; migrations 0002 and 0003), which locks the accounts involved
// in one order, checks the rules, and writes lines, balances, serial blocks and the
// journal entry with its hash in one step, or refuses without changing anything. This class validates what can be validated without the database
// (account and corporate numbers, units, vintages, quantities, serial arithmetic), builds
// the canonical request and its SHA-256, and turns the database's refusals into numbered
// checks with sentences a person can act on.
//
// Idempotency: the same key and the same request again return the first entry
// (duplicate = true) and change nothing; the same key with another request is refused as
// IDEMPOTENCY_CONFLICT. A refused posting records nothing, so the same key may be posted
// again once its cause is fixed (an operator's retry).
//
// Thread-safety: a Ledger borrows one Connection and is used by one thread at a time.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hub/core/result.hpp"
#include "hub/db/pg.hpp"
#include "registry/domain/serials.hpp"
#include "registry/domain/units.hpp"

namespace hub::registry {

enum class PostingKind { kIssuance, kAllocation, kTransfer, kCreditIntake, kIntakeReversal, kSurrender, kCorrection };
std::string_view posting_kind_str(PostingKind kind);

enum class CauseType { kUser, kConnectorMessage, kWorkflowStep, kSystem };
std::string_view cause_type_str(CauseType type);

// Who or what caused a posting: a person ("user", their user id), a connector message
// ("connector_message", "<connector>:<message_id>"), a workflow step, or the system.
struct Cause {
  CauseType type = CauseType::kUser;
  std::string ref;
};

struct PostingLine {
  std::string account;  // JP-GX-...
  UnitType unit = UnitType::kGXA;
  int vintage = 0;
  std::int64_t delta = 0;  // debits negative
};

struct CreditedBlock {
  std::string account;  // the holding account credited
  int vintage = 0;
  SerialBlock block;
};

struct PostingRequest {
  PostingKind kind = PostingKind::kTransfer;
  std::string idempotency_key;
  Cause cause;
  std::string reason;
  std::string approved_by;
  std::optional<std::int64_t> reverses;  // intake reversal: the credit intake's entry id
  std::vector<PostingLine> lines;
  std::vector<CreditedBlock> serials;

  // The canonical JSON of what is asked (not of who asked it): its SHA-256 decides
  // between a duplicate and a conflict.
  std::string canonical_json() const;
  std::string sha256() const;
};

struct Posting {
  std::int64_t entry_id = 0;
  bool duplicate = false;
};

// One transfer of a batch (Ledger::transfer_batch): `quantity` units of `unit` / `vintage`
// from one holding account to another. The same posting as Ledger::transfer() with the
// same arguments: same request hash, so a key posted one way is a duplicate the other way.
struct TransferItem {
  std::string idempotency_key;
  Cause cause;
  std::string from;
  std::string to;
  UnitType unit = UnitType::kGXA;
  int vintage = 0;
  std::int64_t quantity = 0;

  PostingRequest request() const;
};

// How far the hash chain's sealer is behind (gx_journal_backlog): entries committed but
// not linked yet, and how long the oldest of them has waited.
struct SealBacklog {
  std::int64_t unsealed = 0;
  double oldest_age_seconds = 0;  // 0 when nothing waits
};

struct BalanceRow {
  std::string account;
  std::string unit;
  int vintage = 0;
  std::int64_t quantity = 0;
};

struct HistoryRow {
  std::int64_t entry_id = 0;
  std::string posted_at;
  std::string kind;
  std::string unit;
  int vintage = 0;
  std::int64_t delta = 0;
  std::string counterparty;  // the other account(s) of the entry
  std::string cause;         // "user:alice", "connector_message:gx-market:GXM-1"
  std::string serials;       // blocks credited by this entry, if any
};

struct AccountRow {
  std::string number;
  int type = 0;
  std::string holder;
  std::string holder_name;
  std::string name;
  std::string state;
};

struct VerifyBreak {
  std::string kind;  // ENTRY_HASH_MISMATCH, CHAIN_BROKEN, BALANCE_MISMATCH, ...
  std::optional<std::int64_t> entry_id;
  std::string detail;
};

struct VerifyReport {
  std::int64_t entries = 0;
  std::int64_t lines = 0;
  std::int64_t sealed = 0;
  std::int64_t balances = 0;
  std::int64_t serial_blocks = 0;
  std::vector<std::string> totals;  // "GXA 2026: issued 10,000, held 10,000"
  std::vector<VerifyBreak> breaks;
  double seconds = 0;
  bool ok() const { return breaks.empty(); }
};

class Ledger {
 public:
  explicit Ledger(db::Connection& conn) : conn_(conn) {}

  // ---- parties and accounts
  Result<std::string> create_company(const std::string& corporate_number, const std::string& name,
                                     const std::string& kind, const std::string& actor);
  // Opens an account of `type` for the holder: with `number` when given (it must carry
  // the type and a valid check digit), else the next free number of that type.
  Result<std::string> open_account(int type, const std::string& holder, const std::string& name,
                                   const std::string& actor,
                                   const std::optional<std::string>& number = std::nullopt);
  // state: open | blocked | closed. Returns true when the state changed.
  Result<bool> set_account_state(const std::string& account, const std::string& state,
                                 const std::string& actor, const std::string& reason);

  // ---- postings
  Result<Posting> post(const PostingRequest& request);
  // Several postings in one transaction of its own (BEGIN ... COMMIT here): the accounts
  // of all of them are locked first, in the one lock order; each posting is applied or
  // refused on its own. When every request is a plain transfer (two lines, one unit and
  // vintage, no serials, reason or approver) the batch goes through transfer_batch().
  std::vector<Result<Posting>> post_batch(const std::vector<PostingRequest>& requests);

  // Many transfers in ONE round trip (gx_post_transfers), in order, each exactly as
  // transfer() would post it at that point: posted, a duplicate of an earlier posting of
  // its key (in the journal or earlier in this batch), or refused with its numbered check
  // and sentence (refusal_from_db); a refused transfer changes nothing and the next ones
  // see the balances without it. One result per item, in the items' order.
  //
  // Transaction contract: it runs inside whatever transaction the caller has open on the
  // connection and never begins, commits or rolls back one itself, so the caller commits
  // its own writes (e.g. the intake consumer's inbox state) and the postings together, or
  // neither. Without an open transaction the call is its own transaction. A refusal is a
  // value and leaves the caller's transaction usable. The accounts of the batch stay
  // locked (FOR NO KEY UPDATE, account_id order) until the caller's commit or rollback:
  // keep the transaction short, and take no other account locks before this call in the
  // same transaction (one lock order, no deadlock). The transaction must be READ
  // COMMITTED (the default): if another transaction commits one of the batch's keys while
  // this one runs, the database decides the batch again with that key seen. Exceptions
  // (db::DbError) mean the transaction is aborted and must be rolled back: a lost
  // connection, db::TransactionConflict (40001 when keys keep being posted concurrently,
  // or a deadlock with locks the caller took itself; run the transaction again), or a
  // broken invariant. Items that fail validation before the database (malformed account
  // number, vintage, quantity, key) get their refusal without being sent.
  std::vector<Result<Posting>> transfer_batch(const std::vector<TransferItem>& items);

  Result<Posting> issue(const std::string& key, const Cause& cause, const std::string& approved_by,
                        const std::string& issuance_account, int vintage, std::int64_t quantity);
  Result<Posting> allocate(const std::string& key, const Cause& cause, const std::string& from,
                           const std::string& to, int vintage, std::int64_t quantity);
  Result<Posting> transfer(const std::string& key, const Cause& cause, const std::string& from,
                           const std::string& to, UnitType unit, int vintage, std::int64_t quantity);
  Result<Posting> credit_intake(const std::string& key, const Cause& cause, const std::string& intake_account,
                                const std::string& to, int vintage, const std::vector<SerialBlock>& blocks);
  Result<Posting> reverse_intake(const std::string& key, const Cause& cause, std::int64_t intake_entry,
                                 const std::string& reason);
  Result<Posting> surrender(const std::string& key, const Cause& cause, const std::string& from,
                            const std::string& to, UnitType unit, int vintage, std::int64_t quantity);
  Result<std::int64_t> propose_correction(const std::string& actor, const std::string& reason,
                                          const std::vector<PostingLine>& lines);
  // Approve (posts) or reject; the decider must not be the proposer.
  Result<std::optional<Posting>> decide_correction(std::int64_t correction_id, const std::string& actor,
                                                   bool approve, const std::string& note);

  // ---- reading
  std::vector<BalanceRow> balances(const std::optional<std::string>& account = std::nullopt);
  std::vector<HistoryRow> history(const std::string& account, int limit = 100);
  std::vector<AccountRow> accounts(const std::optional<std::string>& holder = std::nullopt);

  // Links committed entries into the hash chain; returns how many it linked.
  int seal(int max = 10000);
  // The sealer's backlog, for metrics and status pages.
  SealBacklog seal_backlog();
  // Recomputes every balance from the journal, checks conservation per unit type and
  // vintage, non-negative holdings, every entry's hash and the chain. Seals first.
  VerifyReport verify();

 private:
  Result<Posting> call_post(const PostingRequest& request);
  Status validate(const PostingRequest& request) const;
  // The items' results, their validation done by the caller: `valid` lists which to send.
  void call_post_transfers(const std::vector<TransferItem>& items, const std::vector<std::size_t>& valid,
                           const std::vector<std::string>& shas, std::vector<Result<Posting>>& out);
  db::Connection& conn_;
};

// A refusal from the database (check code + detail JSON) as a numbered check with a
// sentence, e.g. "INSUFFICIENT_BALANCE (check 1005): JP-GX-100-0000018 holds 400 GXA of
// 2026; the transfer needs 1,000".
Error refusal_from_db(const std::string& code, const std::string& detail_json);

}  // namespace hub::registry
