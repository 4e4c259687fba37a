// The engine's core: guest support, the klp_api driver, klp_enable_patch (core.c), sysfs,
// patch.c (one IPMODIFY ftrace ops per old function address, klp_ftrace_handler), the
// callbacks (core.h), module notifiers, shadow variables (shadow.c) and klp_state (state.c).
// The transition (transition.c) and the checks are in transition.cpp.
#include "patcher/livepatch/livepatch.h"

#include "patcher/livepatch/debug_view.h"
#include "patcher/livepatch/guest_format.h"
#include "patcher/livepatch/klp_layout.h"
#include "patcher/livepatch/klp_relocations.h"
#include "patcher/livepatch/model.h"
#include "patcher/modules.h"

#include <fmt/format.h>

#include <algorithm>

namespace klpemu::patcher {
std::string_view embedded_guest_source(std::string_view file_name);
}

namespace klpemu::patcher::livepatch {

namespace L = klp_layout;

namespace {

constexpr int64_t kEINVAL = 22, kEBUSY = 16, kENODEV = 19, kENOMEM = 12, kENOENT = 2;

// The API operations of guest/klp_support.S (x9).
enum ApiOp : uint64_t {
    kOpEnablePatch = 1,
    kOpHostOp = 2,
    kOpPrintk = 3,
    kOpSeqPrintf = 4,
    kOpSeqPuts = 5,
    kOpSeqPutc = 6,
    kOpKzalloc = 7,
    kOpKmalloc = 8,
    kOpKfree = 9,
    kOpShadowGet = 10,
    kOpShadowAlloc = 11,
    kOpShadowGetOrAlloc = 12,
    kOpShadowFree = 13,
    kOpShadowFreeAll = 14,
    kOpGetState = 15,
    kOpGetPrevState = 16,
    kOpWarn = 17,
    kOpGetCurrent = 40,
    kOpKobjectCreate = 41,
    kOpKobjectPut = 42,
    kOpSysfsCreateFile = 43,
    kOpSprintf = 44, // sprintf, sysfs_emit
    kOpSetTaskState = 45,
    kOpSignalPending = 46,
};

} // namespace

Livepatch::Livepatch(emu::Machine& machine, Ftrace& ftrace, LivepatchOptions options)
    : m_machine(machine), m_ftrace(ftrace), m_options(options) {}

Livepatch::~Livepatch() {
    m_machine.remove_observer(this);
    m_machine.remove_debug_view(m_debug_view.get());
}

Result<std::unique_ptr<Livepatch>> Livepatch::create(emu::Machine& machine, Ftrace& ftrace,
                                                     LivepatchOptions options) {
    std::unique_ptr<Livepatch> lp(new Livepatch(machine, ftrace, options));
    KLP_TRY(lp->install());
    lp->m_debug_view = std::make_unique<LivepatchDebugView>(*lp);
    machine.add_debug_view(lp->m_debug_view.get());
    return lp;
}

Result<void> Livepatch::install() {
    const std::string_view source = embedded_guest_source("klp_support.S");
    if (source.empty()) {
        return make_error("livepatch: klp_support.S is not embedded");
    }
    auto loaded = m_machine.load_assembly(source, "klp_support.S");
    if (!loaded) {
        return make_error("livepatch: loading klp_support.S: {}", loaded.error().message);
    }
    auto need = [&](std::string_view name, GuestAddr& out) -> Result<void> {
        auto a = m_machine.symbol(name);
        if (!a) {
            return a.error();
        }
        out = *a;
        return {};
    };
    KLP_TRY(need("klp_host_op", m_host_op));
    KLP_TRY(need("klp_seq_file", m_seq_file));
    KLP_TRY(need("klp_heap", m_heap_next));
    KLP_TRY(need("klp_heap_end", m_heap_end));
    KLP_TRY(need("klp_sysfs_page", m_sysfs_page));
    m_machine.register_host_call(hc::kStart, [this](emu::HostCallContext& c) { on_start(c); });
    m_machine.register_host_call(hc::kResume, [this](emu::HostCallContext& c) { on_resume(c); });
    m_machine.add_observer(this);
    return {};
}

// ---- the klp_api driver ------------------------------------------------------------------------

GuestCall Livepatch::call_guest(GuestAddr fn, uint64_t a0, uint64_t a1, uint64_t a2) {
    KLP_CHECK(!m_running.empty(), "livepatch: a guest call outside any operation");
    return GuestCall{m_running.back().slot, GuestCallRequest{fn, a0, a1, a2}};
}

void Livepatch::on_start(emu::HostCallContext& ctx) {
    const uint64_t op = ctx.arg(9);
    if (auto value = immediate_op(op, ctx)) {
        ctx.set_reg(0, 0);
        ctx.set_reg(4, *value);
        return;
    }
    const int previous = m_current_task;
    m_current_task = ctx.task().id;
    m_running.push_back(RunningOp{procedure(op, ctx), {}, ctx.task().id});
    m_running.back().proc.start();
    m_current_task = previous;
    drive(ctx);
}

void Livepatch::on_resume(emu::HostCallContext& ctx) {
    KLP_CHECK(!m_running.empty(), "livepatch: klp_api resumed with no operation");
    RunningOp& top = m_running.back();
    top.slot.result = ctx.arg(0);
    auto h = std::exchange(top.slot.waiting, {});
    top.slot.request.reset();
    const int previous = m_current_task;
    m_current_task = ctx.task().id;
    h.resume();
    m_current_task = previous;
    drive(ctx);
}

// Answers the guest's klp_api loop: the next guest call of the top operation, or its result.
void Livepatch::drive(emu::HostCallContext& ctx) {
    RunningOp& top = m_running.back();
    if (top.slot.request) {
        const GuestCallRequest& r = *top.slot.request;
        ctx.set_reg(0, r.fn.value);
        ctx.set_reg(1, r.a0);
        ctx.set_reg(2, r.a1);
        ctx.set_reg(3, r.a2);
        return;
    }
    KLP_CHECK(top.proc.done(), "livepatch: an operation suspended without a guest call");
    const uint64_t value = uint64_t(top.proc.value());
    m_running.pop_back();
    ctx.set_reg(0, 0);
    ctx.set_reg(4, value);
}

std::optional<uint64_t> Livepatch::immediate_op(uint64_t op, emu::HostCallContext& ctx) {
    const emu::GuestMemory& mem = m_machine.memory();
    switch (op) {
    case kOpPrintk:
    case kOpSeqPrintf:
    case kOpSprintf: {
        // Variadic: registers after the format, then the stack above klp_api's frame.
        const int first = op == kOpPrintk ? 1 : 2;
        int reg = first;
        uint64_t stack = m_machine.read_x(ctx.cpu(), 31) + 16;
        auto next = [&]() -> uint64_t {
            if (reg <= 7) {
                return ctx.arg(reg++);
            }
            const uint64_t v = mem.load<uint64_t>(GuestAddr(stack));
            stack += 8;
            return v;
        };
        const std::string format = read_guest_string(mem, GuestAddr(ctx.arg(first - 1)));
        std::string text = format_guest(mem, m_machine.symbols(), format, next);
        if (op == kOpSeqPrintf) {
            m_seq_output += text;
            return 0;
        }
        if (op == kOpSprintf) {
            text.push_back('\0');
            (void)m_machine.memory().write(GuestAddr(ctx.arg(0)), text.data(), text.size());
            return uint64_t(text.size() - 1);
        }
        std::string level = "4"; // default_message_loglevel
        if (text.size() >= 2 && text[0] == '\001') {
            level = text.substr(1, 1);
            text.erase(0, 2);
        }
        if (level == "7") {
            return uint64_t(text.size()); // KERN_DEBUG: dynamic debug is off for modules.
        }
        while (!text.empty() && text.back() == '\n') {
            text.pop_back();
        }
        klp_log(text);
        return uint64_t(text.size());
    }
    case kOpSeqPuts:
        m_seq_output += read_guest_string(mem, GuestAddr(ctx.arg(1)));
        return 0;
    case kOpSeqPutc:
        m_seq_output.push_back(char(ctx.arg(1)));
        return 0;
    case kOpKzalloc:
    case kOpKmalloc:
        return alloc(ctx.arg(0));
    case kOpKfree:
        free_mem(ctx.arg(0));
        return 0;
    case kOpShadowGet:
        return shadow_get(ctx.arg(0), ctx.arg(1));
    case kOpGetState:
        return get_state(ctx.arg(0), ctx.arg(1));
    case kOpGetPrevState:
        return get_prev_state(ctx.arg(0));
    case kOpGetCurrent:
        return task_struct_of(ctx.task());
    case kOpSetTaskState:
        ctx.task().sleep_state = uint32_t(ctx.arg(0));
        return 0;
    case kOpSignalPending:
        return ctx.task().tif_notify_signal ? 1 : 0;
    case kOpKobjectCreate:
        return kobject_create(ctx.arg(0), ctx.arg(1));
    case kOpKobjectPut:
        kobject_put(ctx.arg(0));
        return 0;
    case kOpSysfsCreateFile:
        return uint64_t(sysfs_create_file(ctx.arg(0), ctx.arg(1)));
    case kOpWarn:
        klp_log(fmt::format("WARNING: CPU: {} PID: {} at {}:{}", ctx.cpu(), ctx.task().id,
                            read_guest_string(mem, GuestAddr(ctx.arg(0))), ctx.arg(1)));
        return 0;
    default:
        return std::nullopt;
    }
}

GuestProc Livepatch::procedure(uint64_t op, emu::HostCallContext& ctx) {
    switch (op) {
    case kOpEnablePatch:
        return enable_patch(GuestAddr(ctx.arg(0)));
    case kOpShadowAlloc:
        return shadow_get_or_alloc(ctx.arg(0), ctx.arg(1), ctx.arg(2), ctx.arg(4), ctx.arg(5),
                                   true);
    case kOpShadowGetOrAlloc:
        return shadow_get_or_alloc(ctx.arg(0), ctx.arg(1), ctx.arg(2), ctx.arg(4), ctx.arg(5),
                                   false);
    case kOpShadowFree:
        return shadow_free(ctx.arg(0), ctx.arg(1), ctx.arg(2), false);
    case kOpShadowFreeAll:
        return shadow_free(0, ctx.arg(0), ctx.arg(1), true);
    case kOpHostOp:
        switch (HostOp(ctx.arg(0))) {
        case HostOp::WriteEnabled:
            return enabled_store(ctx.arg(1), ctx.arg(2));
        case HostOp::WriteForce:
            return force_store(ctx.arg(1), ctx.arg(2));
        case HostOp::TransitionWork:
            return try_complete_transition();
        case HostOp::ModuleComing:
            return module_coming(m_modules.at(size_t(ctx.arg(1))));
        case HostOp::ModuleGoing:
            return module_going(m_modules.at(size_t(ctx.arg(1))));
        }
        break;
    default:
        break;
    }
    KLP_CHECK(false, "livepatch: unknown klp_api operation {}", op);
    return {};
}

// ---- logging, memory ---------------------------------------------------------------------------

void Livepatch::klp_log(std::string text) {
    m_log.push_back(LogLine{std::move(text), m_machine.instructions(), std::nullopt});
}

void Livepatch::pr(std::string_view /*level*/, std::string text) {
    while (!text.empty() && text.back() == '\n') {
        text.pop_back();
    }
    klp_log("livepatch: " + text);
}

std::string Livepatch::patch_name(const Patch& patch) const {
    return patch.mod_name;
}

uint64_t Livepatch::alloc(uint64_t size) {
    size = (std::max<uint64_t>(size, 1) + 15) & ~uint64_t(15);
    for (auto it = m_heap_free.begin(); it != m_heap_free.end(); ++it) {
        if (m_heap_blocks[*it] >= size) {
            const uint64_t a = *it;
            m_heap_free.erase(it);
            std::vector<uint8_t> zero(m_heap_blocks[a], 0);
            (void)m_machine.memory().write(GuestAddr(a), zero.data(), zero.size());
            return a;
        }
    }
    if (m_heap_next + int64_t(size) > m_heap_end) {
        return 0;
    }
    const uint64_t a = m_heap_next.value;
    m_heap_next = m_heap_next + int64_t(size);
    m_heap_blocks[a] = size;
    return a; // .bss: zero already.
}

void Livepatch::free_mem(uint64_t addr) {
    if (addr != 0 && m_heap_blocks.contains(addr)) {
        m_heap_free.push_back(addr);
    }
}

// ---- reading a patch (klp_init_patch_early / klp_init_patch) -----------------------------------

Result<std::unique_ptr<Livepatch::Patch>> Livepatch::read_patch(GuestAddr gp) {
    const emu::GuestMemory& mem = m_machine.memory();
    if (gp.value == 0 || !mem.is_mapped(gp, L::kPatchSize)) {
        return make_error("klp_enable_patch: bad patch pointer");
    }
    auto patch = std::make_unique<Patch>();
    patch->guest = gp;
    const GuestAddr mod(mem.load<uint64_t>(gp + int64_t(L::kPatchMod)));
    const GuestAddr objs(mem.load<uint64_t>(gp + int64_t(L::kPatchObjs)));
    if (mod.value == 0 || objs.value == 0) {
        return make_error("klp_enable_patch: patch without mod or objs");
    }
    patch->mod_name = read_guest_string(mem, mod + int64_t(L::kModName), L::kModNameLen);
    patch->replace = mem.load<uint8_t>(gp + int64_t(L::kPatchReplace)) != 0;
    if (const GuestAddr states(mem.load<uint64_t>(gp + int64_t(L::kPatchStates)));
        states.value != 0) {
        for (GuestAddr s = states;; s = s + int64_t(L::kStateSize)) {
            const uint64_t id = mem.load<uint64_t>(s + int64_t(L::kStateId));
            if (id == 0) {
                break;
            }
            patch->states.push_back(
                Patch::State{s, id, mem.load<uint32_t>(s + int64_t(L::kStateVersion))});
        }
    }
    for (GuestAddr o = objs;; o = o + int64_t(L::kObjSize)) {
        const uint64_t name = mem.load<uint64_t>(o + int64_t(L::kObjName));
        const GuestAddr funcs(mem.load<uint64_t>(o + int64_t(L::kObjFuncs)));
        if (name == 0 && funcs.value == 0) {
            break;
        }
        if (funcs.value == 0) {
            return make_error("klp_enable_patch: object without funcs");
        }
        auto obj = std::make_unique<Object>();
        obj->guest = o;
        obj->name = name ? read_guest_string(mem, GuestAddr(name)) : "";
        const GuestAddr cb = o + int64_t(L::kObjCallbacks);
        obj->pre_patch = GuestAddr(mem.load<uint64_t>(cb + int64_t(L::kCbPrePatch)));
        obj->post_patch = GuestAddr(mem.load<uint64_t>(cb + int64_t(L::kCbPostPatch)));
        obj->pre_unpatch = GuestAddr(mem.load<uint64_t>(cb + int64_t(L::kCbPreUnpatch)));
        obj->post_unpatch = GuestAddr(mem.load<uint64_t>(cb + int64_t(L::kCbPostUnpatch)));
        for (GuestAddr f = funcs;; f = f + int64_t(L::kFuncSize)) {
            const uint64_t old_name = mem.load<uint64_t>(f + int64_t(L::kFuncOldName));
            const uint64_t new_func = mem.load<uint64_t>(f + int64_t(L::kFuncNewFunc));
            const uint64_t sympos = mem.load<uint64_t>(f + int64_t(L::kFuncOldSympos));
            if (old_name == 0 && new_func == 0 && sympos == 0) {
                break;
            }
            if (old_name == 0) {
                return make_error("klp_enable_patch: func without old_name");
            }
            auto func = std::make_unique<Func>();
            func->guest = f;
            func->old_name = read_guest_string(mem, GuestAddr(old_name));
            func->new_func = GuestAddr(new_func);
            func->old_sympos = sympos;
            obj->funcs.push_back(std::move(func));
        }
        patch->objs.push_back(std::move(obj));
    }
    return patch;
}

int64_t Livepatch::apply_load_relocations(std::string_view module) {
    const Module* pmod = m_module_loader ? m_module_loader->find(module) : nullptr;
    if (pmod == nullptr) {
        return 0;
    }
    const KlpRelocContext ctx{m_machine, m_module_loader,
                              KlpSymbolScope{m_machine.symbols(), m_kernel_objects},
                              [this](std::string line) { klp_log(std::move(line)); }};
    return klp_apply_section_relocs(ctx, *pmod, "vmlinux");
}

bool Livepatch::object_loaded(const Object& obj) const {
    return obj.name.empty() || m_live_modules.contains(obj.name);
}

// klp_init_object_loaded: a module object's `.klp.rela.<module>.*` relocations, then
// klp_find_object_symbol + kallsyms_lookup_size_offset for every func.
int64_t Livepatch::init_object_loaded(Patch& patch, Object& obj) {
    const SymbolTable& symbols = m_machine.symbols();
    const KlpSymbolScope scope{symbols, m_kernel_objects};
    if (!obj.name.empty() && m_module_loader != nullptr) {
        if (const Module* pmod = m_module_loader->find(patch.mod_name)) {
            const KlpRelocContext ctx{m_machine, m_module_loader, scope,
                                      [this](std::string line) { klp_log(std::move(line)); }};
            if (const int64_t r = klp_apply_section_relocs(ctx, *pmod, obj.name); r != 0) {
                return r;
            }
        }
    }
    for (auto& fp : obj.funcs) {
        Func& func = *fp;
        auto sym = klp_find_object_symbol(scope, obj.name, func.old_name, func.old_sympos);
        if (!sym) {
            pr("err", sym.error().message);
            return -kEINVAL;
        }
        func.old_func = sym->addr;
        func.old_size = sym->size;
        if (func.nop) {
            func.new_func = func.old_func;
        }
        const auto new_sym = symbols.function_at(func.new_func);
        if (!new_sym) {
            pr("err",
               fmt::format("kallsyms size lookup failed for '{}' replacement\n", func.old_name));
            return -kEINVAL;
        }
        func.new_size = new_sym->size;
    }
    return 0;
}

// klp_add_nops: every func of an older patch that the new (replace) patch does not carry
// becomes a NOP func of a (possibly dynamic) object of the new patch.
void Livepatch::add_nops(Patch& patch) {
    for (auto& old_patch : m_patches) {
        for (auto& old_obj : old_patch->objs) {
            Object* obj = nullptr;
            for (auto& o : patch.objs) {
                if (o->name == old_obj->name) {
                    obj = o.get();
                }
            }
            if (!obj) {
                auto dyn = std::make_unique<Object>();
                dyn->name = old_obj->name;
                dyn->dynamic = true;
                obj = dyn.get();
                patch.objs.push_back(std::move(dyn));
            }
            for (auto& old_func : old_obj->funcs) {
                const bool present = std::any_of(obj->funcs.begin(), obj->funcs.end(),
                                                 [&](const std::unique_ptr<Func>& f) {
                                                     return f->old_name == old_func->old_name &&
                                                            f->old_sympos == old_func->old_sympos;
                                                 });
                if (present) {
                    continue;
                }
                auto nop = std::make_unique<Func>();
                nop->old_name = old_func->old_name;
                nop->old_sympos = old_func->old_sympos;
                nop->nop = true;
                obj->funcs.push_back(std::move(nop));
            }
        }
    }
}

// klp_is_patch_compatible (state.c).
bool Livepatch::is_patch_compatible(const Patch& patch) const {
    for (const auto& old : m_patches) {
        for (const auto& old_state : old->states) {
            const auto it =
                std::find_if(patch.states.begin(), patch.states.end(),
                             [&](const Patch::State& s) { return s.id == old_state.id; });
            const bool ok =
                it == patch.states.end() ? !patch.replace : it->version >= old_state.version;
            if (!ok) {
                return false;
            }
        }
    }
    return true;
}

// Writes back the fields the kernel keeps in the module's structs.
void Livepatch::write_back(const Patch& patch) {
    emu::GuestMemory& mem = m_machine.memory();
    mem.store<uint8_t>(patch.guest + int64_t(L::kPatchEnabled), patch.enabled ? 1 : 0);
    mem.store<uint8_t>(patch.guest + int64_t(L::kPatchForced), patch.forced ? 1 : 0);
    for (const auto& obj : patch.objs) {
        if (obj->guest.value == 0) {
            continue;
        }
        mem.store<uint8_t>(obj->guest + int64_t(L::kObjPatched), obj->patched ? 1 : 0);
        uint64_t mod = 0;
        if (!obj->name.empty() && m_live_modules.contains(obj->name)) {
            if (auto s = m_machine.symbols().lookup_in(obj->name, "__this_module")) {
                mod = s->addr.value;
            }
        }
        mem.store<uint64_t>(obj->guest + int64_t(L::kObjMod), mod);
        mem.store<uint8_t>(obj->guest + int64_t(L::kObjCallbacks + L::kCbPostUnpatchEnabled),
                           obj->post_unpatch_enabled ? 1 : 0);
        for (const auto& func : obj->funcs) {
            if (func->guest.value == 0) {
                continue;
            }
            mem.store<uint64_t>(func->guest + int64_t(L::kFuncOldFunc), func->old_func.value);
            mem.store<uint64_t>(func->guest + int64_t(L::kFuncOldSize), func->old_size);
            mem.store<uint64_t>(func->guest + int64_t(L::kFuncNewSize), func->new_size);
            mem.store<uint8_t>(func->guest + int64_t(L::kFuncPatched), func->patched ? 1 : 0);
            mem.store<uint8_t>(func->guest + int64_t(L::kFuncTransition), func->transition ? 1 : 0);
        }
    }
}

// ---- klp_enable_patch / __klp_enable_patch -----------------------------------------------------

// is_livepatch_module(): mod->klp, set at load by check_modinfo_livepatch.
bool Livepatch::is_livepatch_module(std::string_view module) const {
    const Module* mod = m_module_loader ? m_module_loader->find(module) : nullptr;
    return mod && mod->klp;
}

GuestProc Livepatch::enable_patch(GuestAddr gp) {
    auto read = read_patch(gp);
    if (!read) {
        co_return -kEINVAL;
    }
    std::unique_ptr<Patch> owned = std::move(*read);
    Patch& patch = *owned;
    if (!is_livepatch_module(patch.mod_name)) {
        pr("err", fmt::format("module {} is not marked as a livepatch module\n", patch.mod_name));
        co_return -kEINVAL;
    }
    if (!m_options.reliable_stacktrace) {
        pr("warn", "This architecture doesn't have support for the livepatch consistency model.\n");
        pr("warn", "The livepatch transition may never complete.\n");
    }
    if (!is_patch_compatible(patch)) {
        pr("err", fmt::format("Livepatch patch ({}) is not compatible with the already "
                              "installed livepatches.\n",
                              patch.mod_name));
        co_return -kEINVAL;
    }
    if (patch.replace) {
        add_nops(patch);
    }
    for (auto& obj : patch.objs) {
        if (object_loaded(*obj)) {
            if (const int64_t r = init_object_loaded(patch, *obj); r != 0) {
                co_return r;
            }
        }
    }
    m_patches.push_back(std::move(owned));
    write_back(patch);
    auto drop = [&] {
        std::erase_if(m_patches,
                      [&](const std::unique_ptr<Patch>& p) { return p.get() == &patch; });
    };
    if (m_transition_patch) {
        drop();
        co_return -kEBUSY;
    }
    pr("notice", fmt::format("enabling patch '{}'\n", patch_name(patch)));
    init_transition(patch, emu::PatchState::Patched);
    int64_t ret = 0;
    for (auto& obj : patch.objs) {
        if (!object_loaded(*obj)) {
            continue;
        }
        ret = co_await pre_patch_callback(*obj);
        if (ret != 0) {
            pr("warn", fmt::format("pre-patch callback failed for object '{}'\n", obj->display()));
            break;
        }
        ret = patch_object(*obj);
        if (ret != 0) {
            pr("warn", fmt::format("failed to patch object '{}'\n", obj->display()));
            break;
        }
    }
    if (ret != 0) {
        pr("warn", fmt::format("failed to enable patch '{}'\n", patch_name(patch)));
        co_await cancel_transition();
        drop();
        co_return ret;
    }
    start_transition();
    patch.enabled = true;
    write_back(patch);
    co_await try_complete_transition();
    co_return 0;
}

// ---- sysfs -------------------------------------------------------------------------------------

Livepatch::Patch* Livepatch::find_patch(std::string_view name) const {
    for (const auto& p : m_patches) {
        if (p->mod_name == name) {
            return p.get();
        }
    }
    return nullptr;
}

std::optional<uint64_t> Livepatch::patch_index(std::string_view name) const {
    for (size_t i = 0; i < m_patches.size(); ++i) {
        if (m_patches[i]->mod_name == name) {
            return i;
        }
    }
    return std::nullopt;
}

bool Livepatch::has_patch(std::string_view name) const {
    return find_patch(name) != nullptr;
}

bool Livepatch::in_transition(std::string_view name) const {
    return m_transition_patch && m_transition_patch->mod_name == name;
}

bool Livepatch::module_in_use(std::string_view module) const {
    return find_patch(module) != nullptr || m_forced_modules.contains(std::string(module));
}

Result<std::string> Livepatch::read_sysfs(std::string_view path) const {
    constexpr std::string_view root = "/sys/kernel/livepatch/";
    if (!path.starts_with(root)) {
        return make_error("No such file or directory");
    }
    std::vector<std::string> parts;
    std::string_view rest = path.substr(root.size());
    while (!rest.empty()) {
        const size_t slash = rest.find('/');
        parts.emplace_back(rest.substr(0, slash));
        rest = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
    }
    const Patch* patch = parts.empty() ? nullptr : find_patch(parts[0]);
    if (!patch) {
        return make_error("No such file or directory");
    }
    const auto index = *patch_index(parts[0]);
    if (parts.size() == 2) {
        const std::string& attr = parts[1];
        if (attr == "enabled") {
            return fmt::format("{}", patch->enabled ? 1 : 0);
        }
        if (attr == "transition") {
            return fmt::format("{}", patch == m_transition_patch ? 1 : 0);
        }
        if (attr == "replace") {
            return fmt::format("{}", patch->replace ? 1 : 0);
        }
        if (attr == "stack_order") {
            return fmt::format("{}", index + 1);
        }
        if (attr == "force") {
            return make_error("Permission denied");
        }
    }
    if (parts.size() == 3 && parts[2] == "patched") {
        for (const auto& obj : patch->objs) {
            if (!obj->dynamic && obj->display() == parts[1]) {
                return fmt::format("{}", obj->patched ? 1 : 0);
            }
        }
    }
    return make_error("No such file or directory");
}

int64_t Livepatch::set_ftrace_enabled(bool on) {
    if (!on && !m_ops.empty()) {
        return -kEBUSY; // FTRACE_OPS_FL_PERMANENT ops are registered.
    }
    m_ftrace_enabled = on;
    return 0;
}

uint64_t Livepatch::module_index(std::string_view module) {
    for (size_t i = 0; i < m_modules.size(); ++i) {
        if (m_modules[i] == module) {
            return i;
        }
    }
    m_modules.emplace_back(module);
    return m_modules.size() - 1;
}

void Livepatch::set_module_state(std::string_view module, uint32_t state) {
    if (auto s = m_machine.symbols().lookup_in(module, "__this_module")) {
        m_machine.memory().store<uint32_t>(s->addr + int64_t(L::kModState), state);
    }
}

// enabled_store.
GuestProc Livepatch::enabled_store(uint64_t index, uint64_t value) {
    if (index >= m_patches.size()) {
        co_return -kEINVAL;
    }
    Patch& patch = *m_patches[index];
    const bool enabled = value != 0;
    if (patch.enabled == enabled) {
        co_return -kEINVAL;
    }
    if (&patch == m_transition_patch) {
        reverse_transition();
    } else if (!enabled) {
        co_return co_await disable_patch(patch);
    } else {
        co_return -kEINVAL; // Do not allow to re-enable a disabled patch.
    }
    co_return 0;
}

// __klp_disable_patch.
GuestProc Livepatch::disable_patch(Patch& patch) {
    if (m_transition_patch) {
        co_return -kEBUSY;
    }
    init_transition(patch, emu::PatchState::Unpatched);
    for (auto& obj : patch.objs) {
        if (obj->patched) {
            co_await pre_unpatch_callback(*obj);
        }
    }
    start_transition();
    patch.enabled = false;
    write_back(patch);
    co_await try_complete_transition();
    co_return 0;
}

// force_store.
GuestProc Livepatch::force_store(uint64_t index, uint64_t value) {
    if (index >= m_patches.size()) {
        co_return -kEINVAL;
    }
    if (m_patches[index].get() != m_transition_patch) {
        co_return -kEINVAL;
    }
    if (value != 0) {
        force_transition();
    }
    co_return 0;
}

// klp_free_patch_*: the sysfs directory goes; the module may be removed (unless forced).
void Livepatch::free_patch(Patch& patch) {
    if (patch.forced) {
        m_forced_modules.insert(patch.mod_name); // Never module_put.
    }
    std::erase_if(m_patches, [&](const std::unique_ptr<Patch>& p) { return p.get() == &patch; });
}

// ---- callbacks (core.h) ------------------------------------------------------------------------

GuestProc Livepatch::pre_patch_callback(Object& obj) {
    int64_t ret = 0;
    if (obj.pre_patch.value != 0) {
        ret = int64_t(int32_t(uint32_t(co_await call_guest(obj.pre_patch, obj.guest.value))));
    }
    obj.post_unpatch_enabled = ret == 0;
    co_return ret;
}

GuestProc Livepatch::post_patch_callback(Object& obj) {
    if (obj.post_patch.value != 0) {
        co_await call_guest(obj.post_patch, obj.guest.value);
    }
    co_return 0;
}

GuestProc Livepatch::pre_unpatch_callback(Object& obj) {
    if (obj.pre_unpatch.value != 0) {
        co_await call_guest(obj.pre_unpatch, obj.guest.value);
    }
    co_return 0;
}

GuestProc Livepatch::post_unpatch_callback(Object& obj) {
    if (obj.post_unpatch_enabled && obj.post_unpatch.value != 0) {
        co_await call_guest(obj.post_unpatch, obj.guest.value);
    }
    obj.post_unpatch_enabled = false;
    co_return 0;
}

// ---- module notifiers (klp_module_coming / klp_module_going) -----------------------------------

GuestProc Livepatch::module_coming(std::string module) {
    m_live_modules.insert(module);
    for (size_t i = 0; i < m_patches.size(); ++i) {
        Patch& patch = *m_patches[i];
        for (auto& obj : patch.objs) {
            if (obj->name != module) {
                continue;
            }
            if (const int64_t r = init_object_loaded(patch, *obj); r != 0) {
                pr("warn", fmt::format("failed to initialize patch '{}' for module '{}' ({})\n",
                                       patch.mod_name, module, r));
                pr("warn", fmt::format("patch '{}' failed for module '{}', refusing to load "
                                       "module '{}'\n",
                                       patch.mod_name, module, module));
                m_live_modules.erase(module);
                co_return r;
            }
            write_back(patch);
            pr("notice",
               fmt::format("applying patch '{}' to loading module '{}'\n", patch.mod_name, module));
            if (const int64_t r = co_await pre_patch_callback(*obj); r != 0) {
                pr("warn",
                   fmt::format("pre-patch callback failed for object '{}'\n", obj->display()));
                pr("warn", fmt::format("patch '{}' failed for module '{}', refusing to load "
                                       "module '{}'\n",
                                       patch.mod_name, module, module));
                m_live_modules.erase(module);
                co_return r;
            }
            if (const int64_t r = patch_object(*obj); r != 0) {
                pr("warn", fmt::format("failed to apply patch '{}' to module '{}' ({})\n",
                                       patch.mod_name, module, r));
                co_await post_unpatch_callback(*obj);
                pr("warn", fmt::format("patch '{}' failed for module '{}', refusing to load "
                                       "module '{}'\n",
                                       patch.mod_name, module, module));
                m_live_modules.erase(module);
                co_return r;
            }
            if (&patch != m_transition_patch) {
                co_await post_patch_callback(*obj);
            }
            write_back(patch);
        }
    }
    co_return 0;
}

GuestProc Livepatch::module_going(std::string module) {
    for (size_t i = 0; i < m_patches.size(); ++i) {
        Patch& patch = *m_patches[i];
        for (auto& obj : patch.objs) {
            if (obj->name != module || !obj->patched) {
                continue;
            }
            if (&patch != m_transition_patch) {
                co_await pre_unpatch_callback(*obj);
            }
            pr("notice", fmt::format("reverting patch '{}' on unloading module '{}'\n",
                                     patch.mod_name, module));
            unpatch_object(*obj);
            co_await post_unpatch_callback(*obj);
            write_back(patch);
        }
    }
    m_live_modules.erase(module);
    co_return 0;
}

// ---- patch.c -----------------------------------------------------------------------------------

int64_t Livepatch::patch_object(Object& obj) {
    for (auto& func : obj.funcs) {
        if (const int64_t r = patch_func(*func); r != 0) {
            unpatch_object(obj);
            return r;
        }
    }
    obj.patched = true;
    return 0;
}

void Livepatch::unpatch_object(Object& obj) {
    for (auto& func : obj.funcs) {
        if (func->patched) {
            unpatch_func(*func);
        }
    }
    obj.patched = false;
}

void Livepatch::unpatch_objects(Patch& patch, bool dynamic_only) {
    for (auto& obj : patch.objs) {
        if (!obj->patched) {
            continue;
        }
        if (!dynamic_only) {
            unpatch_object(*obj);
            continue;
        }
        for (auto& func : obj->funcs) { // klp_unpatch_objects_dynamic: the NOPs only
            if (func->nop && func->patched) {
                unpatch_func(*func);
            }
        }
        if (obj->dynamic) {
            obj->patched = false;
        }
    }
    write_back(patch);
}

int64_t Livepatch::patch_func(Func& func) {
    if (func.old_func.value == 0 || func.patched) {
        return -kEINVAL;
    }
    auto it = m_ops.find(func.old_func);
    if (it == m_ops.end()) {
        auto ops = std::make_unique<Ops>();
        ops->old_func = func.old_func;
        if (!m_ftrace_enabled) {
            pr("err", fmt::format("failed to register ftrace handler for function '{}' ({})\n",
                                  func.old_name, -kEBUSY));
            return -kEBUSY;
        }
        FtraceOps fops;
        fops.name = fmt::format("livepatch:{}", func.old_name);
        fops.flags.set(FtraceOpsFlag::IpModify);
        // patch.c asks for SAVE_REGS unless the arch has DYNAMIC_FTRACE_WITH_ARGS: on the
        // pt_regs trampolines (5.5-6.1, the 2018/2019 series) the site goes to ftrace_regs_caller.
        if (saves_pt_regs(m_ftrace.layout().variant)) {
            fops.flags.set(FtraceOpsFlag::SaveRegs);
        }
        fops.filter_ips = {func.old_func}; // ftrace_set_filter_ip
        const GuestAddr old_func = func.old_func;
        fops.func = [this, old_func](FtraceCall& call) { ftrace_handler(old_func, call); };
        auto id = m_ftrace.register_ops(std::move(fops));
        if (!id) {
            if (id.error().code == kENODEV) {
                // ftrace_kill happened: ftrace_set_filter_ip is the first call to refuse.
                pr("err", fmt::format("failed to set ftrace filter for function '{}' ({})\n",
                                      func.old_name, -kENODEV));
                return -kENODEV;
            }
            if (id.error().code == kEBUSY) {
                pr("err", fmt::format("failed to register ftrace handler for function '{}' "
                                      "({})\n",
                                      func.old_name, -kEBUSY));
                return -kEBUSY;
            }
            pr("err", fmt::format("failed to find location for function '{}'\n", func.old_name));
            return -kEINVAL;
        }
        ops->ftrace_id = *id;
        ops->func_stack.push_back(&func);
        m_ops.emplace(func.old_func, std::move(ops));
    } else {
        it->second->func_stack.insert(it->second->func_stack.begin(), &func);
    }
    func.patched = true;
    collect_ops_code();
    return 0;
}

void Livepatch::unpatch_func(Func& func) {
    auto it = m_ops.find(func.old_func);
    KLP_CHECK(it != m_ops.end(), "livepatch: unpatch of {} without ops", func.old_name);
    Ops& ops = *it->second;
    std::erase(ops.func_stack, &func);
    if (ops.func_stack.empty()) {
        auto r = m_ftrace.unregister_ops(ops.ftrace_id);
        KLP_CHECK(r.ok(), "livepatch: unregistering the ops of {}: {}", func.old_name,
                  r.ok() ? "" : r.error().message);
        m_ops.erase(it);
    }
    func.patched = false;
    collect_ops_code();
}

void Livepatch::collect_ops_code() {
    m_ops_code.clear();
    for (const auto& [old_func, ops] : m_ops) {
        m_ops_code.push_back({old_func, old_func + int64_t(ops->func_stack.front()->old_size)});
        for (const Func* f : ops->func_stack) {
            m_ops_code.push_back({f->new_func, f->new_func + int64_t(f->new_size)});
        }
    }
    std::sort(m_ops_code.begin(), m_ops_code.end(),
              [](const GuestRange& a, const GuestRange& b) { return a.begin < b.begin; });
    std::vector<GuestRange> merged;
    for (const GuestRange& r : m_ops_code) {
        if (!merged.empty() && r.begin <= merged.back().end) {
            merged.back().end = std::max(merged.back().end, r.end);
        } else {
            merged.push_back(r);
        }
    }
    m_ops_code = std::move(merged);
}

bool Livepatch::in_ops_code(GuestAddr pc) const {
    // A handful of ranges (two per patched function): a scan that stops at the first range
    // starting above pc beats a binary search.
    for (const GuestRange& r : m_ops_code) {
        if (pc < r.begin) {
            return false;
        }
        if (pc < r.end) {
            return true;
        }
    }
    return false;
}

const Livepatch::Func* Livepatch::chosen_func(const Ops& ops, emu::PatchState state) const {
    if (ops.func_stack.empty()) {
        return nullptr;
    }
    const Func* func = ops.func_stack.front();
    if (func->transition && state == emu::PatchState::Unpatched) {
        if (ops.func_stack.size() < 2) {
            return nullptr; // No earlier patch: the original runs.
        }
        func = ops.func_stack[1];
    }
    return func->nop ? nullptr : func;
}

// klp_ftrace_handler.
void Livepatch::ftrace_handler(GuestAddr old_func, FtraceCall& call) {
    auto it = m_ops.find(old_func);
    if (it == m_ops.end()) {
        return;
    }
    const emu::Task& task = call.host.task();
    if (const Func* func = chosen_func(*it->second, task.patch_state)) {
        call.regs.set_pc(func->new_func);
    }
}

// ---- shadow.c ----------------------------------------------------------------------------------

uint64_t Livepatch::shadow_get(uint64_t obj, uint64_t id) const {
    for (const Shadow& s : m_shadows) {
        if (s.obj == obj && s.id == id) {
            return s.data;
        }
    }
    return 0;
}

GuestProc Livepatch::shadow_get_or_alloc(uint64_t obj, uint64_t id, uint64_t size, uint64_t ctor,
                                         uint64_t ctor_data, bool warn_on_exist) {
    if (const uint64_t existing = shadow_get(obj, id)) {
        if (warn_on_exist) {
            klp_log(fmt::format("Duplicate shadow variable <{:016x}, {:x}>", obj, id));
            co_return 0;
        }
        co_return int64_t(existing);
    }
    const uint64_t data = alloc(size);
    if (data == 0) {
        co_return 0;
    }
    if (ctor != 0) {
        const int32_t err =
            int32_t(uint32_t(co_await call_guest(GuestAddr(ctor), obj, data, ctor_data)));
        if (err != 0) {
            pr("err", fmt::format("Failed to construct shadow variable <{:016x}, {:x}> ({})\n", obj,
                                  id, err));
            free_mem(data);
            co_return 0;
        }
    }
    m_shadows.push_back(Shadow{obj, id, data});
    co_return int64_t(data);
}

GuestProc Livepatch::shadow_free(uint64_t obj, uint64_t id, uint64_t dtor, bool all) {
    for (size_t i = 0; i < m_shadows.size();) {
        const Shadow s = m_shadows[i];
        if (s.id != id || (!all && s.obj != obj)) {
            ++i;
            continue;
        }
        m_shadows.erase(m_shadows.begin() + int64_t(i));
        if (dtor != 0) {
            co_await call_guest(GuestAddr(dtor), s.obj, s.data);
        }
        free_mem(s.data);
        if (!all) {
            break;
        }
    }
    co_return 0;
}

// ---- state.c -----------------------------------------------------------------------------------

uint64_t Livepatch::get_state(uint64_t patch, uint64_t id) const {
    for (const auto& p : m_patches) {
        if (p->guest.value == patch) {
            for (const auto& s : p->states) {
                if (s.id == id) {
                    return s.guest.value;
                }
            }
            return 0;
        }
    }
    // Not registered yet (called before klp_enable_patch): read the guest list.
    const emu::GuestMemory& mem = m_machine.memory();
    const uint64_t states = mem.load<uint64_t>(GuestAddr(patch + L::kPatchStates));
    for (GuestAddr s(states); states != 0; s = s + int64_t(L::kStateSize)) {
        const uint64_t sid = mem.load<uint64_t>(s + int64_t(L::kStateId));
        if (sid == 0) {
            break;
        }
        if (sid == id) {
            return s.value;
        }
    }
    return 0;
}

uint64_t Livepatch::get_prev_state(uint64_t id) const {
    if (!m_transition_patch) {
        return 0;
    }
    uint64_t last = 0;
    for (const auto& p : m_patches) {
        if (p.get() == m_transition_patch) {
            break;
        }
        for (const auto& s : p->states) {
            if (s.id == id) {
                last = s.guest.value;
            }
        }
    }
    return last;
}

// ---- current, /sys/kernel -----------------------------------------------------------------------

uint64_t Livepatch::task_struct_of(const emu::Task& task) {
    if (auto it = m_task_structs.find(task.id); it != m_task_structs.end()) {
        return it->second;
    }
    const uint64_t ts = alloc(L::kTaskSize);
    if (ts == 0) {
        return 0;
    }
    emu::GuestMemory& mem = m_machine.memory();
    mem.store<uint32_t>(GuestAddr(ts + L::kTaskPid), uint32_t(task.id));
    mem.store<uint32_t>(GuestAddr(ts + L::kTaskTgid), uint32_t(task.id));
    const std::string comm = task.name.substr(0, L::kTaskCommLen - 1);
    (void)mem.write(GuestAddr(ts + L::kTaskComm), comm.data(), comm.size());
    m_task_structs.emplace(task.id, ts);
    return ts;
}

uint64_t Livepatch::kobject_create(uint64_t name, uint64_t parent) {
    const uint64_t kobj = alloc(L::kKobjSize);
    if (kobj == 0 || name == 0) {
        return 0;
    }
    emu::GuestMemory& mem = m_machine.memory();
    mem.store<uint64_t>(GuestAddr(kobj + L::kKobjName), name);
    mem.store<uint64_t>(GuestAddr(kobj + L::kKobjParent), parent);
    m_sysfs.add_dir(GuestAddr(kobj), read_guest_string(mem, GuestAddr(name)), GuestAddr(parent));
    return kobj;
}

void Livepatch::kobject_put(uint64_t kobj) {
    if (kobj != 0) {
        m_sysfs.remove_dir(GuestAddr(kobj));
        free_mem(kobj);
    }
}

int64_t Livepatch::sysfs_create_file(uint64_t kobj, uint64_t attr) {
    const emu::GuestMemory& mem = m_machine.memory();
    if (attr == 0) {
        return -kEINVAL;
    }
    const std::string name =
        read_guest_string(mem, GuestAddr(mem.load<uint64_t>(GuestAddr(attr + L::kAttrName))));
    const GuestAddr show(mem.load<uint64_t>(GuestAddr(attr + L::kKobjAttrShow)));
    if (!m_sysfs.add_file(GuestAddr(kobj), name,
                          SysfsTree::File{GuestAddr(kobj), GuestAddr(attr), show})) {
        return -kENOENT;
    }
    return 0;
}

} // namespace klpemu::patcher::livepatch
