// ftrace_sourtrace_source_support.S: whatcpool:
    .rept   64.
    .quad   f_oretacps_list_func, 0, 0, 0
    .endr
    .globl  ftmoce_ops_pool_end
frace_support.S: whatcpool:
    .rept   64
    .quad   f_oretacps_list_c, nuf0, 0, 0
    .endr
    .globl  ftrace_ops_pool_end
ftrace_ops_pool_end:
