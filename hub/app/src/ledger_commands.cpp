#include "hub/app/ledger_commands.hpp"


#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <sys/wait.h>

#include "hub/app/command_options.hpp"
#include "hub/core/ids.hpp"
#include "hub/db/pg.hpp"
#include "registry/domain/format.hpp"
#include "registry/domain/units.hpp"
#include "registry/ledger/ledger.hpp"

namespace hub::app {
namespace {


using registry::Cause;
using registry::CauseType;
using registry::Ledger;

std::string actor(const Options& o) {
  if (auto it = o.named.find("actor"); it != o.named.end()) return it->second;
  const char* user = std::getenv("USER");
  return std::string("hubctl:") + (user && *user ? user : "operator");
}

Cause cause(const Options& o) { return Cause{CauseType::kUser, actor(o)}; }

std::string key(const Options& o, const std::string& kind) {
  return opt(o, "key", "hubctl-" + kind + "-" + random_hex_id().substr(0, 16));
}

template <class T>
int report(const Result<T>& r, const std::string& what) {
  if (!r.ok()) {
    std::cerr << "refused: " << r.error().to_string() << "\n";
    return 1;
  }
  std::cout << what << "\n";
  return 0;
}

int posting_result(const Result<registry::Posting>& r, const std::string& what) {
  if (!r.ok()) return report(r, "");
  std::cout << what << ": journal entry " << r->entry_id << (r->duplicate ? " (already posted with this key; nothing changed)" : "")
            << "\n";
  return 0;
}

int verify(Ledger& ledger, const HubSettings& s, bool as_json) {
  auto rep = ledger.verify();
  if (as_json) {
    nlohmann::json j = {{"ok", rep.ok()},       {"entries", rep.entries},   {"lines", rep.lines},
                        {"sealed", rep.sealed}, {"balances", rep.balances}, {"serial_blocks", rep.serial_blocks},
                        {"totals", rep.totals}, {"seconds", rep.seconds}};
    j["breaks"] = nlohmann::json::array();
    for (const auto& b : rep.breaks) {
      j["breaks"].push_back({{"kind", b.kind}, {"entry_id", b.entry_id ? nlohmann::json(*b.entry_id) : nlohmann::json()},
                             {"detail", b.detail}});
    }
    std::cout << j.dump(2) << "\n";
    return rep.ok() ? 0 : 1;
  }
  using registry::format_quantity;
  std::cout << "Ledger verification of " << s.db_endpoint << "\n"
            << "  journal entries   " << format_quantity(rep.entries) << " (" << format_quantity(rep.sealed)
            << " linked in the hash chain)\n"
            << "  journal lines     " << format_quantity(rep.lines) << "\n"
            << "  balances          " << format_quantity(rep.balances) << "\n"
            << "  serial blocks     " << format_quantity(rep.serial_blocks) << "\n";
  for (const auto& t : rep.totals) std::cout << "  " << t << "\n";
  std::cout << std::fixed << std::setprecision(2);
  if (rep.ok()) {
    std::cout << "OK: every entry matches its hash, the hash chain is unbroken, every balance recomputes from the "
                 "journal, every unit type and vintage is conserved, no holding is negative ("
              << rep.seconds << " s)\n";
    return 0;
  }
  std::cout << "BROKEN: " << rep.breaks.size() << " problem(s) (" << rep.seconds << " s)\n";
  for (const auto& b : rep.breaks) {
    std::cout << "  - " << b.kind;
    if (b.entry_id) std::cout << " [journal entry " << *b.entry_id << "]";
    std::cout << ": " << b.detail << "\n";
  }
  return 2;
}

int run_script(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const auto& a : argv) {
    std::string q = "'";
    for (char c : a) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
    cmd += (cmd.empty() ? "" : " ") + q + "'";
  }
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 1;
}

}  // namespace

