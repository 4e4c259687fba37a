// The front door of klpemu's livepatch engine: kernel/livepatch/{core,patch,transition,shadow,
// state}.c on arm64 (reference livepatch/transition.md, arm64.md), driven by guest modules
// written against the kernel API (patcher/livepatch/include/linux/livepatch.h).
//
//   klp_enable_patch(&patch)  reads struct klp_patch/klp_object/klp_func from guest memory,
//                             resolves old functions by name (and sympos) in their object,
//                             registers one IPMODIFY ftrace ops per old function *by address*
//                             (a func stack per address), runs the transition
//   klp_ftrace_handler        top of the func stack; during a transition the calling task's
//                             patch_state picks it or the previous one; NOP funcs leave the PC;
//                             otherwise fregs->pc = new_func (the trampoline's `ret x9` goes there)
//   the transition            init / start (TIF_PATCH_PENDING) / try-complete with
//                             klp_try_switch_task asking TaskStacks for a reliable trace /
//                             retry every simulated second / signals / reverse / force /
//                             complete, switch at return to user and for idle tasks
//   sysfs, shadow variables, klp_state, callbacks, atomic replace, klp_module_coming/going
//
// Every log line is the kernel's (pr_fmt "livepatch: "), the pr_debug ones included, as the
// selftests' dynamic-debug setting shows them (klp_try_switch_task's own lines off unless
// set_switch_debug).
//
// Checks (docs/findings.md), judged from the ground truth TaskStacks::true_stack gives:
// consistency-violation, premature-switch, unsafe-force, unsound-reliable-trace.
#pragma once

#include "emu/finding.h"
#include "emu/guest_addr.h"
#include "emu/machine.h"
#include "emu/observer.h"
#include "emu/result.h"
#include "emu/stack_walk.h"
#include "patcher/ftrace.h"
#include "patcher/livepatch/guest_proc.h"
#include "patcher/livepatch/sysfs_tree.h"

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace klpemu::patcher {
class Modules;
}

namespace klpemu::patcher::livepatch {

class LivepatchDebugView;

namespace hc {
inline constexpr uint16_t kStart = 0x110;  // klp_api: x9 = op, x0..x7 = arguments
inline constexpr uint16_t kResume = 0x111; // klp_api: x0 = the guest callback's result
} // namespace hc

// What the consistency model asks about task stacks; the scenario layer answers with the
// unwinder (its policy) and the ground-truth shadow stack (patcher never includes unwinder).
class TaskStacks {
  public:
    virtual ~TaskStacks() = default;
    // stack_trace_save_tsk_reliable(task) with the scenario's unwinder policy.
    virtual emu::StackWalkResult save_task_reliable(int task) = 0;
    // The truth: [pc, innermost return address, ..., outermost]; nullopt if not known.
    virtual std::optional<std::vector<GuestAddr>> true_stack(int task) = 0;
    virtual std::string policy() const = 0;
};

struct LivepatchOptions {
    // The time mapping: one simulated second (HZ jiffies) is this many instructions of the
    // global clock. The retry of klp_transition_work_fn and msleep() use it.
    uint64_t instructions_per_second = 100'000;
    // klp_have_reliable_stack(): CONFIG_HAVE_RELIABLE_STACKTRACE (arm64 since v6.17).
    bool reliable_stacktrace = true;
};

// Operations the shell runs on a kthread through klp_host_op(op, a, b) (they may call back
// into the guest): writes to sysfs files, the delayed transition work, module notifiers.
enum class HostOp : uint64_t {
    WriteEnabled = 1,   // a = patch index (stack_order - 1), b = value
    WriteForce = 2,     // a = patch index, b = value
    TransitionWork = 3, // klp_transition_work_fn
    ModuleComing = 4,   // a = module index (module_name(a))
    ModuleGoing = 5,    // a = module index
};

class Livepatch final : public emu::ExecutionObserver {
  public:
    // Loads the guest support code, registers the host calls and observes `machine`.
    // Contract: machine and ftrace outlive the engine; `stacks` may be set later.
    static Result<std::unique_ptr<Livepatch>> create(emu::Machine& machine, Ftrace& ftrace,
                                                     LivepatchOptions options = {});
    ~Livepatch() override;
    Livepatch(const Livepatch&) = delete;
    Livepatch& operator=(const Livepatch&) = delete;

