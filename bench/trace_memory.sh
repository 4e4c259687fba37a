#!/bin/sh
# `klpemu run --trace` memory as a run grows (issue 15: "RSS flat as the run grows"). A kthread
# calls leaf() N times, each call one X span in the trace; the script prints, for each N, the
# trace file's size, its event count and klpemu's peak RSS (GNU time's %M). Figures are recorded
# in bench/RESULTS.md, never asserted.
#   bench/trace_memory.sh KLPEMU_BINARY [N...]     (default N: 1000 100000 1000000)
set -eu
klpemu=$1
shift
[ $# -gt 0 ] || set -- 1000 100000 1000000
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for n in "$@"; do
  cat > "$work/calls-$n.toml" <<TOML
[scenario]
name = "trace memory, $n calls"

[machine]
budget = 200000000

[[object]]
name = "vmlinux"
kind = "kernel"
asm = """
        .text
        .globl  leaf
leaf:
        add     x0, x0, #1
        ret
        .globl  caller
caller:
        stp     x29, x30, [sp, #-16]!
        mov     x29, sp
        ldr     x19, =$n
1:      bl      leaf
        subs    x19, x19, #1
        b.ne    1b
        mov     x0, xzr
        ldp     x29, x30, [sp], #16
        ret
"""

[[task]]
name = "caller"
entry = "caller"

[[step]]
do = "run 200000000"
TOML
  # The task exits with 0 after its calls: the golden transcript is known.
  printf '%% run 200000000\ncpu0: caller starts\ncaller exited: 0\n' > "$work/calls-$n.expected"
  /usr/bin/time -f '%M %e' -o "$work/time" "$klpemu" run --no-cache --trace "$work/t.json" \
    "$work/calls-$n.toml" > "$work/out" || { cat "$work/out"; exit 1; }
  read -r rss seconds < "$work/time"
  events=$(grep -c '"ph":"X"' "$work/t.json" || true)
  printf 'calls %8d  trace %6d MiB  X events %8d  peak RSS %5d MiB  %6.1f s\n' "$n" \
    $(( $(stat -c %s "$work/t.json") / 1048576 )) "$events" $(( rss / 1024 )) "$seconds"
done
