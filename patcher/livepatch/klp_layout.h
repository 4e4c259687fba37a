// The guest layout of the livepatch API structs, as klpemu's own kernel-API headers
// (patcher/livepatch/include/linux/{livepatch,module,seq_file}.h) define them for LP64 arm64.
// The engine reads a patch from guest memory at klp_enable_patch() time, as the kernel's core
// reads the module's static structs, and writes back the fields the kernel keeps in them
// (func->old_func, obj->mod, obj->patched, patch->enabled, ...). A change to a header must be
// mirrored here; tests/integration/livepatch_layout_test.cpp compiles the headers against it.
#pragma once

#include <cstdint>

namespace klpemu::patcher::klp_layout {

// struct klp_func
inline constexpr uint64_t kFuncOldName = 0, kFuncNewFunc = 8, kFuncOldSympos = 16,
                          kFuncOldFunc = 24, kFuncOldSize = 32, kFuncNewSize = 40, kFuncNop = 48,
                          kFuncPatched = 49, kFuncTransition = 50, kFuncSize = 56;
// struct klp_callbacks, inside struct klp_object at kObjCallbacks
inline constexpr uint64_t kCbPrePatch = 0, kCbPostPatch = 8, kCbPreUnpatch = 16,
                          kCbPostUnpatch = 24, kCbPostUnpatchEnabled = 32;
// struct klp_object
inline constexpr uint64_t kObjName = 0, kObjFuncs = 8, kObjCallbacks = 16, kObjMod = 56,
                          kObjDynamic = 64, kObjPatched = 65, kObjSize = 72;
// struct klp_state
inline constexpr uint64_t kStateId = 0, kStateVersion = 8, kStateData = 16, kStateSize = 24;
// struct klp_patch
inline constexpr uint64_t kPatchMod = 0, kPatchObjs = 8, kPatchStates = 16, kPatchReplace = 24,
                          kPatchEnabled = 25, kPatchForced = 26, kPatchSize = 32;
// struct module
inline constexpr uint64_t kModState = 0, kModName = 8, kModNameLen = 56, kModInit = 64,
                          kModExit = 72, kModSize = 80;
// enum module_state
enum class ModuleState : uint32_t { Live = 0, Coming = 1, Going = 2, Unformed = 3 };
// struct kernel_param (module_param records in section __param)
inline constexpr uint64_t kParamName = 0, kParamArg = 8, kParamType = 16, kParamSize = 20,
                          kParamRecordSize = 24;
// kernel_param type values; struct kparam_array (module_param_array's record, type 2)
inline constexpr uint32_t kParamTypeScalar = 0, kParamTypeCharp = 1, kParamTypeArray = 2;
inline constexpr uint64_t kArrMax = 0, kArrElemSize = 4, kArrNum = 8, kArrElem = 16;
// struct task_struct (asm/current.h) and struct kobject, struct attribute, struct kobj_attribute
inline constexpr uint64_t kTaskPid = 0, kTaskTgid = 4, kTaskComm = 8, kTaskCommLen = 16,
                          kTaskSize = 24;
inline constexpr uint64_t kKobjName = 0, kKobjParent = 8, kKobjSize = 16;
inline constexpr uint64_t kAttrName = 0, kKobjAttrShow = 16;

} // namespace klpemu::patcher::klp_layout
