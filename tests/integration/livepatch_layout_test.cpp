// The engine reads the livepatch structs from guest memory at the offsets of
// patcher/livepatch/klp_layout.h; the guest compiles them from patcher/livepatch/include. This
// test compiles a C file of _Static_asserts generated from klp_layout.h against those headers
// with the guest compiler: a header change not mirrored in klp_layout.h fails here.
#include "emu/c_compiler.h"
#include "patcher/livepatch/klp_layout.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace L = klpemu::patcher::klp_layout;

namespace {

std::string check(const char* type, const char* field, uint64_t offset) {
    return fmt::format("_Static_assert(__builtin_offsetof({}, {}) == {}, \"{}.{}\");\n", type,
                       field, offset, type, field);
}

std::string size_check(const char* type, uint64_t size) {
    return fmt::format("_Static_assert(sizeof({}) == {}, \"sizeof {}\");\n", type, size, type);
}

} // namespace

TEST_CASE("the livepatch API headers have the layout the engine reads") {
    std::string c = "#include <linux/livepatch.h>\n#include <linux/seq_file.h>\n";
    c += check("struct klp_func", "old_name", L::kFuncOldName);
    c += check("struct klp_func", "new_func", L::kFuncNewFunc);
    c += check("struct klp_func", "old_sympos", L::kFuncOldSympos);
    c += check("struct klp_func", "old_func", L::kFuncOldFunc);
    c += check("struct klp_func", "old_size", L::kFuncOldSize);
    c += check("struct klp_func", "new_size", L::kFuncNewSize);
    c += check("struct klp_func", "nop", L::kFuncNop);
    c += check("struct klp_func", "patched", L::kFuncPatched);
    c += check("struct klp_func", "transition", L::kFuncTransition);
    c += size_check("struct klp_func", L::kFuncSize);
    c += check("struct klp_callbacks", "pre_patch", L::kCbPrePatch);
    c += check("struct klp_callbacks", "post_patch", L::kCbPostPatch);
    c += check("struct klp_callbacks", "pre_unpatch", L::kCbPreUnpatch);
    c += check("struct klp_callbacks", "post_unpatch", L::kCbPostUnpatch);
    c += check("struct klp_callbacks", "post_unpatch_enabled", L::kCbPostUnpatchEnabled);
    c += check("struct klp_object", "name", L::kObjName);
    c += check("struct klp_object", "funcs", L::kObjFuncs);
    c += check("struct klp_object", "callbacks", L::kObjCallbacks);
    c += check("struct klp_object", "mod", L::kObjMod);
    c += check("struct klp_object", "dynamic", L::kObjDynamic);
    c += check("struct klp_object", "patched", L::kObjPatched);
    c += size_check("struct klp_object", L::kObjSize);
    c += check("struct klp_state", "id", L::kStateId);
    c += check("struct klp_state", "version", L::kStateVersion);
    c += check("struct klp_state", "data", L::kStateData);
    c += size_check("struct klp_state", L::kStateSize);
    c += check("struct klp_patch", "mod", L::kPatchMod);
    c += check("struct klp_patch", "objs", L::kPatchObjs);
    c += check("struct klp_patch", "states", L::kPatchStates);
    c += check("struct klp_patch", "replace", L::kPatchReplace);
    c += check("struct klp_patch", "enabled", L::kPatchEnabled);
    c += check("struct klp_patch", "forced", L::kPatchForced);
    c += check("struct module", "state", L::kModState);
    c += check("struct module", "name", L::kModName);
    c += check("struct module", "init", L::kModInit);
    c += check("struct module", "exit", L::kModExit);
    c += check("struct kernel_param", "name", L::kParamName);
    c += check("struct kernel_param", "arg", L::kParamArg);
    c += check("struct kernel_param", "type", L::kParamType);
    c += check("struct kernel_param", "size", L::kParamSize);
    c += size_check("struct kernel_param", L::kParamRecordSize);
    c += "_Static_assert(MODULE_STATE_LIVE == 0 && MODULE_STATE_COMING == 1 && "
         "MODULE_STATE_GOING == 2 && MODULE_STATE_UNFORMED == 3, \"module_state\");\n";

    const auto dir =
        std::filesystem::temp_directory_path() / fmt::format("klpemu-layout-{}", ::getpid());
    std::filesystem::create_directories(dir);
    const auto file = dir / "layout.c";
    std::ofstream(file) << c;
    klpemu::CompileOptions options;
    options.extra_flags = {"-I" KLPEMU_SOURCE_ROOT "/patcher/livepatch/include", "-DMODULE",
                           "-DKBUILD_MODNAME=\"layout\""};
    auto r = klpemu::compile_c(file, options);
    std::filesystem::remove_all(dir);
    INFO((r.ok() ? std::string() : r.error().message));
    CHECK(r.ok());
}
