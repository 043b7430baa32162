// The strict TOML config-file reader (see config_file.hpp).
#include "config_file.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include <toml++/toml.h>

#include "pools/pool_spec_reader.hpp"

namespace fastmd::daemon {

namespace {

using proto::Errc;
using proto::Error;

/// What TOML value an option takes, from its declaration (a flag, or CLI11's type name).
enum class ValueKind { boolean, integer, number, text };

std::optional<ValueKind> value_kind(const CLI::Option& option) {
  if (option.get_expected_min() == 0) return ValueKind::boolean;  // a flag
  const std::string type = option.get_type_name();
  const std::string base = type.substr(0, type.find(':'));  // without the validators' part
  if (base == "INT" || base == "UINT") return ValueKind::integer;
  if (base == "FLOAT") return ValueKind::number;
  if (base == "TEXT") return ValueKind::text;
  if (base == "BOOLEAN") return ValueKind::boolean;
  return std::nullopt;
}

std::string_view kind_name(ValueKind kind) {
  switch (kind) {
    case ValueKind::boolean:
      return "true or false";
    case ValueKind::integer:
      return "an integer";
    case ValueKind::number:
      return "a number";
    case ValueKind::text:
      return "a string in quotes";
  }
  return "a value";
}

std::string_view node_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "a date or time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

bool fits(const toml::node& node, ValueKind kind) {
  switch (kind) {
    case ValueKind::boolean:
      return node.is_boolean();
    case ValueKind::integer:
      return node.is_integer();
    case ValueKind::number:
      return node.is_integer() || node.is_floating_point();
    case ValueKind::text:
      return node.is_string();
  }
  return false;
}

/// The value as the command-line text CLI11 converts (fits() has checked its type).
std::string as_argument(const toml::node& node) {
  if (const auto* text = node.as_string()) return text->get();
  if (const auto* integer = node.as_integer()) return std::to_string(integer->get());
  if (const auto* flag = node.as_boolean()) return flag->get() ? "true" : "false";
  std::ostringstream number;
  number.precision(17);
  number << node.as_floating_point()->get();
  return number.str();
}

/// One problem, at its place in the file, so the report can be put in file order.
struct Problem {
  toml::source_position where;
  std::string what;
};

class Reader {
 public:
  Reader(CLI::App& app, std::string path, std::vector<PoolSpec>& pools)
      : app_(app), path_(std::move(path)), pools_(pools) {}

  proto::Status read() {
    std::ifstream file(path_, std::ios::binary);
    if (!file) {
      return Error{Errc::invalid_field,
                   path_ + ": cannot read the config file: " + std::strerror(errno)};
    }
    std::ostringstream contents;
    contents << file.rdbuf();
    text_ = contents.str();
    toml::table root;
    try {
      root = toml::parse(text_, path_);
    } catch (const toml::parse_error& error) {
      return Error{Errc::invalid_field, located(error.source().begin, describe(error))};
    }
    for (auto&& [key, node] : root) apply(key, node);
    return report();
  }

 private:
  std::string located(toml::source_position where, std::string_view what) const {
    return path_ + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) + ": " +
           std::string(what);
  }

  std::string_view line_text(std::uint32_t line) const {
    std::size_t start = 0;
    for (std::uint32_t n = 1; n < line && start != std::string::npos; ++n) {
      start = text_.find('\n', start);
      if (start != std::string::npos) ++start;
    }
    if (start == std::string::npos || start > text_.size()) return {};
    const std::size_t end = text_.find('\n', start);
    return std::string_view(text_).substr(start, end == std::string::npos ? end : end - start);
  }

  /// toml++'s description, made plain for the two slips people make most.
  std::string describe(const toml::parse_error& error) const {
    const std::string description(error.description());
    const toml::source_position where = error.source().begin;
    // A string whose closing quote is missing runs into the line's end, which toml++ reports
    // as a control character (the newline) inside the string.
    if (description.find("parsing string") != std::string::npos &&
        where.column > line_text(where.line).size()) {
      return "a string is not closed: its closing quote is missing before the end of line " +
             std::to_string(where.line);
    }
    if (description.find("cannot redefine") != std::string::npos) {
      return description + " (a key may be given only once)";
    }
    return description;
  }

  void problem(toml::source_position where, std::string what) {
    problems_.push_back({where, std::move(what)});
  }

