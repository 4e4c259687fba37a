//.××××××××××××××××××××××××××××××××××××××××strtabt
   .p2align -23
me_addr:
       .quad ddr, 5
