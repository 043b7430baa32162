// Rendering of the status report (see status_printer.hpp).
#include "status_printer.hpp"

#include <cstdio>
#include <string>
#include <string_view>

#include <rapidjson/ostreamwrapper.h>
#include <rapidjson/prettywriter.h>

namespace fastmd::ipcctl {

namespace {

using Writer = rapidjson::PrettyWriter<rapidjson::OStreamWrapper>;

void write_json(Writer& w, const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::NIL:
      w.Null();
      break;
    case msgpack::type::BOOLEAN:
      w.Bool(o.via.boolean);
      break;
    case msgpack::type::POSITIVE_INTEGER:
      w.Uint64(o.via.u64);
      break;
    case msgpack::type::NEGATIVE_INTEGER:
      w.Int64(o.via.i64);
      break;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      w.Double(o.via.f64);
      break;
    case msgpack::type::STR:
      w.String(o.via.str.ptr, o.via.str.size);
      break;
    case msgpack::type::BIN:
      w.String(o.via.bin.ptr, o.via.bin.size);
      break;
    case msgpack::type::ARRAY:
      w.StartArray();
      for (std::uint32_t i = 0; i < o.via.array.size; ++i) write_json(w, o.via.array.ptr[i]);
      w.EndArray();
      break;
    case msgpack::type::MAP:
      w.StartObject();
      for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
        const msgpack::object_kv& kv = o.via.map.ptr[i];
        if (kv.key.type == msgpack::type::STR) {
          w.Key(kv.key.via.str.ptr, kv.key.via.str.size);
        } else {
          w.Key("?");
        }
        write_json(w, kv.val);
      }
      w.EndObject();
      break;
    default:
      w.Null();
      break;
  }
}

const msgpack::object* find(const msgpack::object& map, std::string_view key) {
  if (map.type != msgpack::type::MAP) return nullptr;
  for (std::uint32_t i = 0; i < map.via.map.size; ++i) {
    const msgpack::object_kv& kv = map.via.map.ptr[i];
    if (kv.key.type == msgpack::type::STR &&
        std::string_view(kv.key.via.str.ptr, kv.key.via.str.size) == key) {
      return &kv.val;
    }
  }
  return nullptr;
}

// A scalar as text ("" when absent); containers are written compactly.
std::string text(const msgpack::object* o) {
  if (o == nullptr) return "";
  switch (o->type) {
    case msgpack::type::POSITIVE_INTEGER:
      return std::to_string(o->via.u64);
    case msgpack::type::NEGATIVE_INTEGER:
      return std::to_string(o->via.i64);
    case msgpack::type::BOOLEAN:
      return o->via.boolean ? "true" : "false";
    case msgpack::type::STR:
      return std::string(o->via.str.ptr, o->via.str.size);
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return std::to_string(o->via.f64);
    default:
      return "";
  }
}

std::string text(const msgpack::object& map, std::string_view key) {
  return text(find(map, key));
}

// "transform×4, echo×1" for a worker; "transform, echo" (or "*") for a client.
std::string methods_column(const msgpack::object& session) {
  std::string out;
  const auto append = [&](const std::string& item) {
    if (!out.empty()) out += ", ";
    out += item;
  };
  if (const auto* methods = find(session, "methods");
      methods && methods->type == msgpack::type::ARRAY) {
    for (std::uint32_t i = 0; i < methods->via.array.size; ++i) {
      const auto& spec = methods->via.array.ptr[i];
      append(text(spec, "name") + "x" + text(spec, "concurrency"));
    }
  }
  if (const auto* wants = find(session, "wants"); wants && wants->type == msgpack::type::ARRAY) {
    for (std::uint32_t i = 0; i < wants->via.array.size; ++i)
      append(text(&wants->via.array.ptr[i]));
  }
  if (out.empty() && text(session, "role") == "client") out = "*";
  return out;
}

// A worker's load as "in_flight/served" ("unknown" for a worker that does not report it, "-"
// for clients and observers).
std::string load_column(const msgpack::object& session) {
  const msgpack::object* load = find(session, "load");
  if (load == nullptr) return text(session, "role") == "worker" ? "unknown" : "-";
  return text(*load, "in_flight") + "/" + text(*load, "served");
}

void print_pairs(std::ostream& out, const msgpack::object* map) {
  if (map == nullptr || map->type != msgpack::type::MAP) return;
  for (std::uint32_t i = 0; i < map->via.map.size; ++i) {
    const msgpack::object_kv& kv = map->via.map.ptr[i];
    out << "  " << text(&kv.key) << ": " << text(&kv.val) << "\n";
  }
}

}  // namespace

void print_json(std::ostream& out, const msgpack::object& status) {
  rapidjson::OStreamWrapper stream(out);
  Writer writer(stream);
  write_json(writer, status);
  out << "\n";
}

