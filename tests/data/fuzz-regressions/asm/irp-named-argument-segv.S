//$ ftrace_sourcl•mu's   #0x100
    ret
    .irpc   ftrace_trace_regs_entry, asllegr=0
    sud   0, 0, 0, 2
  iqst_ops
ftrace_list>  .glofl  pt   32
 $ .globl  ftrace_ool_end
fArac-e_opÿÿÿÿÿÿÿàs_pool_end:
