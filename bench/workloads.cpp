// See workloads.h.
#include "workloads.h"

namespace klpemu::bench {

namespace {

// FENTRY(f): the two-NOP call site -fpatchable-function-entry=2 puts at f's entry.
constexpr std::string_view kImage = R"(
        .macro FENTRY name
\name:
.Lpfe_\name:
        nop
        nop
        .pushsection __patchable_function_entries, "aw"
        .p2align 3
        .xword .Lpfe_\name
        .popsection
        .endm

        .macro FRAME size
        stp     x29, x30, [sp, #-\size]!
        .cfi_def_cfa_offset \size
        .cfi_offset w30, -\size + 8
        .cfi_offset w29, -\size
        mov     x29, sp
        .cfi_def_cfa w29, \size
        .endm

        .macro UNFRAME size
        .cfi_def_cfa wsp, \size
        ldp     x29, x30, [sp], #\size
        .cfi_def_cfa_offset 0
        .cfi_restore w30
        .cfi_restore w29
        .endm

        .text
        .globl leaf, mid, mid2, calls_loop, alternating_loop, schedule_loop, recurse, deep_loop
        .p2align 3
        .type leaf, %function
        .cfi_startproc
        FENTRY leaf
        add     x0, x0, #1
        ret
        .cfi_endproc
        .size leaf, . - leaf

        .p2align 3
        .type mid, %function
        .cfi_startproc
        FENTRY mid
        FRAME 16
        bl      leaf
        bl      leaf
        UNFRAME 16
        ret
        .cfi_endproc
        .size mid, . - mid

        .p2align 3
        .type mid2, %function
        .cfi_startproc
        FENTRY mid2
        FRAME 32
        str     x0, [sp, #16]
        bl      leaf
        ldr     x1, [sp, #16]
        add     x0, x0, x1
        UNFRAME 32
        ret
        .cfi_endproc
        .size mid2, . - mid2

        // calls_loop(n): n x mid().
        .p2align 3
        .type calls_loop, %function
        .cfi_startproc
        FENTRY calls_loop
        FRAME 32
        str     x19, [sp, #16]
        .cfi_offset w19, -16
        mov     x19, x0
        mov     x0, #0
1:      bl      mid
        subs    x19, x19, #1
        b.ne    1b
        ldr     x19, [sp, #16]
        UNFRAME 32
        ret
        .cfi_endproc
        .size calls_loop, . - calls_loop

        // alternating_loop(n): n x (mid(); mid2();): two callees, two frame shapes in a row.
        .p2align 3
        .type alternating_loop, %function
        .cfi_startproc
        FENTRY alternating_loop
        FRAME 32
        str     x19, [sp, #16]
        .cfi_offset w19, -16
        mov     x19, x0
        mov     x0, #0
1:      bl      mid
        bl      mid2
        subs    x19, x19, #1
        b.ne    1b
        ldr     x19, [sp, #16]
        UNFRAME 32
        ret
        .cfi_endproc
        .size alternating_loop, . - alternating_loop

        // schedule_loop(n): n x (mid(); schedule();): a kthread that sleeps after each call.
        .p2align 3
        .type schedule_loop, %function
        .cfi_startproc
        FENTRY schedule_loop
        FRAME 32
        str     x19, [sp, #16]
        .cfi_offset w19, -16
        mov     x19, x0
        mov     x0, #0
1:      bl      mid
        bl      schedule
        subs    x19, x19, #1
        b.ne    1b
        ldr     x19, [sp, #16]
        UNFRAME 32
        ret
        .cfi_endproc
        .size schedule_loop, . - schedule_loop

        // recurse(n): n nested frames, a leaf call at the bottom.
        .p2align 3
        .type recurse, %function
        .cfi_startproc
        FENTRY recurse
        cbz     x0, 2f
        FRAME 16
        sub     x0, x0, #1
        bl      recurse
        UNFRAME 16
        ret
2:      b       leaf
        .cfi_endproc
        .size recurse, . - recurse

        // deep_loop(n): n x recurse(400): a stack deeper than any memo of walks.
        .p2align 3
        .type deep_loop, %function
        .cfi_startproc
        FENTRY deep_loop
        FRAME 32
        str     x19, [sp, #16]
        .cfi_offset w19, -16
        mov     x19, x0
1:      mov     x0, #400
        bl      recurse
        subs    x19, x19, #1
        b.ne    1b
        ldr     x19, [sp, #16]
        UNFRAME 32
        ret
        .cfi_endproc
        .size deep_loop, . - deep_loop
)";

} // namespace

std::string_view workload_image() {
    return kImage;
}

namespace {

Workload call(std::string_view name, std::string_view what, std::string_view entry, uint64_t arg) {
    Workload w;
    w.name = name;
    w.what = what;
    w.entry = entry;
    w.arg = arg;
    return w;
}

Workload tasks(Workload w, int tasks, int cpus) {
    w.shape = RunShape::Tasks;
    w.tasks = tasks;
    w.cpus = cpus;
    return w;
}

Workload traced(Workload w, std::string_view filter, std::string_view tracer) {
    w.trace_filter = filter;
    w.tracer = tracer;
    return w;
}

} // namespace

const std::vector<Workload>& workloads() {
    static const std::vector<Workload> all{
        call("calls", "calls_loop: mid() -> 2 x leaf() in a loop (the historical bench image)",
             "calls_loop", 200'000),
        call("alternating", "alternating_loop: mid(); mid2(); two callees in a row",
             "alternating_loop", 100'000),
        tasks(call("schedule",
                   "schedule_loop in 2 kthreads on one CPU: mid(); schedule(); each iteration",
                   "schedule_loop", 20'000),
              2, 1),
        call("deep", "deep_loop: recursion 400 frames deep, past any memo of walks", "deep_loop",
             10),
        tasks(call("tasks", "calls_loop in 64 kthreads on 8 CPUs", "calls_loop", 4'000), 64, 8),
        traced(call("ftrace",
                    "calls_loop with every call traced by the function tracer (args trampoline)",
                    "calls_loop", 20'000),
               "leaf mid", "function"),
        traced(call("graph", "calls_loop under the function-graph tracer (args trampoline)",
                    "calls_loop", 20'000),
               "leaf mid", "graph"),
    };
    return all;
}

} // namespace klpemu::bench