    void set_task_stacks(TaskStacks* stacks) { m_stacks = stacks; }
    // Objects whose symbols make up "vmlinux" for klp_find_object_symbol.
    void add_kernel_object(std::string name) { m_kernel_objects.push_back(std::move(name)); }
    // The loaded modules, for livepatch modules' `.klp.rela.*` sections (klp_relocations.h).
    void set_modules(Modules* modules) { m_module_loader = modules; }
    // load_module's apply_relocations for livepatch sections: writes the `.klp.rela.vmlinux.*`
    // relocations of the just-placed `module`. 0 or a negative errno (the load fails).
    int64_t apply_load_relocations(std::string_view module);

    // --- the shell's view ---
    // The guest entry of klp_host_op(op, a, b).
    GuestAddr host_op_entry() const { return m_host_op; }
    // The index a module name has in HostOp::ModuleComing/Going arguments.
    uint64_t module_index(std::string_view module);
    // Patch index (klp_patches order) of a patch by module name.
    std::optional<uint64_t> patch_index(std::string_view name) const;
    // cat /sys/kernel/livepatch/...: the file's text, or the errno (negative) of the read.
    Result<std::string> read_sysfs(std::string_view path) const;
    // sysctl kernel.ftrace_enabled=V: 0 or -EBUSY (refused while a livepatch is registered).
    int64_t set_ftrace_enabled(bool on);
    bool ftrace_enabled() const { return m_ftrace_enabled; }
    // Dynamic debug of klp_try_switch_task's pr_debug lines (off by default, as in the
    // selftests).
    void set_switch_debug(bool on) { m_debug_switch = on; }
    // Whether a patch named `name` is in transition / exists.
    bool in_transition(std::string_view name) const;
    // Whether `entries` (a stack trace) hold a function the transition in progress replaces,
    // in its direction (klp_check_stack_func's ranges); false outside a transition.
    bool holds_function_being_replaced(const std::vector<GuestAddr>& entries) const {
        return stack_holds_patched(entries, nullptr);
    }
    bool has_patch(std::string_view name) const;
    // The delayed work is due (clock past its deadline and no operation running).
    bool work_due() const;
    uint64_t next_work_at() const { return m_work_at; }
    // A livepatch module may not be removed while its patch is registered (module_put only
    // when the patch is freed, never after force).
    bool module_in_use(std::string_view module) const;
    // seq_file output collected since the previous call (`cat /proc/...`).
    std::string take_seq_output() { return std::exchange(m_seq_output, {}); }
    GuestAddr seq_file() const { return m_seq_file; }
    // A file a module created under /sys/kernel (kobject_create_and_add + sysfs_create_file),
    // and the page its show() writes into.
    std::optional<SysfsTree::File> sysfs_file(std::string_view path) const {
        return m_sysfs.find(path);
    }
    GuestAddr sysfs_page() const { return m_sysfs_page; }
    // Sets the state field of `module`'s __this_module, if it has one.
    void set_module_state(std::string_view module, uint32_t state);

    // Kernel log lines and the engine's findings, in the order they happened (with the clock),
    // since the previous call.
    struct LogLine {
        std::string text;
        uint64_t instruction = 0;
        std::optional<Finding> finding; // Set: this entry is a finding, not a log line.
    };
    std::vector<LogLine> take_log() { return std::exchange(m_log, {}); }

