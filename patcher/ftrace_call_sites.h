// The recorded ftrace call sites (the kernel's ftrace_pages of dyn_ftrace records): one entry per
// function compiled with a patchable entry, its current state (reference §1 "Callsite states":
// compiled, off = `mov x9, x30; nop`, on = `mov x9, x30; bl <callable>`, broken = a BRK patched
// in) and, with CALL_OPS, the ops its literal holds. The transitions themselves are built by
// ftrace_callsite.h and applied by Ftrace (ftrace_call_sites.cpp), which is the only writer.
#pragma once

#include "emu/guest_addr.h"
#include "emu/image.h"

#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace klpemu::patcher {

// The state of one call site (reference §1 "Callsite states").
enum class CallSiteState { Compiled, Off, On, Broken };

struct CallSite {
    PatchSite site;
    CallSiteState state = CallSiteState::Compiled;
    GuestAddr target;                // The BL's target while On.
    std::optional<uint64_t> literal; // CALL_OPS: the ops the literal holds.
};

class FtraceCallSites {
  public:
    bool contains(GuestAddr rec_ip) const { return m_by_ip.contains(rec_ip); }
    // Records `site`. Contract: no site with its rec_ip is recorded.
    void add(CallSite site);
    // Forgets the sites whose rec_ip is in `range` (freed init text, an unloaded module).
    void remove(GuestRange range);
    // The site whose rec_ip is `ip`, or null.
    const CallSite* find(GuestAddr ip) const;
    // Is `pc` one of a site's two words (the first NOP or rec->ip)?
    bool is_site_word(GuestAddr pc) const { return m_by_word.contains(pc); }
    // The state of the first site of `function` (Compiled if there is none).
    CallSiteState state_of(std::string_view function) const;

    std::vector<CallSite>& all() { return m_sites; }
    const std::vector<CallSite>& all() const { return m_sites; }
    // The recorded PatchSites, in recording order (what the ops registry resolves against).
    std::vector<PatchSite> patch_sites() const;

  private:
    void index(size_t i);

    std::vector<CallSite> m_sites;
    std::unordered_map<GuestAddr, size_t> m_by_ip;
    std::unordered_map<GuestAddr, size_t> m_by_word; // first_nop and rec_ip
};

} // namespace klpemu::patcher
