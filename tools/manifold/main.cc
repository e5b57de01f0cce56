// manifold: command-line tool to inspect and edit a Manifold database file.
//
// Layout of this file:
//   1. Exit codes and small helpers (escaping, number parsing).
//   2. Command/Option tables and the shared argument parser + help printer.
//   3. One Run* function per subcommand.
//   4. The command tree and main().
//
// Every Run* function returns Result<int>: an exit code on success (0, or 2
// for `check` finding problems and `wal-dump` finding a damaged log), or the
// engine Status, which main reports as `manifold: <Status::ToString()>` with
// exit code 1.
//
// `wal-dump` reads the write-ahead log with the engine's internal reader
// (wal/wal.h, from the manifold_internal target) without opening the database:
// opening replays the log and starts a new log cycle.
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "manifold/manifold.h"
#include "wal/wal.h"
#include "util/json.h"

#ifndef MANIFOLD_CLI_VERSION
#define MANIFOLD_CLI_VERSION "unknown"
#endif

namespace {

using manifold::Bound;
using manifold::Database;
using manifold::Durability;
using manifold::Options;
using manifold::ReadTransaction;
using manifold::RecoveryStats;
using manifold::Result;
using manifold::Status;
using manifold::Table;
using manifold::WalOp;
using manifold::WalRecoveryMode;
using manifold::WriteTransaction;

// ---------------------------------------------------------------------------
// 1. Exit codes and helpers
// ---------------------------------------------------------------------------

constexpr int kExitOk = 0;
constexpr int kExitError = 1;     // engine error, key not found, ...
constexpr int kExitProblems = 2;  // `check` found problems; `wal-dump` found a damaged log
constexpr int kExitUsage = 64;    // EX_USAGE from sysexits.h

constexpr std::string_view kDefaultTable = "default";

// Printable ASCII stays as is; everything else (and the backslash itself, so
// the output is unambiguous) becomes \xNN.
std::string Escape(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string JsonString(std::string_view s) { return "\"" + manifold::JsonEscape(s) + "\""; }

template <typename T>
std::optional<T> ParseUnsigned(std::string_view text) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string Millis(double ms) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(3);
  o << ms;
  return o.str();
}

const char* YesNo(bool b) { return b ? "yes" : "no"; }
const char* JsonBool(bool b) { return b ? "true" : "false"; }

// --recovery-mode values, in the order of WalRecoveryMode.
constexpr std::pair<std::string_view, WalRecoveryMode> kRecoveryModes[] = {
    {"torn-tail", WalRecoveryMode::kTolerateTornTail},
    {"absolute", WalRecoveryMode::kAbsoluteConsistency},
    {"point-in-time", WalRecoveryMode::kPointInTime},
    {"skip", WalRecoveryMode::kSkipCorrupted},
};

std::optional<WalRecoveryMode> ParseRecoveryMode(std::string_view text) {
  for (const auto& [name, mode] : kRecoveryModes) {
    if (name == text) return mode;
  }
  return std::nullopt;
}

// Prints `text` and a final newline if it does not already end with one.
void PrintBlock(const std::string& text) {
  std::cout << text;
  if (text.empty() || text.back() != '\n') std::cout << '\n';
}

// ---------------------------------------------------------------------------
// 2. Command tables, argument parser, help
// ---------------------------------------------------------------------------

struct Option {
  std::string_view name;     // without the leading "--"
  std::string_view metavar;  // empty: a flag without value
  std::string_view help;
};

struct Args;
using Handler = Result<int> (*)(const Args&);

// A leaf command has `run`; a group (the root, `cf`, `table`) has `subcommands`.
struct Command {
  std::string_view name = {};
  std::vector<std::string_view> positionals = {};  // all required
  std::string_view summary = {};                   // one line, shown in the parent's list
  std::string_view details = {};                   // more text for its own --help
  std::vector<Option> options = {};
  Handler run = nullptr;
  std::vector<Command> subcommands = {};
};

// The parsed command line of a leaf command.
struct Args {
  std::string prog;  // "manifold table create"
  const Command* command = nullptr;
  std::vector<std::string> pos;
  std::map<std::string, std::string, std::less<>> opts;  // flags map to ""

  bool Has(std::string_view name) const { return opts.find(name) != opts.end(); }
  std::string Get(std::string_view name, std::string_view fallback) const {
    auto it = opts.find(name);
    return it == opts.end() ? std::string(fallback) : it->second;
  }
  const std::string& db_path() const { return pos.front(); }
  std::string cf() const { return Get("cf", manifold::kDefaultColumnFamily); }
  std::string table() const { return Get("table", kDefaultTable); }
};

bool IsHelp(std::string_view arg) { return arg == "-h" || arg == "--help"; }

std::string UsageLine(const Command& cmd, const std::string& prog) {
  std::string line = "usage: " + prog;
  if (!cmd.subcommands.empty()) return line + " <command> [args...]";
  for (auto p : cmd.positionals) (line += ' ') += p;
  return cmd.options.empty() ? line : line + " [options]";
}

// "DB KEY VALUE" for a leaf, "<command> ..." for a group.
std::string ArgsSummary(const Command& cmd) {
  if (!cmd.subcommands.empty()) return "<command> ...";
  std::string s;
  for (auto p : cmd.positionals) (s += s.empty() ? "" : " ") += p;
  return s;
}

void PrintTwoColumns(std::ostream& out, const std::vector<std::pair<std::string, std::string_view>>& rows) {
  size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());
  for (const auto& [left, right] : rows) {
    out << "  " << left << std::string(width - left.size() + 2, ' ') << right << '\n';
  }
}