    // ExecutionObserver: consistency checks, switch at return to user, the work deadline.
    void on_instruction(const emu::InsnEvent& ev) override;
    void on_return_to_user(int cpu, int task) override;
    // klp_copy_process (copy_process.cpp).
    void on_task_created(int task, int parent) override;
    // __schedule's klp_sched_try_switch (v6.16+, sched_switch.cpp).
    void on_host_call(int cpu, int task, uint32_t number) override;

  private:
    friend class LivepatchDebugView; // The step debugger's page (debug_view.h) reads the model.
    struct Func;
    struct Object;
    struct Patch;
    struct Ops;
    struct RunningOp {
        GuestProc proc;
        GuestCallSlot slot;
        int task = -1;
    };

    Livepatch(emu::Machine& machine, Ftrace& ftrace, LivepatchOptions options);
    Result<void> install();

    // Host calls and the operation driver.
    void on_start(emu::HostCallContext& ctx);
    void on_resume(emu::HostCallContext& ctx);
    void drive(emu::HostCallContext& ctx);
    GuestCall call_guest(GuestAddr fn, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0);
    // Immediate (non-suspending) API operations; nullopt: the operation is a procedure.
    std::optional<uint64_t> immediate_op(uint64_t op, emu::HostCallContext& ctx);
    GuestProc procedure(uint64_t op, emu::HostCallContext& ctx);

    // core.c
    GuestProc enable_patch(GuestAddr patch);
    Result<std::unique_ptr<Patch>> read_patch(GuestAddr patch);
    int64_t init_object_loaded(Patch& patch, Object& obj);
    void add_nops(Patch& patch);
    bool is_patch_compatible(const Patch& patch) const;
    bool is_livepatch_module(std::string_view module) const;
    bool object_loaded(const Object& obj) const;
    GuestProc enabled_store(uint64_t index, uint64_t value);
    GuestProc force_store(uint64_t index, uint64_t value);
    GuestProc disable_patch(Patch& patch);
    GuestProc module_coming(std::string module);
    GuestProc module_going(std::string module);
    void free_patch(Patch& patch);
    void write_back(const Patch& patch);
    // Callbacks (core.h).
    GuestProc pre_patch_callback(Object& obj);
    GuestProc post_patch_callback(Object& obj);
    GuestProc pre_unpatch_callback(Object& obj);
    GuestProc post_unpatch_callback(Object& obj);

    // patch.c
    int64_t patch_object(Object& obj);
    void unpatch_object(Object& obj);
    void unpatch_objects(Patch& patch, bool dynamic_only = false);
    int64_t patch_func(Func& func);
    void unpatch_func(Func& func);
    void ftrace_handler(GuestAddr old_func, FtraceCall& call);
    // The version klp_ftrace_handler would run for a task in `state` (null: the original).
    const Func* chosen_func(const Ops& ops, emu::PatchState state) const;

    // transition.c
    void init_transition(Patch& patch, emu::PatchState target);
    void start_transition();
    GuestProc try_complete_transition();
    GuestProc complete_transition();
    GuestProc cancel_transition();
    void reverse_transition();
    void force_transition();
    bool try_switch_task(emu::Task& task);
    int check_stack(emu::Task& task, std::string& old_name);
    bool stack_holds_patched(const std::vector<GuestAddr>& entries, std::string* old_name) const;
    void update_patch_state(emu::Task& task);
    void send_signals();
    std::vector<emu::Task*> all_tasks();

    // shadow.c, state.c
    uint64_t shadow_get(uint64_t obj, uint64_t id) const;
    GuestProc shadow_get_or_alloc(uint64_t obj, uint64_t id, uint64_t size, uint64_t ctor,
                                  uint64_t ctor_data, bool warn_on_exist);
    GuestProc shadow_free(uint64_t obj, uint64_t id, uint64_t dtor, bool all);
    uint64_t get_state(uint64_t patch, uint64_t id) const;
    uint64_t get_prev_state(uint64_t id) const;
    // get_current(): the calling task's struct task_struct (made at its first call).
    uint64_t task_struct_of(const emu::Task& task);
    // kobject_create_and_add, kobject_put, sysfs_create_file.
    uint64_t kobject_create(uint64_t name, uint64_t parent);
    void kobject_put(uint64_t kobj);
    int64_t sysfs_create_file(uint64_t kobj, uint64_t attr);

