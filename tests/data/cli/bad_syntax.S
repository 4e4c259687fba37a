// A malformed assembly file: the third line has an unknown mnemonic.
    .text
    frobnicate x0, x1
    ret