void PrintHelp(std::ostream& out, const Command& cmd, const std::string& prog) {
  out << UsageLine(cmd, prog) << "\n\n" << cmd.summary << '\n';
  if (!cmd.details.empty()) out << '\n' << cmd.details;
  std::vector<std::pair<std::string, std::string_view>> rows;
  if (!cmd.subcommands.empty()) {
    for (const Command& sub : cmd.subcommands) {
      rows.emplace_back(std::string(sub.name) + " " + ArgsSummary(sub), sub.summary);
    }
    out << "\nCommands:\n";
    PrintTwoColumns(out, rows);
    out << "\nRun '" << prog << " <command> --help' for the usage of a command.\n";
    return;
  }
  for (const Option& opt : cmd.options) {
    std::string left = "--" + std::string(opt.name);
    if (!opt.metavar.empty()) (left += ' ') += opt.metavar;
    rows.emplace_back(left, opt.help);
  }
  rows.emplace_back("-h, --help", "show this help and exit");
  out << "\nOptions:\n";
  PrintTwoColumns(out, rows);
}

int UsageError(const Command& cmd, const std::string& prog, std::string_view message) {
  std::cerr << "manifold: " << message << "\n\n";
  PrintHelp(std::cerr, cmd, prog);
  return kExitUsage;
}

int UsageError(const Args& args, std::string_view message) {
  return UsageError(*args.command, args.prog, message);
}

const Option* FindOption(const Command& cmd, std::string_view name) {
  for (const Option& opt : cmd.options) {
    if (opt.name == name) return &opt;
  }
  return nullptr;
}

// Parses a leaf command's arguments: options anywhere, `--opt VALUE` or
// `--opt=VALUE`, `--` ends options. Returns an error message or nullopt.
std::optional<std::string> ParseArgs(std::span<const std::string_view> argv, Args& out) {
  const Command& cmd = *out.command;
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      for (++i; i < argv.size(); ++i) out.pos.emplace_back(argv[i]);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      out.pos.emplace_back(arg);
      continue;
    }
    if (arg[1] != '-') return "unknown option '" + std::string(arg) + "'";
    std::string_view name = arg.substr(2);
    std::optional<std::string_view> inline_value;
    if (auto eq = name.find('='); eq != std::string_view::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const Option* opt = FindOption(cmd, name);
    if (opt == nullptr) return "unknown option '--" + std::string(name) + "'";
    std::string value;
    if (opt->metavar.empty()) {
      if (inline_value) return "option '--" + std::string(name) + "' takes no value";
    } else if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < argv.size()) {
      value = argv[++i];
    } else {
      return "option '--" + std::string(name) + "' needs a value (" + std::string(opt->metavar) + ")";
    }
    out.opts.insert_or_assign(std::string(name), std::move(value));
  }
  if (out.pos.size() < cmd.positionals.size()) {
    return "missing argument " + std::string(cmd.positionals[out.pos.size()]);
  }
  if (out.pos.size() > cmd.positionals.size()) {
    return "unexpected argument '" + out.pos[cmd.positionals.size()] + "'";
  }
  return std::nullopt;
}

// Options that may also come before the command name (`manifold --no-wal get
// DB KEY`); they are handed to the leaf command as if given after it, so a
// command that does not take one rejects it as usual.
bool IsGlobalOption(std::string_view arg, bool* takes_value) {
  *takes_value = arg == "--recovery-mode";
  return arg == "--no-wal" || arg == "--recovery-mode" || arg.starts_with("--recovery-mode=");
}

// The engine's message names the API (WalRecoveryMode::kPointInTime); say how
// to do that from the command line.
void PrintRecoveryHint(const Status& status) {
  if (status.IsCorruption() && status.message().find("WalRecoveryMode::") != std::string::npos) {
    std::cerr << "manifold: to accept that, give --recovery-mode point-in-time (stop at the damage) or "
                 "--recovery-mode skip (skip damaged records)\n";
  }
}

int Dispatch(const Command& cmd, const std::string& prog, std::span<const std::string_view> argv,
             std::vector<std::string_view> globals = {}) {
  if (!cmd.subcommands.empty()) {
    if (prog == "manifold") {
      bool takes_value = false;
      while (!argv.empty() && IsGlobalOption(argv[0], &takes_value)) {
        globals.push_back(argv[0]);
        argv = argv.subspan(1);
        if (takes_value) {
          if (argv.empty()) return UsageError(cmd, prog, "option '--recovery-mode' needs a value (MODE)");
          globals.push_back(argv[0]);
          argv = argv.subspan(1);
        }
      }
    }
    if (argv.empty()) return UsageError(cmd, prog, "missing command");
    if (IsHelp(argv[0])) {
      PrintHelp(std::cout, cmd, prog);
      return kExitOk;
    }
    if (prog == "manifold" && argv[0] == "--version") {
      std::cout << "manifold " << MANIFOLD_CLI_VERSION << '\n';
      return kExitOk;
    }
    for (const Command& sub : cmd.subcommands) {
      if (sub.name == argv[0]) return Dispatch(sub, prog + " " + std::string(sub.name), argv.subspan(1), globals);
    }
    const char* what = argv[0].starts_with("-") ? "unknown option '" : "unknown command '";
    return UsageError(cmd, prog, what + std::string(argv[0]) + "'");
  }

  // -h/--help anywhere before `--` wins over any other problem.
  for (std::string_view arg : argv) {
    if (arg == "--") break;
    if (IsHelp(arg)) {
      PrintHelp(std::cout, cmd, prog);
      return kExitOk;
    }
  }
  std::vector<std::string_view> all(globals);
  all.insert(all.end(), argv.begin(), argv.end());
  Args args;
  args.prog = prog;
  args.command = &cmd;
  if (auto error = ParseArgs(all, args)) return UsageError(cmd, prog, *error);
  if (args.Has("recovery-mode") && !ParseRecoveryMode(args.Get("recovery-mode", ""))) {
    return UsageError(cmd, prog, "--recovery-mode must be torn-tail, absolute, point-in-time or skip");
  }
  Result<int> result = cmd.run(args);
  if (!result.ok()) {
    std::cerr << "manifold: " << result.status().ToString() << '\n';
    PrintRecoveryHint(result.status());
    return kExitError;
  }
  return *result;
}

