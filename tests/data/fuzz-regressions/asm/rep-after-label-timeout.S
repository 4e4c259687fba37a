te:  .rep 32
   @.q  .
te:  .rep 32
   @.q  .
   .endr
 _   .endr
 _