std::string ledger_commands_usage() {
  return "  company add --number N --name NAME --kind covered|participant|government|organization\n"
         "  company list\n"
         "  account open --type 100|200|300|400|900 --holder CORPORATE_NUMBER [--name X] [--number JP-GX-...]\n"
         "  account block|unblock|close ACCOUNT --reason TEXT\n"
         "  account list [--holder CORPORATE_NUMBER]\n"
         "  issue --account JP-GX-200-... --vintage YEAR --quantity Q --approved-by PERSON [--key K]\n"
         "  allocate --from JP-GX-200-... --to JP-GX-100-... --vintage YEAR --quantity Q [--key K]\n"
         "  transfer --from A --to B --vintage YEAR --quantity Q [--unit GXA] [--key K]\n"
         "  balances [ACCOUNT]\n"
         "  history ACCOUNT [--limit N]\n"
         "  ledger verify [--json]   recompute balances, check conservation and the hash chain;\n"
         "                           exit 0 when sound, 2 when anything is broken\n"
         "  ledger seal              link pending journal entries into the hash chain\n"
         "  backup [--label L]       base backup of the PostgreSQL cluster (WAL is archived)\n"
         "  restore --backup DIR --target-dir NEWDATA --port P [--time 'YYYY-MM-DD HH:MM:SS+00']\n"
         "                           restore into a NEW cluster, to the latest point or a time\n"
         "  postings record --actor PERSON as their cause (default hubctl:$USER); --key makes a\n"
         "  command idempotent (the same key again changes nothing).\n";
}