// ---------------------------------------------------------------------------
// 3. Subcommands
// ---------------------------------------------------------------------------

// Every command but `create` opens an existing file and never creates one.
// --no-wal and --recovery-mode (validated by Dispatch) apply to all of them.
Options ExistingFileOptions(const Args& args) {
  Options options;
  options.create_if_missing = false;
  options.wal = !args.Has("no-wal");
  options.wal_recovery = ParseRecoveryMode(args.Get("recovery-mode", "torn-tail")).value_or(options.wal_recovery);
  return options;
}

// Opens the database, runs `body`, closes the database (reporting a failed
// Close unless `body` already failed).
Result<int> WithDb(const Args& args, const std::function<Result<int>(Database&)>& body) {
  MANIFOLD_ASSIGN_OR_RETURN(auto db, Database::Open(args.db_path(), ExistingFileOptions(args)));
  Result<int> result = body(*db);
  Status closed = db->Close();
  if (result.ok() && !closed.ok()) return closed;
  return result;
}

// For commands whose whole job is one Database call.
Result<int> WithDbStatus(const Args& args, const std::function<Status(Database&)>& body) {
  return WithDb(args, [&](Database& db) -> Result<int> {
    MANIFOLD_RETURN_IF_ERROR(body(db));
    return kExitOk;
  });
}

Result<int> WithRead(const Args& args, const std::function<Result<int>(ReadTransaction&)>& body) {
  return WithDb(args, [&](Database& db) -> Result<int> {
    MANIFOLD_ASSIGN_OR_RETURN(auto txn, db.BeginRead());
    return body(txn);
  });
}

// Runs `body` in a write transaction on the --cf column family and commits it.
Result<int> WithWrite(const Args& args, const std::function<Status(WriteTransaction&)>& body,
                      Durability durability = Durability::kImmediate) {
  return WithDb(args, [&](Database& db) -> Result<int> {
    MANIFOLD_ASSIGN_OR_RETURN(auto txn, db.BeginWrite(args.cf()));
    MANIFOLD_RETURN_IF_ERROR(body(txn));
    MANIFOLD_RETURN_IF_ERROR(txn.Commit(durability));
    return kExitOk;
  });
}

Result<Table> OpenTableForRead(const ReadTransaction& txn, const Args& args) {
  return txn.OpenTable(args.table(), args.cf());
}

void PrintLines(const std::vector<std::string>& lines) {
  for (const std::string& line : lines) std::cout << Escape(line) << '\n';
}

Result<int> RunCreate(const Args& args) {
  Options options;
  options.create_if_missing = true;
  options.error_if_exists = true;
  options.wal = !args.Has("no-wal");
  if (args.Has("page-size")) {
    auto size = ParseUnsigned<uint32_t>(args.Get("page-size", ""));
    if (!size) return UsageError(args, "--page-size needs a number of bytes");
    options.page_size = *size;
  }
  MANIFOLD_ASSIGN_OR_RETURN(auto db, Database::Open(args.db_path(), options));
  {
    // The default table exists from the start, so `put DB KEY VALUE` works.
    MANIFOLD_ASSIGN_OR_RETURN(auto txn, db->BeginWrite(manifold::kDefaultColumnFamily));
    MANIFOLD_RETURN_IF_ERROR(txn.OpenOrCreateTable(kDefaultTable).status());
    MANIFOLD_RETURN_IF_ERROR(txn.Commit());
  }
  MANIFOLD_RETURN_IF_ERROR(db->Close());
  return kExitOk;
}

Result<int> RunPut(const Args& args) {
  const bool create_table = args.Has("create-table");
  const Durability durability = args.Has("no-sync") ? Durability::kNone : Durability::kImmediate;
  uint64_t repeat = 1;
  if (args.Has("repeat")) {
    auto n = ParseUnsigned<uint64_t>(args.Get("repeat", ""));
    if (!n || *n == 0) return UsageError(args, "--repeat needs a positive number");
    repeat = *n;
  }
  return WithDb(args, [&](Database& db) -> Result<int> {
    for (uint64_t i = 1; i <= repeat; ++i) {
      const std::string key = i == 1 ? args.pos[1] : args.pos[1] + "." + std::to_string(i);
      MANIFOLD_ASSIGN_OR_RETURN(auto txn, db.BeginWrite(args.cf()));
      Result<Table> table = create_table ? txn.OpenOrCreateTable(args.table()) : txn.OpenTable(args.table());
      if (table.status().IsNotFound()) {
        return Status::NotFound(table.status().message() + " (use --create-table to create it)");
      }
      MANIFOLD_RETURN_IF_ERROR(table.status());
      MANIFOLD_RETURN_IF_ERROR(table->Put(key, args.pos[2]));
      MANIFOLD_RETURN_IF_ERROR(txn.Commit(durability));
    }
    if (args.Has("crash-after")) {
      // Test only: end the process the way a crash would, without closing the
      // database (Close() would checkpoint and reset the log). Records written
      // with --no-sync are in the OS page cache, so they survive this.
      std::cout.flush();
      _exit(kExitOk);
    }
    return kExitOk;
  });
}