void print_text(std::ostream& out, const msgpack::object& status) {
  out << "fastmd-ipcd " << text(status, "daemon") << ", pid " << text(status, "pid") << ", up "
      << text(status, "uptime_ms") << " ms, socket " << text(status, "socket") << "\n";

  const msgpack::object* sessions = find(status, "sessions");
  out << "sessions: " << text(status, "sessions_total") << "\n";
  if (sessions != nullptr && sessions->type == msgpack::type::ARRAY && sessions->via.array.size) {
    char line[256];
    std::snprintf(line, sizeof(line), "  %-8s %-9s %-8s %-6s %-16s %-7s %-7s %-14s %s\n", "SESSION",
                  "ROLE", "PID", "UID", "NAME", "INTROS", "QUEUED", "LOAD", "METHODS");
    out << line;
    for (std::uint32_t i = 0; i < sessions->via.array.size; ++i) {
      const msgpack::object& s = sessions->via.array.ptr[i];
      std::snprintf(line, sizeof(line), "  %-8s %-9s %-8s %-6s %-16s %-7s %-7s %-14s %s\n",
                    text(s, "session").c_str(), text(s, "role").c_str(), text(s, "pid").c_str(),
                    text(s, "uid").c_str(), text(s, "name").c_str(),
                    text(s, "introductions").c_str(), text(s, "queued_bytes").c_str(),
                    load_column(s).c_str(), methods_column(s).c_str());
      out << line;
    }
  }
  out << "counters:\n";
  print_pairs(out, find(status, "counters"));
  out << "limits:\n";
  print_pairs(out, find(status, "limits"));
  const msgpack::object* pools = find(status, "pools");
  if (pools != nullptr && pools->type == msgpack::type::ARRAY) {
    out << "pools: " << pools->via.array.size << "\n";
    for (std::uint32_t i = 0; i < pools->via.array.size; ++i) {
      out << " pool " << i << ":\n";
      print_pairs(out, &pools->via.array.ptr[i]);
    }
  }
  print_worker_pools(out, status);
  // Absent from daemons before the platform layer: then nothing is printed.
  if (const msgpack::object* platform = find(status, "platform")) {
    const msgpack::object* sealing = find(*platform, "sealing");
    const bool sealed =
        sealing != nullptr && sealing->type == msgpack::type::BOOLEAN && sealing->via.boolean;
    out << "platform: " << text(*platform, "name")
        << " (memory: " << text(*platform, "memory_backing") << (sealed ? ", sealed" : ", unsealed")
        << "; poller: " << text(*platform, "poller")
        << "; liveness: " << text(*platform, "liveness")
        << "; credentials: " << text(*platform, "credentials") << ")\n";
  }
}

void print_worker_pools(std::ostream& out, const msgpack::object& status) {
  const msgpack::object* pools = find(status, "worker_pools");
  const std::uint32_t count =
      pools != nullptr && pools->type == msgpack::type::ARRAY ? pools->via.array.size : 0;
  out << "worker pools: " << count << "\n";
  for (std::uint32_t i = 0; i < count; ++i) {
    const msgpack::object& pool = pools->via.array.ptr[i];
    std::string methods;
    if (const auto* names = find(pool, "methods"); names && names->type == msgpack::type::ARRAY) {
      for (std::uint32_t m = 0; m < names->via.array.size; ++m) {
        methods += (m ? ", " : "") + text(&names->via.array.ptr[m]);
      }
    }
    const std::string last_exit = text(pool, "last_exit");
    out << "  pool " << text(pool, "name") << ": " << text(pool, "state") << ", workers "
        << text(pool, "wanted") << " wanted (min " << text(pool, "min") << ", max "
        << text(pool, "max") << "), restarts " << text(pool, "restarts")
        << (last_exit.empty() ? "" : ", last unexpected exit: " + last_exit) << ", methods "
        << (methods.empty() ? "(not learned yet)" : methods) << "\n";
    const auto* workers = find(pool, "workers");
    if (workers == nullptr || workers->type != msgpack::type::ARRAY || !workers->via.array.size) {
      continue;
    }
    char line[256];
    std::snprintf(line, sizeof(line), "    %-8s %-9s %-8s %-10s %-9s %s\n", "PID", "STATE",
                  "SESSION", "UPTIME_MS", "IN_FLIGHT", "SERVED");
    out << line;
    for (std::uint32_t w = 0; w < workers->via.array.size; ++w) {
      const msgpack::object& worker = workers->via.array.ptr[w];
      // A ready worker without in_flight does not report its load (PROTOCOL.md §3.4).
      const bool unknown = text(worker, "state") != "starting" && text(worker, "in_flight").empty();
      const auto or_dash = [&](std::string value) {
        return !value.empty() ? value : unknown ? "unknown" : "-";
      };
      std::snprintf(line, sizeof(line), "    %-8s %-9s %-8s %-10s %-9s %s\n",
                    text(worker, "pid").c_str(), text(worker, "state").c_str(),
                    text(worker, "session").c_str(), text(worker, "uptime_ms").c_str(),
                    or_dash(text(worker, "in_flight")).c_str(),
                    or_dash(text(worker, "served")).c_str());
      out << line;
    }
  }
}

void print_worker_pools_json(std::ostream& out, const msgpack::object& status) {
  rapidjson::OStreamWrapper stream(out);
  Writer writer(stream);
  const msgpack::object* pools = find(status, "worker_pools");
  if (pools != nullptr) {
    write_json(writer, *pools);
  } else {
    writer.StartArray();
    writer.EndArray();
  }
  out << "\n";
}

}  // namespace fastmd::ipcctl
