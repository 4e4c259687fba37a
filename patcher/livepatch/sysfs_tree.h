// The sysfs directories modules add under /sys/kernel (lib/kobject.c kobject_create_and_add,
// fs/sysfs sysfs_create_file, kobject_put): which guest kobject is which directory and which
// struct kobj_attribute is which file, so `cat /sys/kernel/DIR/FILE` can find the show()
// callback to run. test_klp_syscall's /sys/kernel/test_klp_syscall/npids is one. Only the names
// are kept here; reading a file is the shell's job (it runs show() on a task).
#pragma once

#include "emu/guest_addr.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace klpemu::patcher::livepatch {

class SysfsTree {
  public:
    struct File {
        GuestAddr kobj;
        GuestAddr attr; // struct kobj_attribute
        GuestAddr show; // attr->show, 0 if write-only
    };

    // A directory `name` for guest kobject `kobj` under `parent` (0: /sys/kernel).
    // Contract: `kobj` is not registered yet.
    void add_dir(GuestAddr kobj, std::string name, GuestAddr parent);
    // A file in directory `kobj`; false if `kobj` is not a registered directory.
    bool add_file(GuestAddr kobj, std::string name, File file);
    // kobject_put of the last reference: the directory, its files and subdirectories go.
    void remove_dir(GuestAddr kobj);
    // The file at an absolute path such as "/sys/kernel/test_klp_syscall/npids".
    std::optional<File> find(std::string_view path) const;

  private:
    std::string path_of(GuestAddr kobj) const;

    struct Dir {
        std::string name;
        GuestAddr parent;
        std::map<std::string, File> files;
    };
    std::map<uint64_t, Dir> m_dirs; // by guest kobject address
};

} // namespace klpemu::patcher::livepatch