Result<int> RunGet(const Args& args) {
  return WithRead(args, [&](ReadTransaction& txn) -> Result<int> {
    MANIFOLD_ASSIGN_OR_RETURN(Table table, OpenTableForRead(txn, args));
    MANIFOLD_ASSIGN_OR_RETURN(std::string value, table.Get(args.pos[1]));
    if (args.Has("raw")) {
      std::cout << value;
    } else {
      std::cout << Escape(value) << '\n';
    }
    return kExitOk;
  });
}

Result<int> RunDel(const Args& args) {
  return WithWrite(args, [&](WriteTransaction& txn) -> Status {
    MANIFOLD_ASSIGN_OR_RETURN(Table table, txn.OpenTable(args.table()));
    MANIFOLD_ASSIGN_OR_RETURN(bool existed, table.Delete(args.pos[1]));
    if (!existed) return Status::NotFound("key '" + Escape(args.pos[1]) + "' not found");
    return Status::Ok();
  });
}

// --- scan: turning --from/--to/--prefix into one [lower, upper] range ---

// The tighter of two lower (is_lower) or upper bounds.
Bound Tighter(const Bound& a, const Bound& b, bool is_lower) {
  if (a.kind() == Bound::Kind::kUnbounded) return b;
  if (b.kind() == Bound::Kind::kUnbounded) return a;
  int cmp = a.key().compare(b.key());  // char_traits<char> compares as unsigned bytes
  if (cmp == 0) return a.kind() == Bound::Kind::kExcluded ? a : b;
  return (cmp > 0) == is_lower ? a : b;
}

// The first key after every key starting with `prefix`, as an upper bound.
Bound PrefixEnd(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (prefix.empty()) return Bound::Unbounded();
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return Bound::Excluded(prefix);
}

bool IsEmptyRange(const Bound& lower, const Bound& upper) {
  if (lower.kind() == Bound::Kind::kUnbounded || upper.kind() == Bound::Kind::kUnbounded) return false;
  int cmp = lower.key().compare(upper.key());
  if (cmp != 0) return cmp > 0;
  return lower.kind() == Bound::Kind::kExcluded || upper.kind() == Bound::Kind::kExcluded;
}

Result<int> RunScan(const Args& args) {
  if (args.Has("from-exclusive") && !args.Has("from")) return UsageError(args, "--from-exclusive needs --from");
  if (args.Has("to-inclusive") && !args.Has("to")) return UsageError(args, "--to-inclusive needs --to");
  uint64_t limit = UINT64_MAX;
  if (args.Has("limit")) {
    auto n = ParseUnsigned<uint64_t>(args.Get("limit", ""));
    if (!n) return UsageError(args, "--limit needs a non-negative number");
    limit = *n;
  }
  Bound lower = Bound::Unbounded();
  Bound upper = Bound::Unbounded();
  if (args.Has("from")) {
    std::string from = args.Get("from", "");
    lower = args.Has("from-exclusive") ? Bound::Excluded(from) : Bound::Included(from);
  }
  if (args.Has("to")) {
    std::string to = args.Get("to", "");
    upper = args.Has("to-inclusive") ? Bound::Included(to) : Bound::Excluded(to);
  }
  if (args.Has("prefix")) {
    std::string prefix = args.Get("prefix", "");
    lower = Tighter(lower, Bound::Included(prefix), /*is_lower=*/true);
    upper = Tighter(upper, PrefixEnd(prefix), /*is_lower=*/false);
  }
  const bool keys_only = args.Has("keys-only");
  return WithRead(args, [&](ReadTransaction& txn) -> Result<int> {
    MANIFOLD_ASSIGN_OR_RETURN(Table table, OpenTableForRead(txn, args));
    if (IsEmptyRange(lower, upper)) return kExitOk;
    auto it = table.Range(lower, upper, args.Has("reverse"));
    for (uint64_t n = 0; n < limit && it.Valid(); ++n, it.Next()) {
      std::cout << Escape(it.key());
      if (!keys_only) std::cout << '\t' << Escape(it.value());
      std::cout << '\n';
    }
    MANIFOLD_RETURN_IF_ERROR(it.status());
    return kExitOk;
  });
}

// --- cf ---

Result<int> RunCfList(const Args& args) {
  return WithDb(args, [](Database& db) -> Result<int> {
    MANIFOLD_ASSIGN_OR_RETURN(auto names, db.ListColumnFamilies());
    PrintLines(names);
    return kExitOk;
  });
}

Result<int> RunCfCreate(const Args& args) {
  return WithDbStatus(args, [&](Database& db) { return db.CreateColumnFamily(args.pos[1]); });
}

Result<int> RunCfDrop(const Args& args) {
  return WithDbStatus(args, [&](Database& db) { return db.DropColumnFamily(args.pos[1]); });
}

Result<int> RunCfRename(const Args& args) {
  return WithDbStatus(args, [&](Database& db) { return db.RenameColumnFamily(args.pos[1], args.pos[2]); });
}

// --- table ---

