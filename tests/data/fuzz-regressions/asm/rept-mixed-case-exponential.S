_&
 ;  .rePt   32
 uaderae_ ;  .rePt   32
 uaderae_o
    .eno
    .endr
   l_en