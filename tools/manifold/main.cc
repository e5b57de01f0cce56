// manifold: command-line tool to inspect and edit a Manifold database file.
//
// Layout of this file:
//   1. Exit codes and small helpers (escaping, number parsing).
//   2. Command/Option tables and the shared argument parser + help printer.
//   3. One Run* function per subcommand.
//   4. The command tree and main().
//
// Every Run* function returns Result<int>: an exit code on success (0, or 2
// for `check` finding problems), or the engine Status, which main reports as
// `manifold: <Status::ToString()>` with exit code 1.
#include <charconv>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "manifold/manifold.h"

#ifndef MANIFOLD_CLI_VERSION
#define MANIFOLD_CLI_VERSION "unknown"
#endif

namespace {

using manifold::Bound;
using manifold::Database;
using manifold::Durability;
using manifold::Options;
using manifold::ReadTransaction;
using manifold::Result;
using manifold::Status;
using manifold::Table;
using manifold::WriteTransaction;

// ---------------------------------------------------------------------------
// 1. Exit codes and helpers
// ---------------------------------------------------------------------------

constexpr int kExitOk = 0;
constexpr int kExitError = 1;     // engine error, key not found, ...
constexpr int kExitProblems = 2;  // `check` found problems
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

std::string JsonString(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out + "\"";
}

template <typename T>
std::optional<T> ParseUnsigned(std::string_view text) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
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

int Dispatch(const Command& cmd, const std::string& prog, std::span<const std::string_view> argv) {
  if (!cmd.subcommands.empty()) {
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
      if (sub.name == argv[0]) return Dispatch(sub, prog + " " + std::string(sub.name), argv.subspan(1));
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
  Args args;
  args.prog = prog;
  args.command = &cmd;
  if (auto error = ParseArgs(argv, args)) return UsageError(cmd, prog, *error);
  Result<int> result = cmd.run(args);
  if (!result.ok()) {
    std::cerr << "manifold: " << result.status().ToString() << '\n';
    return kExitError;
  }
  return *result;
}

// ---------------------------------------------------------------------------
// 3. Subcommands
// ---------------------------------------------------------------------------

// Every command but `create` opens an existing file and never creates one.
Options ExistingFileOptions() {
  Options options;
  options.create_if_missing = false;
  return options;
}

// Opens the database, runs `body`, closes the database (reporting a failed
// Close unless `body` already failed).
Result<int> WithDb(const Args& args, const std::function<Result<int>(Database&)>& body) {
  MANIFOLD_ASSIGN_OR_RETURN(auto db, Database::Open(args.db_path(), ExistingFileOptions()));
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
  return WithWrite(
      args,
      [&](WriteTransaction& txn) -> Status {
        Result<Table> table = create_table ? txn.OpenOrCreateTable(args.table()) : txn.OpenTable(args.table());
        if (table.status().IsNotFound()) {
          return Status::NotFound(table.status().message() + " (use --create-table to create it)");
        }
        MANIFOLD_RETURN_IF_ERROR(table.status());
        return table->Put(args.pos[1], args.pos[2]);
      },
      args.Has("no-sync") ? Durability::kNone : Durability::kImmediate);
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

// --- stat / check ---

Result<int> RunStat(const Args& args) {
  return WithDb(args, [&](Database& db) -> Result<int> {
    MANIFOLD_ASSIGN_OR_RETURN(auto stats, db.Stats());
    PrintBlock(args.Has("json") ? stats.ToJson() : stats.ToText());
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
  return kExitProblems;
}

Result<int> RunCheck(const Args& args) {
  const bool json = args.Has("json");
  auto db = Database::Open(args.db_path(), ExistingFileOptions());
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

// ---------------------------------------------------------------------------
// 4. The command tree
// ---------------------------------------------------------------------------

const Option kCfOption{"cf", "NAME", "column family (default: \"default\")"};
const Option kTableOption{"table", "NAME", "table (default: \"default\")"};
const Option kJsonOption{"json", "", "print JSON instead of text"};

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
          "Exit status: 0 success; 1 error (including key, table or column family\n"
          "not found); 2 'check' found problems; 64 usage error.\n",
      .subcommands =
          {
              {.name = "create",
               .positionals = {"DB"},
               .summary = "Create a new, empty database file (fails if DB exists).",
               .details = "Also creates the empty table \"default\" in column family \"default\".\n",
               .options = {{"page-size", "N", "page size in bytes, a power of two in [512, 65536] (default 4096)"}},
               .run = RunCreate},
              {.name = "put",
               .positionals = {"DB", "KEY", "VALUE"},
               .summary = "Store VALUE under KEY, replacing any previous value.",
               .details = "The table must exist unless --create-table is given.\n",
               .options = {kCfOption,
                           kTableOption,
                           {"create-table", "", "create the table if it does not exist"},
                           {"no-sync", "", "commit without waiting for stable storage (closing the database still syncs)"}},
               .run = RunPut},
              {.name = "get",
               .positionals = {"DB", "KEY"},
               .summary = "Print the value stored under KEY (exit 1 if there is none).",
               .options = {kCfOption, kTableOption, {"raw", "", "print the value's bytes as they are, without escaping or newline"}},
               .run = RunGet},
              {.name = "del",
               .positionals = {"DB", "KEY"},
               .summary = "Delete KEY (exit 1 if there is no such key).",
               .options = {kCfOption, kTableOption},
               .run = RunDel},
              {.name = "scan",
               .positionals = {"DB"},
               .summary = "Print entries in key order, one 'KEY<TAB>VALUE' per line.",
               .details = "The range is [--from, --to) unless changed by --from-exclusive and\n"
                          "--to-inclusive; --prefix narrows it further.\n",
               .options = {kCfOption,
                           kTableOption,
                           {"from", "KEY", "start at KEY (inclusive)"},
                           {"to", "KEY", "stop before KEY (exclusive)"},
                           {"from-exclusive", "", "skip KEY given by --from"},
                           {"to-inclusive", "", "include KEY given by --to"},
                           {"prefix", "P", "only keys starting with P"},
                           {"reverse", "", "descending key order"},
                           {"limit", "N", "print at most N entries"},
                           {"keys-only", "", "print keys only"}},
               .run = RunScan},
              {.name = "cf",
               .summary = "List, create, drop or rename column families.",
               .subcommands =
                   {
                       {.name = "list", .positionals = {"DB"}, .summary = "List column families.", .run = RunCfList},
                       {.name = "create",
                        .positionals = {"DB", "NAME"},
                        .summary = "Create column family NAME.",
                        .run = RunCfCreate},
                       {.name = "drop",
                        .positionals = {"DB", "NAME"},
                        .summary = "Drop column family NAME and all its tables.",
                        .run = RunCfDrop},
                       {.name = "rename",
                        .positionals = {"DB", "FROM", "TO"},
                        .summary = "Rename column family FROM to TO.",
                        .run = RunCfRename},
                   }},
              {.name = "table",
               .summary = "List, create, drop, rename or clear tables.",
               .subcommands =
                   {
                       {.name = "list",
                        .positionals = {"DB"},
                        .summary = "List the tables of a column family.",
                        .options = {kCfOption},
                        .run = RunTableList},
                       {.name = "create",
                        .positionals = {"DB", "NAME"},
                        .summary = "Create table NAME.",
                        .options = {kCfOption},
                        .run = RunTableCreate},
                       {.name = "drop",
                        .positionals = {"DB", "NAME"},
                        .summary = "Drop table NAME and its entries.",
                        .options = {kCfOption},
                        .run = RunTableDrop},
                       {.name = "rename",
                        .positionals = {"DB", "FROM", "TO"},
                        .summary = "Rename table FROM to TO.",
                        .options = {kCfOption},
                        .run = RunTableRename},
                       {.name = "clear",
                        .positionals = {"DB", "NAME"},
                        .summary = "Delete every entry of table NAME.",
                        .options = {kCfOption},
                        .run = RunTableClear},
                   }},
              {.name = "stat",
               .positionals = {"DB"},
               .summary = "Show pages, free pages, tables, entries, file size and cache use.",
               .options = {kJsonOption},
               .run = RunStat},
              {.name = "check",
               .positionals = {"DB"},
               .summary = "Verify the whole database (exit 0 if clean, 2 if problems are found).",
               .options = {kJsonOption},
               .run = RunCheck},
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