Result<int> RunTableList(const Args& args) {
  return WithRead(args, [&](ReadTransaction& txn) -> Result<int> {
    MANIFOLD_ASSIGN_OR_RETURN(auto names, txn.ListTables(args.cf()));
    PrintLines(names);
    return kExitOk;
  });
}

Result<int> RunTableCreate(const Args& args) {
  return WithWrite(args, [&](WriteTransaction& txn) { return txn.CreateTable(args.pos[1]).status(); });
}

Result<int> RunTableDrop(const Args& args) {
  return WithWrite(args, [&](WriteTransaction& txn) { return txn.DropTable(args.pos[1]); });
}

Result<int> RunTableRename(const Args& args) {
  return WithWrite(args, [&](WriteTransaction& txn) { return txn.RenameTable(args.pos[1], args.pos[2]); });
}

Result<int> RunTableClear(const Args& args) {
  return WithWrite(args, [&](WriteTransaction& txn) { return txn.ClearTable(args.pos[1]); });
}

// --- stat / checkpoint / check ---

std::string RecoveryText(const RecoveryStats& r) {
  return "recovery:           " + std::to_string(r.records) + " records, " + std::to_string(r.bytes) + " bytes, " +
         std::to_string(r.skipped) + " skipped, torn tail " + YesNo(r.torn_tail) + ", last LSN " +
         std::to_string(r.last_lsn) + ", " + Millis(r.milliseconds) + " ms\n";
}

std::string RecoveryJson(const RecoveryStats& r) {
  return "{\"records\": " + std::to_string(r.records) + ", \"bytes\": " + std::to_string(r.bytes) +
         ", \"skipped\": " + std::to_string(r.skipped) + ", \"torn_tail\": " + JsonBool(r.torn_tail) +
         ", \"last_lsn\": " + std::to_string(r.last_lsn) + ", \"milliseconds\": " + Millis(r.milliseconds) + "}";
}

Result<int> RunStat(const Args& args) {
  return WithDb(args, [&](Database& db) -> Result<int> {
    MANIFOLD_ASSIGN_OR_RETURN(auto stats, db.Stats());
    const RecoveryStats recovery = db.recovery();
    if (args.Has("json")) {
      std::string json = stats.ToJson();
      while (!json.empty() && json.back() == '\n') json.pop_back();
      if (json.empty() || json.back() != '}') return Status::InvalidState("DatabaseStats::ToJson is not a JSON object");
      json.pop_back();
      PrintBlock(json + ", \"recovery\": " + RecoveryJson(recovery) + "}");
    } else {
      std::string text = stats.ToText();
      if (!text.empty() && text.back() != '\n') text += '\n';
      PrintBlock(text + RecoveryText(recovery));
    }
    return kExitOk;
  });
}

Result<int> RunCheckpoint(const Args& args) {
  return WithDb(args, [&](Database& db) -> Result<int> {
    MANIFOLD_RETURN_IF_ERROR(db.Checkpoint());
    MANIFOLD_ASSIGN_OR_RETURN(auto stats, db.Stats());
    if (args.Has("json")) {
      std::cout << "{\"checkpoint_lsn\": " << stats.checkpoint_lsn << ", \"generation\": " << stats.generation << "}\n";
    } else {
      std::cout << "checkpoint LSN " << stats.checkpoint_lsn << '\n';
    }
    return kExitOk;
  });
}

// The report for a database too damaged to open or check at all.
int PrintFatalCheckReport(const Status& error, bool json) {
  if (json) {
    std::cout << "{\"ok\": false, \"error\": " << JsonString(error.ToString()) << "}\n";
  } else {
    std::cout << "check failed: the database could not be checked\n  " << error.ToString() << '\n';
  }
  PrintRecoveryHint(error);
  return kExitProblems;
}

Result<int> RunCheck(const Args& args) {
  const bool json = args.Has("json");
  auto db = Database::Open(args.db_path(), ExistingFileOptions(args));
  if (!db.ok()) {
    if (db.status().IsCorruption()) return PrintFatalCheckReport(db.status(), json);
    return db.status();
  }
  auto report = (*db)->Check();
  if (!report.ok()) {
    if (report.status().IsCorruption()) return PrintFatalCheckReport(report.status(), json);
    return report.status();
  }
  PrintBlock(json ? report->ToJson() : report->ToText());
  if (!report->ok) return kExitProblems;
  MANIFOLD_RETURN_IF_ERROR((*db)->Close());
  return kExitOk;
}

// --- wal-dump ---

// Operation names, in WalOp order; the same in text and JSON output.
constexpr std::pair<WalOp, std::string_view> kWalOpNames[] = {
    {WalOp::kPut, "put"},
    {WalOp::kDelete, "delete"},
    {WalOp::kCreateTable, "create_table"},
    {WalOp::kDropTable, "drop_table"},
    {WalOp::kClearTable, "clear_table"},
    {WalOp::kRenameTable, "rename_table"},
    {WalOp::kCreateCf, "create_cf"},
    {WalOp::kDropCf, "drop_cf"},
    {WalOp::kRenameCf, "rename_cf"},
};
constexpr size_t kWalOpKinds = std::size(kWalOpNames);

// What one log record does.
struct RecordSummary {
  uint64_t counts[kWalOpKinds] = {};  // by kWalOpNames index
  std::set<std::string> cfs;          // column families touched
  std::set<std::pair<std::string, std::string>> tables;  // (cf, table) touched
};

