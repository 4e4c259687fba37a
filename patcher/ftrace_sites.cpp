// The call sites of ftrace as a list of values, for the step debugger's `patches` view: each
// function's patchable entry (__patchable_function_entries), its state in the call-site state
// machine (compiled NOPs, MOV X9,X30 + NOP, MOV X9,X30 + BL, broken) and the BL's target.
#include "patcher/ftrace.h"

namespace klpemu::patcher {

std::vector<Ftrace::SiteView> Ftrace::sites() const {
    std::vector<SiteView> out;
    out.reserve(m_sites.all().size());
    for (const CallSite& s : m_sites.all()) {
        out.push_back(SiteView{s.site, s.state, s.target});
    }
    return out;
}

} // namespace klpemu::patcher
