// Builders for the ftrace call-site state machine (see ftrace_callsite.h, reference §1).
#include "patcher/ftrace_callsite.h"

#include "emu/insn_encoding.h"

namespace klpemu::patcher {

namespace {

Result<InsnWord> bl_from(const PatchSite& site, GuestAddr target) {
    auto bl = a64::bl(site.rec_ip, target);
    if (!bl.ok()) {
        return make_error("ftrace: {}: cannot call {:#x} from {:#x}: {}", site.function,
                          target.value, site.rec_ip.value, bl.error().message);
    }
    return bl;
}

} // namespace

TextPatch init_nop_patch(const PatchSite& site) {
    return TextPatch{site.first_nop, kNop, kMovX9X30, PatchPurpose::InitMovSlot};
}

Result<TextPatch> make_call_patch(const PatchSite& site, GuestAddr target) {
    KLP_TRY_ASSIGN(bl, bl_from(site, target));
    return TextPatch{site.rec_ip, kNop, bl, PatchPurpose::CallSite};
}

Result<TextPatch> make_nop_patch(const PatchSite& site, GuestAddr target) {
    KLP_TRY_ASSIGN(bl, bl_from(site, target));
    return TextPatch{site.rec_ip, bl, kNop, PatchPurpose::CallSite};
}

Result<TextPatch> modify_call_patch(const PatchSite& site, GuestAddr old_target,
                                    GuestAddr new_target) {
    KLP_TRY_ASSIGN(old_bl, bl_from(site, old_target));
    auto new_bl = bl_from(site, new_target);
    if (!new_bl.ok()) {
        return new_bl.error();
    }
    return TextPatch{site.rec_ip, old_bl, *new_bl, PatchPurpose::CallSite};
}

TextPatch break_fault_patch(const PatchSite& site) {
    return TextPatch{site.rec_ip, kNop, kBreakFault, PatchPurpose::CallSite};
}

} // namespace klpemu::patcher