RecordSummary Summarize(const std::vector<manifold::WalOperation>& ops) {
  RecordSummary sum;
  for (const manifold::WalOperation& o : ops) {
    for (size_t i = 0; i < kWalOpKinds; ++i) {
      if (kWalOpNames[i].first == o.op) sum.counts[i]++;
    }
    sum.cfs.emplace(o.a);  // every operation names its column family first
    switch (o.op) {
      case WalOp::kPut:
      case WalOp::kDelete:
      case WalOp::kCreateTable:
      case WalOp::kDropTable:
      case WalOp::kClearTable:
        sum.tables.emplace(o.a, o.b);
        break;
      case WalOp::kRenameTable:  // cf, from, to
        sum.tables.emplace(o.a, o.b);
        sum.tables.emplace(o.a, o.c);
        break;
      case WalOp::kRenameCf:  // from, to
        sum.cfs.emplace(o.b);
        break;
      case WalOp::kCreateCf:
      case WalOp::kDropCf:
        break;
    }
  }
  return sum;
}

std::string RecoveryModeName(WalRecoveryMode mode) {
  for (const auto& [name, m] : kRecoveryModes) {
    if (m == mode) return std::string(name);
  }
  return "unknown";
}

// Reads DB-wal through the storage layer (never opening the database, which
// would replay the log and start a new cycle) and prints header, records and
// a summary. Exit 2 if the log is damaged beyond what --recovery-mode accepts
// or a record's payload does not decode.
Result<int> RunWalDump(const Args& args) {
  const bool json = args.Has("json");
  const WalRecoveryMode mode =
      ParseRecoveryMode(args.Get("recovery-mode", "torn-tail")).value_or(WalRecoveryMode::kTolerateTornTail);
  const std::string path = args.db_path() + "-wal";
  std::shared_ptr<manifold::Storage> storage = manifold::NewNativeStorage();
  MANIFOLD_ASSIGN_OR_RETURN(bool exists, storage->Exists(path));
  if (!exists) {
    return Status::NotFound(path +
                            ": no write-ahead log (no such database, or it was created without the log and "
                            "never opened with it)");
  }
  manifold::OpenFileOptions file_options;
  file_options.read_only = true;
  MANIFOLD_ASSIGN_OR_RETURN(std::unique_ptr<manifold::File> file, storage->Open(path, file_options));
  MANIFOLD_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  std::string data(size, '\0');
  if (size > 0) MANIFOLD_RETURN_IF_ERROR(file->Read(0, size, data.data()));
  file.reset();

  manifold::WalScanResult scan;
  // On error, scan.records still holds the valid records before the damage.
  Status error = manifold::ScanWal(data, path, mode, &scan);

  std::ostringstream text;
  std::string records_json;
  text << "log: " << Escape(path) << " (" << size << " bytes, recovery mode " << RecoveryModeName(mode) << ")\n";
  if (scan.header_valid) {
    text << "header: salt " << Hex(scan.header.salt) << ", start LSN " << scan.header.start_lsn << ", database id "
         << Hex(scan.header.database_id) << '\n';
  } else {
    text << "header: none (an empty log, or a reset torn by a crash): no records\n";
  }
  std::vector<manifold::WalOperation> ops;
  for (const manifold::WalRecord& rec : scan.records) {
    Status decoded = manifold::DecodeWalPayload(rec.payload, &ops);
    if (!decoded.ok()) {
      error = decoded.WithContext(path + ": WAL record LSN " + std::to_string(rec.lsn) + " at offset " +
                                  std::to_string(rec.offset) + " has a valid checksum but does not decode");
      break;
    }
    const uint64_t bytes = (manifold::kWalRecordHeaderBytes + rec.payload.size() + 7) & ~uint64_t{7};
    const RecordSummary sum = Summarize(ops);
    text << "LSN " << rec.lsn << "  offset " << rec.offset << "  bytes " << bytes << "  checksum ok  ops";
    std::string counts_json;
    for (size_t i = 0; i < kWalOpKinds; ++i) {
      if (sum.counts[i] == 0) continue;
      text << ' ' << kWalOpNames[i].second << '=' << sum.counts[i];
      counts_json += (counts_json.empty() ? "" : ", ") + JsonString(kWalOpNames[i].second) + ": " +
                     std::to_string(sum.counts[i]);
    }
    if (ops.empty()) text << " none";
    std::string cfs_text, cfs_json, tables_text, tables_json;
    for (const std::string& cf : sum.cfs) {
      cfs_text += (cfs_text.empty() ? "" : ",") + Escape(cf);
      cfs_json += (cfs_json.empty() ? "" : ", ") + JsonString(cf);
    }
    for (const auto& [cf, table] : sum.tables) {
      tables_text += (tables_text.empty() ? "" : ",") + Escape(cf) + "/" + Escape(table);
      tables_json += std::string(tables_json.empty() ? "" : ", ") + "{\"cf\": " + JsonString(cf) +
                     ", \"table\": " + JsonString(table) + "}";
    }
    if (!cfs_text.empty()) text << "  cf " << cfs_text;
    if (!tables_text.empty()) text << "  tables " << tables_text;
    text << '\n';
    records_json += std::string(records_json.empty() ? "" : ", ") + "{\"lsn\": " + std::to_string(rec.lsn) +
                    ", \"offset\": " + std::to_string(rec.offset) + ", \"bytes\": " + std::to_string(bytes) +
                    ", \"payload_bytes\": " + std::to_string(rec.payload.size()) +
                    ", \"checksum\": \"ok\", \"operations\": " + std::to_string(ops.size()) + ", \"counts\": {" +
                    counts_json + "}, \"column_families\": [" + cfs_json + "], \"tables\": [" + tables_json + "]}";
  }

  const bool ok = error.ok();
  if (ok) {
    text << "summary: " << scan.records.size() << " records, " << scan.bytes << " bytes, torn tail "
         << YesNo(scan.torn_tail) << ", skipped " << scan.skipped << ", next LSN " << scan.next_lsn
         << ", end offset " << scan.end_offset << '\n';
  }
  if (json) {
    std::string out = "{\"path\": " + JsonString(path) + ", \"file_bytes\": " + std::to_string(size) +
                      ", \"recovery_mode\": " + JsonString(RecoveryModeName(mode)) + ", \"header\": ";
    if (scan.header_valid) {
      // 64-bit identifiers as hex strings: JSON numbers are doubles for many readers.
      out += "{\"salt\": " + JsonString(Hex(scan.header.salt)) +
             ", \"start_lsn\": " + std::to_string(scan.header.start_lsn) +
             ", \"database_id\": " + JsonString(Hex(scan.header.database_id)) + "}";
    } else {
      out += "null";
    }
    out += ", \"records\": [" + records_json + "]";
    if (ok) {
      out += ", \"summary\": {\"records\": " + std::to_string(scan.records.size()) +
             ", \"bytes\": " + std::to_string(scan.bytes) + ", \"torn_tail\": " + JsonBool(scan.torn_tail) +
             ", \"skipped\": " + std::to_string(scan.skipped) + ", \"next_lsn\": " + std::to_string(scan.next_lsn) +
             ", \"end_offset\": " + std::to_string(scan.end_offset) + "}";
    }
    out += std::string(", \"ok\": ") + JsonBool(ok);
    if (!ok) out += ", \"error\": " + JsonString(error.ToString());
    std::cout << out << "}\n";
  } else {
    std::cout << text.str();
    if (!ok) std::cout << "damaged: the records above are the valid ones before the damage\n";
  }
  if (!ok) {
    std::cerr << "manifold: " << error.ToString() << '\n';
    PrintRecoveryHint(error);
    return kExitProblems;
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------
// 4. The command tree
// ---------------------------------------------------------------------------

const Option kCfOption{"cf", "NAME", "column family (default: \"default\")"};
const Option kTableOption{"table", "NAME", "table (default: \"default\")"};
const Option kJsonOption{"json", "", "print JSON instead of text"};
const Option kNoWalOption{"no-wal", "",
                          "open without the write-ahead log (records a crash left in it are NOT replayed)"};
const Option kRecoveryModeOption{"recovery-mode", "MODE",
                                 "damaged log records: torn-tail (default), absolute, point-in-time, skip"};

// The options of a command that opens the database: `options` plus
// --no-wal and --recovery-mode.
std::vector<Option> OpenOptions(std::vector<Option> options = {}) {
  options.push_back(kNoWalOption);
  options.push_back(kRecoveryModeOption);
  return options;
}

const Command& RootCommand() {
  static const Command root{
      .name = "manifold",
      .summary = "Inspect and edit a Manifold database file.",
      .details =
          "Every command except 'create' opens an existing database file and fails\n"
          "if it does not exist. Keys and values are taken literally from the\n"
          "command line; in output, bytes that are not printable ASCII (and the\n"
          "backslash) are written as \\xNN. Put '--' before a key or value that\n"
          "starts with '-'.\n"
          "\n"
          "Opening a database replays the records its write-ahead log (DB-wal)\n"
          "holds after a crash; closing it checkpoints and empties the log.\n"
          "--no-wal and --recovery-mode MODE, accepted by every command that opens\n"
          "the database, may also be given before the command name. MODE says what\n"
          "a damaged log record means:\n"
          "  torn-tail      (default) a damaged last record, the normal trace of a\n"
          "                 crash, is dropped; damage followed by valid records is\n"
          "                 an error naming LSN and offset\n"
          "  absolute       any damaged record, even a torn tail, is an error\n"
          "  point-in-time  replay up to the first damaged record, drop the rest\n"
          "  skip           skip damaged records, replay the valid ones after them\n"
          "\n"
          "Exit status: 0 success; 1 error (including key, table or column family\n"
          "not found); 2 'check' found problems or 'wal-dump' found a damaged log;\n"
          "64 usage error.\n",
      .subcommands =
          {
              {.name = "create",
               .positionals = {"DB"},
               .summary = "Create a new, empty database file (fails if DB exists).",
               .details = "Also creates the empty table \"default\" in column family \"default\".\n",
               .options = {{"page-size", "N", "page size in bytes, a power of two in [512, 65536] (default 4096)"},
                           {"no-wal", "", "create without the write-ahead log (no DB-wal file)"}},
               .run = RunCreate},
              {.name = "put",
               .positionals = {"DB", "KEY", "VALUE"},
               .summary = "Store VALUE under KEY, replacing any previous value.",
               .details = "The table must exist unless --create-table is given.\n"
                          "\n"
                          "--repeat and --crash-after are for tests: they leave records in the\n"
                          "write-ahead log the way a crash would, for 'wal-dump' and recovery to see.\n",
               .options = OpenOptions(
                   {kCfOption,
                    kTableOption,
                    {"create-table", "", "create the table if it does not exist"},
                    {"no-sync", "", "commit without waiting for stable storage (closing the database still syncs)"},
                    {"repeat", "N",
                     "test only: N transactions, putting KEY, KEY.2, ..., KEY.N"},
                    {"crash-after", "",
                     "test only: exit right after the last commit without closing, like a crash"}}),
               .run = RunPut},
              {.name = "get",
               .positionals = {"DB", "KEY"},
               .summary = "Print the value stored under KEY (exit 1 if there is none).",
               .options = OpenOptions({kCfOption,
                                       kTableOption,
                                       {"raw", "", "print the value's bytes as they are, without escaping or newline"}}),
               .run = RunGet},
              {.name = "del",
               .positionals = {"DB", "KEY"},
               .summary = "Delete KEY (exit 1 if there is no such key).",
               .options = OpenOptions({kCfOption, kTableOption}),
               .run = RunDel},
              {.name = "scan",
               .positionals = {"DB"},
               .summary = "Print entries in key order, one 'KEY<TAB>VALUE' per line.",
               .details = "The range is [--from, --to) unless changed by --from-exclusive and\n"
                          "--to-inclusive; --prefix narrows it further.\n",
               .options = OpenOptions({kCfOption,
                                       kTableOption,
                                       {"from", "KEY", "start at KEY (inclusive)"},
                                       {"to", "KEY", "stop before KEY (exclusive)"},
                                       {"from-exclusive", "", "skip KEY given by --from"},
                                       {"to-inclusive", "", "include KEY given by --to"},
                                       {"prefix", "P", "only keys starting with P"},
                                       {"reverse", "", "descending key order"},
                                       {"limit", "N", "print at most N entries"},
                                       {"keys-only", "", "print keys only"}}),
               .run = RunScan},
              {.name = "cf",
               .summary = "List, create, drop or rename column families.",
               .subcommands =
                   {
                       {.name = "list",
                        .positionals = {"DB"},
                        .summary = "List column families.",
                        .options = OpenOptions(),
                        .run = RunCfList},
                       {.name = "create",
                        .positionals = {"DB", "NAME"},
                        .summary = "Create column family NAME.",
                        .options = OpenOptions(),
                        .run = RunCfCreate},
                       {.name = "drop",
                        .positionals = {"DB", "NAME"},
                        .summary = "Drop column family NAME and all its tables.",
                        .options = OpenOptions(),
                        .run = RunCfDrop},
                       {.name = "rename",
                        .positionals = {"DB", "FROM", "TO"},
                        .summary = "Rename column family FROM to TO.",
                        .options = OpenOptions(),
                        .run = RunCfRename},
                   }},
              {.name = "table",
               .summary = "List, create, drop, rename or clear tables.",
               .subcommands =
                   {
                       {.name = "list",
                        .positionals = {"DB"},
                        .summary = "List the tables of a column family.",
                        .options = OpenOptions({kCfOption}),
                        .run = RunTableList},
                       {.name = "create",
                        .positionals = {"DB", "NAME"},
                        .summary = "Create table NAME.",
                        .options = OpenOptions({kCfOption}),
                        .run = RunTableCreate},
                       {.name = "drop",
                        .positionals = {"DB", "NAME"},
                        .summary = "Drop table NAME and its entries.",
                        .options = OpenOptions({kCfOption}),
                        .run = RunTableDrop},
                       {.name = "rename",
                        .positionals = {"DB", "FROM", "TO"},
                        .summary = "Rename table FROM to TO.",
                        .options = OpenOptions({kCfOption}),
                        .run = RunTableRename},
                       {.name = "clear",
                        .positionals = {"DB", "NAME"},
                        .summary = "Delete every entry of table NAME.",
                        .options = OpenOptions({kCfOption}),
                        .run = RunTableClear},
                   }},
              {.name = "stat",
               .positionals = {"DB"},
               .summary = "Show pages, tables, entries, file size, cache, log and recovery.",
               .details = "The recovery section tells what opening the database for this command\n"
                          "replayed from the write-ahead log: records a crash left behind.\n",
               .options = OpenOptions({kJsonOption}),
               .run = RunStat},
              {.name = "check",
               .positionals = {"DB"},
               .summary = "Verify the whole database (exit 0 if clean, 2 if problems are found).",
               .options = OpenOptions({kJsonOption}),
               .run = RunCheck},
              {.name = "checkpoint",
               .positionals = {"DB"},
               .summary = "Checkpoint the log into the data file; print the checkpoint LSN.",
               .details = "The checkpoint LSN is the newest log record the data file now covers.\n"
                          "(Opening a database that holds records replays and checkpoints them,\n"
                          "and closing it checkpoints too; this command makes the step explicit.)\n",
               .options = OpenOptions({kJsonOption}),
               .run = RunCheckpoint},
              {.name = "wal-dump",
               .positionals = {"DB"},
               .summary = "Print the write-ahead log record by record (exit 2 if damaged).",
               .details =
                   "Reads DB-wal without opening the database (opening would replay and reset\n"
                   "the log). Prints the log header (salt, start LSN, database id), then one\n"
                   "line per valid record: LSN, file offset, bytes, checksum status,\n"
                   "operation counts by type, and the column families and tables touched;\n"
                   "then a summary (records, bytes, torn tail, skipped records).\n"
                   "\n"
                   "--recovery-mode reads the log as recovery in that mode would. Damage\n"
                   "that mode does not accept (in the default torn-tail mode: a damaged\n"
                   "record followed by valid ones), or a record whose payload does not\n"
                   "decode, is reported naming its LSN and offset, with exit status 2.\n"
                   "A log cleanly closed holds no records.\n",
               .options = {kJsonOption, kRecoveryModeOption},
               .run = RunWalDump},
          },
  };
  return root;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  int code = Dispatch(RootCommand(), "manifold", args);
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "manifold: error writing to standard output\n";
    return kExitError;
  }
  return code;
}
