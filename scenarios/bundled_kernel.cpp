// See bundled_kernel.h.
#include "scenarios/bundled_kernel.h"

#include <algorithm>

namespace klpemu::scenario {

std::filesystem::path bundled_kernel_source() {
    return std::filesystem::path(KLPEMU_SOURCE_ROOT) / "scenarios" / "livepatch" / "kselftest" /
           "kernel" / "bundled.c";
}

bool add_bundled_kernel(Scenario& s) {
    const auto& req = s.requires_features;
    if (std::find(req.begin(), req.end(), "livepatch") == req.end()) {
        return false;
    }
    if (std::any_of(s.objects.begin(), s.objects.end(),
                    [](const ObjectSpec& o) { return o.name == "vmlinux"; })) {
        return false;
    }
    // Nothing to patch it with: the scenario is not a livepatch run (a fragment, or an error
    // the livepatch feature reports).
    if (std::none_of(s.objects.begin(), s.objects.end(),
                     [](const ObjectSpec& o) { return o.kind != ObjectKind::Kernel; })) {
        return false;
    }
    ObjectSpec vmlinux;
    vmlinux.name = "vmlinux";
    vmlinux.kind = ObjectKind::Kernel;
    vmlinux.source_kind = SourceKind::CFile;
    vmlinux.path = bundled_kernel_source();
    vmlinux.loc = SourceLoc{s.file.string(), 1, 1};
    s.objects.insert(s.objects.begin(), std::move(vmlinux));
    return true;
}

} // namespace klpemu::scenario
