#include "stage0/modules.hpp"
#include "stage0/fsutil.hpp"

#include "common/bytes.hpp"

#include <algorithm>
#include <fnmatch.h>
#include <functional>
#include <sstream>

namespace fastboop::stage0 {

namespace fs = fastboop::filesystems;

namespace {

// Calls `f` with each item of the NUL-separated list `all` (modinfo's form;
// the last item may lack its NUL).
template <class F> void for_each_nul_item(std::string_view all, F&& f) {
  for (std::size_t p = 0; p < all.size();) {
    const std::size_t e = std::min(all.find('\0', p), all.size());
    f(all.substr(p, e - p));
    p = e + 1;
  }
}

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
      ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t' && s[j] != '\r')
      ++j;
    if (j > i)
      out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

template <typename F> void for_each_line(std::string_view text, F&& f) {
  std::size_t i = 0;
  std::size_t line = 0;
  while (i < text.size()) {
    std::size_t j = text.find('\n', i);
    if (j == std::string_view::npos)
      j = text.size();
    ++line;
    f(text.substr(i, j - i), line);
    i = j + 1;
  }
}

// Optional index file: absent is fine, any other failure is an error.
Result<std::optional<std::string>> read_optional(fs::Filesystem& fsys, const std::string& path) {
  auto node = TRY(find_path(fsys, path));
  if (!node)
    return std::optional<std::string>{};
  Bytes b = TRY(fs::read_file(fsys, path, std::uint64_t{256} << 20));
  return std::optional<std::string>(std::string(as_chars(b)));
}

} // namespace

std::string fold_module_name(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

std::string module_name_from_path(std::string_view relpath) {
  std::size_t slash = relpath.rfind('/');
  std::string_view base = slash == std::string_view::npos ? relpath : relpath.substr(slash + 1);
  for (std::string_view suffix : {".ko.zst", ".ko.xz", ".ko.gz", ".ko"}) {
    if (base.size() > suffix.size() && base.substr(base.size() - suffix.size()) == suffix) {
      base.remove_suffix(suffix.size());
      break;
    }
  }
  return fold_module_name(base);
}

std::string_view module_reason_name(ModuleReason reason) {
  switch (reason) {
  case ModuleReason::Required: return "required";
  case ModuleReason::Dependency: return "dependency";
  case ModuleReason::Softdep: return "softdep";
  }
  return "required";
}

namespace {

// modules.dep: "path: dep dep..." per module; later lines win. A template so
// that it can fill ModuleIndex's private Module map.
template <typename ModuleMap>
Result<void> parse_modules_dep(std::string_view text, const std::string& dep_path,
                               ModuleMap& modules) {
  Result<void> status = ok();
  for_each_line(text, [&](std::string_view line, std::size_t lineno) {
    if (!status || line.empty() || line[0] == '#')
      return;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      status = Error(dep_path + ": line " + std::to_string(lineno) + ": missing ':'");
      return;
    }
    std::string_view path = line.substr(0, colon);
    typename ModuleMap::mapped_type m;
    m.relpath = std::string(path);
    for (auto d : split_ws(line.substr(colon + 1)))
      m.deps.push_back(module_name_from_path(d));
    modules[module_name_from_path(path)] = std::move(m); // later lines win
  });
  return status;
}

void parse_builtin(std::string_view text, std::set<std::string, std::less<>>& builtin) {
  for_each_line(text, [&](std::string_view line, std::size_t) {
    if (!line.empty())
      builtin.insert(module_name_from_path(line));
  });
}

// modules.softdep: "softdep NAME pre: ... post: ..."; a template for the
// same reason as parse_modules_dep.
template <typename SoftdepMap> void parse_softdeps(std::string_view text, SoftdepMap& softdeps) {
  for_each_line(text, [&](std::string_view line, std::size_t) {
    auto words = split_ws(line);
    if (words.size() < 3 || words[0] != "softdep")
      return;
    auto& sd = softdeps[fold_module_name(words[1])];
    // Like modprobe.d(5): names before any "pre:"/"post:" count as pre.
    std::vector<std::string>* target = &sd.pre;
    for (std::size_t i = 2; i < words.size(); ++i) {
      if (words[i] == "pre:")
        target = &sd.pre;
      else if (words[i] == "post:")
        target = &sd.post;
      else
        target->emplace_back(words[i]);
    }
  });
}

using AliasList = std::vector<std::pair<std::string, std::string>>;

void parse_aliases(std::string_view text, AliasList& aliases) {
  for_each_line(text, [&](std::string_view line, std::size_t) {
    auto words = split_ws(line);
    if (words.size() == 3 && words[0] == "alias")
      aliases.emplace_back(std::string(words[1]), fold_module_name(words[2]));
  });
}

// modules.builtin.modinfo: NUL-separated "module.key=value" items.
void parse_builtin_aliases(std::string_view all, AliasList& aliases) {
  for_each_nul_item(all, [&](std::string_view item) {
    const std::size_t dot = item.find(".alias=");
    if (dot != std::string_view::npos && dot > 0)
      aliases.emplace_back(std::string(item.substr(dot + 7)),
                           fold_module_name(item.substr(0, dot)));
  });
}

} // namespace

Result<ModuleIndex> ModuleIndex::load(fs::Filesystem& fsys, const std::string& dir,
                                      const std::string& kver) {
  ModuleIndex idx;
  idx.m_dir = dir;
  idx.m_kver = kver;
  const std::string dep_path = dir + "/modules.dep";
  auto dep = TRY(read_optional(fsys, dep_path));
  if (!dep)
    return Error(dep_path + " is missing: the kernel modules of " + kver +
                 " were installed without their index; run `depmod -b <rootfs> " + kver +
                 "` on the tree first");
  idx.m_files_read.push_back(dep_path);
  TRY(parse_modules_dep(*dep, dep_path, idx.m_modules));

  const std::string builtin_path = dir + "/modules.builtin";
  if (auto b = TRY(read_optional(fsys, builtin_path))) {
    idx.m_files_read.push_back(builtin_path);
    parse_builtin(*b, idx.m_builtin);
  }
  const std::string softdep_path = dir + "/modules.softdep";
  if (auto s = TRY(read_optional(fsys, softdep_path))) {
    idx.m_files_read.push_back(softdep_path);
    parse_softdeps(*s, idx.m_softdeps);
  }
  const std::string alias_path = dir + "/modules.alias";
  if (auto a = TRY(read_optional(fsys, alias_path))) {
    idx.m_files_read.push_back(alias_path);
    parse_aliases(*a, idx.m_aliases);
  }
  // Aliases of built-in code ("md5.alias=crypto-md5"), consulted after
  // modules.alias as kmod does.
  const std::string modinfo_path = dir + "/modules.builtin.modinfo";
  if (auto m = TRY(read_optional(fsys, modinfo_path))) {
    idx.m_files_read.push_back(modinfo_path);
    parse_builtin_aliases(*m, idx.m_builtin_aliases);
  }
  return idx;
}

bool ModuleIndex::is_builtin(std::string_view name) const {
  return m_builtin.count(fold_module_name(name)) != 0;
}

bool ModuleIndex::has_module(std::string_view name) const {
  return m_modules.count(fold_module_name(name)) != 0;
}

std::vector<std::string> ModuleIndex::resolve_soft(std::string_view name) const {
  std::string folded = fold_module_name(name);
  if (m_modules.count(folded) || m_builtin.count(folded))
    return {folded};
  std::vector<std::string> out;
  std::string raw(name);
  for (const auto& [pattern, module] : m_aliases)
    if (fnmatch(pattern.c_str(), raw.c_str(), 0) == 0 &&
        std::find(out.begin(), out.end(), module) == out.end())
      out.push_back(module);
  if (out.empty())
    for (const auto& [pattern, module] : m_builtin_aliases)
      if (fnmatch(pattern.c_str(), raw.c_str(), 0) == 0 &&
          std::find(out.begin(), out.end(), module) == out.end())
        out.push_back(module);
  return out;
}

Result<ModuleClosure> ModuleIndex::resolve(const std::vector<std::string>& required) const {
  ModuleClosure closure;
  std::set<std::string> visited;
  std::set<std::string> builtin;
  std::set<std::string> missing_soft;
  // Iterative-safe recursion: depth is bounded by the number of modules since
  // every name is visited once.
  std::function<Result<void>(const std::string&, ModuleReason, const std::string&)> visit =
      [&](const std::string& name, ModuleReason reason, const std::string& by) -> Result<void> {
    if (!visited.insert(name).second)
      return ok();
    auto it = m_modules.find(name);
    if (it == m_modules.end()) {
      if (m_builtin.count(name)) {
        builtin.insert(name);
        return ok();
      }
      std::string who = by.empty() ? "required" : "needed by " + by;
      return Error("kernel module '" + name + "' (" + who + ") not found for kernel " + m_kver +
                   ": it is neither in " + m_dir + "/modules.dep nor in " + m_dir +
                   "/modules.builtin");
    }
    if (auto sd = m_softdeps.find(name); sd != m_softdeps.end()) {
      for (const auto& pre : sd->second.pre) {
        auto targets = resolve_soft(pre);
        if (targets.empty())
          missing_soft.insert(pre);
        for (const auto& t : targets)
          TRY(visit(t, ModuleReason::Softdep, name));
      }
    }
    // kmod loads the modules.dep list back to front.
    for (auto d = it->second.deps.rbegin(); d != it->second.deps.rend(); ++d)
      TRY(visit(*d, ModuleReason::Dependency, name));
    closure.load_order.push_back({name, it->second.relpath, reason, by});
    if (auto sd = m_softdeps.find(name); sd != m_softdeps.end()) {
      for (const auto& post : sd->second.post) {
        auto targets = resolve_soft(post);
        if (targets.empty())
          missing_soft.insert(post);
        for (const auto& t : targets)
          TRY(visit(t, ModuleReason::Softdep, name));
      }
    }
    return ok();
  };
  for (const auto& r : required)
    TRY(visit(fold_module_name(r), ModuleReason::Required, ""));
  closure.builtin.assign(builtin.begin(), builtin.end());
  closure.missing_softdeps.assign(missing_soft.begin(), missing_soft.end());
  return closure;
}

std::string ModuleIndex::dep_lines(const std::vector<ResolvedModule>& modules,
                                   const std::map<std::string, std::string>& rename) const {
  auto mapped = [&](const std::string& relpath) {
    auto r = rename.find(relpath);
    return r == rename.end() ? relpath : r->second;
  };
  std::string out;
  for (const auto& m : modules) {
    auto it = m_modules.find(m.name);
    if (it == m_modules.end())
      continue;
    out += mapped(it->second.relpath) + ":";
    for (const auto& d : it->second.deps) {
      auto dit = m_modules.find(d);
      if (dit != m_modules.end())
        out += " " + mapped(dit->second.relpath);
    }
    out += "\n";
  }
  return out;
}

Result<std::vector<std::string>> module_firmware(ByteSpan elf) {
  // ELF64/ELF32 little or big endian; only the section table is needed.
  if (elf.size() < 64 || elf[0] != 0x7f || elf[1] != 'E' || elf[2] != 'L' || elf[3] != 'F')
    return Error("not an ELF file");
  const bool is64 = elf[4] == 2;
  const bool le = elf[5] == 1;
  auto u16 = [&](std::size_t off) -> std::uint64_t {
    return le ? load_le<std::uint16_t>(elf.data() + off) : load_be<std::uint16_t>(elf.data() + off);
  };
  auto u32 = [&](std::size_t off) -> std::uint64_t {
    return le ? load_le<std::uint32_t>(elf.data() + off) : load_be<std::uint32_t>(elf.data() + off);
  };
  auto u64 = [&](std::size_t off) -> std::uint64_t {
    return le ? load_le<std::uint64_t>(elf.data() + off) : load_be<std::uint64_t>(elf.data() + off);
  };
  std::uint64_t shoff = is64 ? u64(0x28) : u32(0x20);
  std::uint64_t shentsize = is64 ? u16(0x3a) : u16(0x2e);
  std::uint64_t shnum = is64 ? u16(0x3c) : u16(0x30);
  std::uint64_t shstrndx = is64 ? u16(0x3e) : u16(0x32);
  if (shentsize < (is64 ? 64u : 40u) || shnum == 0 || shstrndx >= shnum ||
      shoff > elf.size() || shnum * shentsize > elf.size() - shoff)
    return Error("ELF section table out of bounds");
  auto section = [&](std::uint64_t i, std::uint64_t& name, std::uint64_t& off, std::uint64_t& size) {
    std::size_t h = static_cast<std::size_t>(shoff + i * shentsize);
    name = u32(h);
    off = is64 ? u64(h + 0x18) : u32(h + 0x10);
    size = is64 ? u64(h + 0x20) : u32(h + 0x14);
    return off <= elf.size() && size <= elf.size() - off;
  };
  std::uint64_t sn = 0, stroff = 0, strsize = 0;
  if (!section(shstrndx, sn, stroff, strsize))
    return Error("ELF section name table out of bounds");
  for (std::uint64_t i = 0; i < shnum; ++i) {
    std::uint64_t name = 0, off = 0, size = 0;
    if (!section(i, name, off, size) || name >= strsize)
      continue;
    std::string_view names = as_chars(elf.subspan(stroff, strsize));
    std::string_view sname = names.substr(name);
    sname = sname.substr(0, sname.find('\0'));
    if (sname != ".modinfo")
      continue;
    std::vector<std::string> fw;
    for_each_nul_item(as_chars(elf.subspan(off, size)), [&](std::string_view item) {
      if (item.substr(0, 9) == "firmware=" && item.size() > 9)
        fw.emplace_back(item.substr(9));
    });
    return fw;
  }
  return std::vector<std::string>{};
}

} // namespace fastboop::stage0