  void apply(const toml::key& key, const toml::node& node) {
    const std::string name(key.str());
    if (name == "pool") {
      pools_ = read_pool_specs(node, [this](toml::source_position where, std::string what) {
        problem(where, std::move(what));
      });
      return;
    }
    CLI::Option* option = app_.get_option_no_throw("--" + name);
    if (option == nullptr) {
      unknown(key, node);
      return;
    }
    if (!option->get_configurable()) {
      problem(key.source().begin,
              "\"" + name + "\" is a command-line option only, not a config-file key");
      return;
    }
    const std::optional<ValueKind> kind = value_kind(*option);
    if (!kind) {
      problem(key.source().begin, "--" + name + " takes values of type " + option->get_type_name() +
                                      ", which the config file cannot give; use the flag");
      return;
    }
    std::vector<std::string> arguments;
    if (const toml::array* values = node.as_array(); values && !node.is_array_of_tables()) {
      if (option->get_items_expected_max() <= 1) {
        problem(key.source().begin,
                name + " takes one value, " + std::string(kind_name(*kind)) + ", not an array");
        return;
      }
      std::size_t index = 0;
      for (const toml::node& value : *values) {
        if (!fits(value, *kind)) {
          problem(value.source().begin, name + "[" + std::to_string(index) + "] must be " +
                                            std::string(kind_name(*kind)) + ", not " +
                                            std::string(node_name(value)));
          return;
        }
        arguments.push_back(as_argument(value));
        ++index;
      }
    } else if (!fits(node, *kind)) {
      const bool many = option->get_items_expected_max() > 1;
      problem(key.source().begin, name + " must be " + std::string(kind_name(*kind)) +
                                      (many ? " or an array of them" : "") + ", not " +
                                      std::string(node_name(node)));
      return;
    } else {
      arguments.push_back(as_argument(node));
    }
    // A flag given on the command line wins; an empty array leaves the default.
    if (option->count() > 0 || arguments.empty()) return;
    try {
      if (*kind == ValueKind::boolean && option->get_expected_min() == 0) {
        option->add_result(option->get_flag_value(name, arguments.front()));
      } else {
        option->add_result(arguments);
      }
      option->run_callback();  // the option's own checks and conversion, as for a flag
    } catch (const CLI::Error& error) {
      std::string what = error.what();
      const std::string prefix = "--" + name + ": ";
      if (what.rfind(prefix, 0) == 0) what.erase(0, prefix.size());
      problem(key.source().begin, name + ": " + what);
    }
  }

  void unknown(const toml::key& key, const toml::node& node) {
    const std::string name(key.str());
    const std::vector<std::string> keys = config_keys(app_);
    if (node.is_table() || node.is_array_of_tables()) {
      const bool of_tables = node.is_array_of_tables();
      problem(key.source().begin, "unknown table " + std::string(of_tables ? "[[" : "[") + name +
                                      (of_tables ? "]]" : "]") +
                                      ": the options are top-level keys, written before any "
                                      "[table] header (e.g. socket = \"/run/fastmd/ipcd.sock\"), "
                                      "and the only tables are [[pool]] worker pools");
      return;
    }
    const std::string suggestion = nearest_key(name, keys);
    problem(key.source().begin,
            "unknown key \"" + name + "\"" +
                (suggestion.empty()
                     ? " (the keys are the long options of fastmd-ipcd --help, without \"--\")"
                     : " (did you mean " + suggestion + "?)"));
  }

  proto::Status report() {
    if (problems_.empty()) return {};
    std::stable_sort(problems_.begin(), problems_.end(), [](const Problem& a, const Problem& b) {
      return a.where.line != b.where.line ? a.where.line < b.where.line
                                          : a.where.column < b.where.column;
    });
    std::string message;
    for (const Problem& each : problems_) {
      if (!message.empty()) message += "\n";
      message += located(each.where, each.what);
    }
    return Error{Errc::invalid_field, message};
  }

  CLI::App& app_;
  std::string path_;
  std::string text_;
  std::vector<Problem> problems_;
  std::vector<PoolSpec>& pools_;
};

/// Lower case, '_' as '-': the spellings of a key people mix up.
std::string normalized(std::string_view name) {
  std::string out;
  for (char c : name) {
    out += c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::vector<std::string> config_keys(const CLI::App& app) {
  std::vector<std::string> keys;
  for (const CLI::Option* option : app.get_options()) {
    if (!option->get_configurable()) continue;
    for (const std::string& name : option->get_lnames()) keys.push_back(name);
  }
  return keys;
}

std::string nearest_key(std::string_view misspelt, const std::vector<std::string>& keys) {
  const std::string wanted = normalized(misspelt);
  // Up to a third of the letters wrong, at least one: "max-sesions", "sockt", "log_level".
  std::size_t best_distance = std::max<std::size_t>(1, wanted.size() / 3) + 1;
  std::string best;
  for (const std::string& key : keys) {
    const std::size_t distance = edit_distance(wanted, normalized(key));
    if (distance < best_distance) {
      best_distance = distance;
      best = key;
    }
  }
  return best;
}

proto::Status apply_config_file(CLI::App& app, const std::string& path,
                                std::vector<PoolSpec>& pools) {
  return Reader(app, path, pools).read();
}

}  // namespace fastmd::daemon