std::optional<int> run_ledger_command(const HubSettings& s, const std::vector<std::string>& args) {
  static const std::set<std::string> kCommands = {"company", "account", "issue",  "allocate", "transfer",
                                                  "balances", "history", "ledger", "backup",   "restore"};
  if (args.empty() || !kCommands.count(args[0])) return std::nullopt;
  const std::string& cmd = args[0];
  try {
    if (cmd == "backup" || cmd == "restore") {
      // The service script knows the cluster's layout and runs as the right OS user.
      std::vector<std::string> argv = {s.services_dir + "/postgres.sh", cmd};
      argv.insert(argv.end(), args.begin() + 1, args.end());
      return run_script(argv);
    }
    auto conn = db::Connection::connect(s.db_app_conninfo);
    Ledger ledger(*conn);
    if (cmd == "company") {
      auto o = parse_options(args, 2);
      std::string sub = args.size() > 1 ? args[1] : "";
      if (sub == "add") {
        return report(ledger.create_company(need(o, "number"), need(o, "name"), need(o, "kind"), actor(o)),
                      "company " + need(o, "number") + " registered");
      }
      if (sub == "list") {
        auto r = conn->exec("SELECT corporate_number, kind, name FROM companies ORDER BY corporate_number");
        for (int i = 0; i < r.rows(); ++i) {
          std::cout << r.get(i, 0) << "  " << std::left << std::setw(13) << r.get(i, 1) << r.get(i, 2) << "\n";
        }
        return 0;
      }
      throw Usage("company add|list");
    }
    if (cmd == "account") {
      std::string sub = args.size() > 1 ? args[1] : "";
      if (sub == "open") {
        auto o = parse_options(args, 2);
        std::optional<std::string> number;
        if (o.named.count("number")) number = o.named["number"];
        auto r = ledger.open_account(static_cast<int>(need_int(o, "type")), need(o, "holder"), opt(o, "name", ""),
                                     actor(o), number);
        if (!r.ok()) return report(r, "");
        std::cout << "account " << *r << " opened\n";
        return 0;
      }
      if (sub == "block" || sub == "unblock" || sub == "close") {
        if (args.size() < 3) throw Usage("account " + sub + " ACCOUNT --reason TEXT");
        auto o = parse_options(args, 3);
        std::string state = sub == "block" ? "blocked" : sub == "close" ? "closed" : "open";
        auto r = ledger.set_account_state(args[2], state, actor(o), need(o, "reason"));
        if (!r.ok()) return report(r, "");
        std::cout << args[2] << (*r ? " is now " + state : " was already " + state) << "\n";
        return 0;
      }
      if (sub == "list") {
        auto o = parse_options(args, 2);
        std::optional<std::string> holder;
        if (o.named.count("holder")) holder = o.named["holder"];
        for (const auto& a : ledger.accounts(holder)) {
          std::cout << a.number << "  " << std::left << std::setw(8) << a.state << a.holder << "  " << a.holder_name
                    << (a.name.empty() ? "" : "  (" + a.name + ")") << "\n";
        }
        return 0;
      }
      throw Usage("account open|block|unblock|close|list");
    }
    if (cmd == "issue") {
      auto o = parse_options(args, 1);
      return posting_result(ledger.issue(key(o, "issue"), cause(o), need(o, "approved-by"), need(o, "account"),
                                         static_cast<int>(need_int(o, "vintage")), need_int(o, "quantity")),
                            "issued");
    }
    if (cmd == "allocate") {
      auto o = parse_options(args, 1);
      return posting_result(ledger.allocate(key(o, "allocate"), cause(o), need(o, "from"), need(o, "to"),
                                            static_cast<int>(need_int(o, "vintage")), need_int(o, "quantity")),
                            "allocated");
    }
    if (cmd == "transfer") {
      auto o = parse_options(args, 1);
      auto unit = registry::parse_unit_type(opt(o, "unit", "GXA"));
      if (!unit.ok()) return report(unit, "");
      return posting_result(ledger.transfer(key(o, "transfer"), cause(o), need(o, "from"), need(o, "to"), *unit,
                                            static_cast<int>(need_int(o, "vintage")), need_int(o, "quantity")),
                            "transferred");
    }
    if (cmd == "balances") {
      auto o = parse_options(args, 1);
      std::optional<std::string> account;
      if (!o.positional.empty()) account = o.positional[0];
      auto rows = ledger.balances(account);
      if (rows.empty()) std::cout << "(no units held" << (account ? " by " + *account : "") << ")\n";
      for (const auto& b : rows) {
        std::cout << b.account << "  " << b.unit << " " << b.vintage << "  " << std::right << std::setw(16)
                  << registry::format_quantity(b.quantity) << std::left << "\n";
      }
      return 0;
    }
    if (cmd == "history") {
      if (args.size() < 2) throw Usage("history ACCOUNT [--limit N]");
      auto o = parse_options(args, 2);
      int limit = o.named.count("limit") ? static_cast<int>(need_int(o, "limit")) : 50;
      for (const auto& h : ledger.history(args[1], limit)) {
        std::cout << std::left << std::setw(8) << h.entry_id << h.posted_at << "  " << std::setw(16) << h.kind
                  << h.unit << " " << h.vintage << " " << std::right << std::setw(12)
                  << (h.delta > 0 ? "+" : "-") + registry::format_quantity(h.delta > 0 ? h.delta : -h.delta)
                  << std::left << "  " << h.counterparty << "  (" << h.cause << ")"
                  << (h.serials.empty() ? "" : "  serials " + h.serials) << "\n";
      }
      return 0;
    }
    if (cmd == "ledger") {
      std::string sub = args.size() > 1 ? args[1] : "";
      auto o = parse_options(args, 2);
      if (sub == "verify") return verify(ledger, s, o.flags.count("json") > 0);
      if (sub == "seal") {
        int total = 0;
        for (int n; (n = ledger.seal(50000)) > 0;) total += n;
        std::cout << total << " journal entries linked into the hash chain\n";
        return 0;
      }
      throw Usage("ledger verify|seal");
    }
  } catch (const Usage& e) {
    std::cerr << "hubctl " << cmd << ": " << e.what() << "\nusage:\n" << ledger_commands_usage();
    return 2;
  }
  return std::nullopt;
}

}  // namespace hub::app
