// Calls a function that no loaded object defines.
    .text
    .globl caller
    .type caller, %function
caller:
    bl missing_function
    ret
    .size caller, .-caller
