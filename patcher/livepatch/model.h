// The engine's model of the livepatch structs (kernel/livepatch/core.h): struct klp_patch,
// klp_object, klp_func as the kernel keeps them after klp_init_patch, each remembering the guest
// struct it was read from (to write back what the kernel writes there), plus struct klp_ops: the
// func stack of one patched address. Private to the engine.
#pragma once

#include "emu/guest_addr.h"
#include "patcher/ftrace.h"
#include "patcher/livepatch/livepatch.h"

#include <memory>
#include <string>
#include <vector>

namespace klpemu::patcher::livepatch {

struct Livepatch::Func {
    GuestAddr guest; // The struct klp_func; 0 for a dynamic NOP.
    std::string old_name;
    uint64_t old_sympos = 0;
    GuestAddr old_func, new_func;
    uint64_t old_size = 0, new_size = 0;
    bool nop = false, patched = false, transition = false;
};

struct Livepatch::Object {
    GuestAddr guest;  // The struct klp_object; 0 for a dynamic one (atomic replace).
    std::string name; // Empty: vmlinux.
    bool dynamic = false;
    bool patched = false;
    GuestAddr pre_patch, post_patch, pre_unpatch, post_unpatch;
    bool post_unpatch_enabled = false;
    std::vector<std::unique_ptr<Func>> funcs;
    std::string display() const { return name.empty() ? "vmlinux" : name; }
};

struct Livepatch::Patch {
    GuestAddr guest;
    std::string mod_name;
    bool replace = false, enabled = false, forced = false;
    struct State {
        GuestAddr guest;
        uint64_t id = 0;
        uint32_t version = 0;
    };
    std::vector<State> states;
    std::vector<std::unique_ptr<Object>> objs;
};

struct Livepatch::Ops {
    GuestAddr old_func;
    OpsId ftrace_id = 0;
    std::vector<Func*> func_stack; // front() is the newest (list_first_or_null_rcu).
};

} // namespace klpemu::patcher::livepatch