    // Guest memory and log helpers.
    uint64_t alloc(uint64_t size);
    void free_mem(uint64_t addr);
    void klp_log(std::string text); // The kernel log (dmesg).
    void pr(std::string_view level, std::string text);
    std::string patch_name(const Patch& patch) const;
    void finding(std::string kind, Severity severity, const emu::Task& task, GuestAddr pc,
                 std::string message);
    std::string symbolize_list(const std::vector<GuestAddr>& entries) const;
    Patch* find_patch(std::string_view name) const;

    emu::Machine& m_machine;
    Ftrace& m_ftrace;
    LivepatchOptions m_options;
    TaskStacks* m_stacks = nullptr;
    std::vector<std::string> m_kernel_objects;
    Modules* m_module_loader = nullptr;
    GuestAddr m_host_op, m_seq_file, m_heap_next, m_heap_end, m_sysfs_page;
    SysfsTree m_sysfs;
    std::map<int, uint64_t> m_task_structs;     // get_current(): task id -> struct task_struct
    std::map<uint64_t, uint64_t> m_heap_blocks; // address -> size
    std::vector<uint64_t> m_heap_free;

    std::deque<RunningOp> m_running;                 // The operation stack (klp_api nesting).
    std::vector<std::unique_ptr<Patch>> m_patches;   // klp_patches, in stack order.
    std::map<GuestAddr, std::unique_ptr<Ops>> m_ops; // klp_ops, by old function address.
    // The code on_instruction's consistency check looks at, sorted and merged: each patched
    // function and every replacement on its func_stack. Made again whenever m_ops changes
    // (patch_func, unpatch_func); any other pc leaves at once.
    std::vector<GuestRange> m_ops_code;
    void collect_ops_code();
    bool in_ops_code(GuestAddr pc) const;
    std::vector<std::string> m_modules;              // module_index() names.
    std::set<std::string> m_live_modules;   // klp_alive modules (between coming and going).
    std::set<std::string> m_forced_modules; // Freed forced patches: their modules stay.

    Patch* m_transition_patch = nullptr;
    emu::PatchState m_target = emu::PatchState::Idle;
    uint64_t m_signals_cnt = 0;
    uint64_t m_work_at = UINT64_MAX; // schedule_delayed_work deadline (global clock).
    bool m_ftrace_enabled = true;
    bool m_debug_switch = false;
    int m_current_task = -1;
    // The parent of tasks klpemu's host creates (kthreadd, the shell): copy_process.cpp.
    struct ForkParent {
        emu::PatchState patch_state = emu::PatchState::Idle;
        bool tif_patch_pending = false;
    };
    ForkParent m_fork_parent;
    // klp_sched_try_switch_key (sched_switch.cpp). A task's __state and TIF_NOTIFY_SIGNAL are
    // the machine's (emu::Task::sleep_state, tif_notify_signal): its schedule() acts on them.
    bool m_sched_try_switch_key = false;

    struct Shadow {
        uint64_t obj = 0, id = 0, data = 0;
    };
    std::vector<Shadow> m_shadows;
    std::vector<LogLine> m_log;
    std::string m_seq_output;
    std::set<std::pair<int, GuestAddr>> m_violations; // consistency-violation: once per task/func.

    // The step debugger's view: a counter and the text of the latest transition step (a try
    // to switch a task, a switch, start, reverse, force, completion), and the registered view.
    void transition_event(std::string what);
    uint64_t m_transition_events = 0;
    std::string m_last_transition_event;
    std::vector<std::string> m_try_round; // One klp_try_complete_transition's tries, in order.
    bool m_in_try_round = false;
    std::unique_ptr<LivepatchDebugView> m_debug_view;
};

} // namespace klpemu::patcher::livepatch
