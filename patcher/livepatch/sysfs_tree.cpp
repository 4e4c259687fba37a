// See sysfs_tree.h.
#include "patcher/livepatch/sysfs_tree.h"

#include <vector>

namespace klpemu::patcher::livepatch {

void SysfsTree::add_dir(GuestAddr kobj, std::string name, GuestAddr parent) {
    m_dirs[kobj.value] = Dir{std::move(name), parent, {}};
}

bool SysfsTree::add_file(GuestAddr kobj, std::string name, File file) {
    auto it = m_dirs.find(kobj.value);
    if (it == m_dirs.end()) {
        return false;
    }
    it->second.files[std::move(name)] = file;
    return true;
}

void SysfsTree::remove_dir(GuestAddr kobj) {
    std::vector<uint64_t> children;
    for (const auto& [addr, dir] : m_dirs) {
        if (dir.parent == kobj) {
            children.push_back(addr);
        }
    }
    for (uint64_t c : children) {
        remove_dir(GuestAddr(c));
    }
    m_dirs.erase(kobj.value);
}

std::string SysfsTree::path_of(GuestAddr kobj) const {
    auto it = m_dirs.find(kobj.value);
    if (it == m_dirs.end()) {
        return "/sys/kernel";
    }
    return path_of(it->second.parent) + "/" + it->second.name;
}

std::optional<SysfsTree::File> SysfsTree::find(std::string_view path) const {
    for (const auto& [addr, dir] : m_dirs) {
        const std::string prefix = path_of(GuestAddr(addr)) + "/";
        if (!path.starts_with(prefix)) {
            continue;
        }
        auto f = dir.files.find(std::string(path.substr(prefix.size())));
        if (f != dir.files.end()) {
            return f->second;
        }
    }
    return std::nullopt;
}

} // namespace klpemu::patcher::livepatch
