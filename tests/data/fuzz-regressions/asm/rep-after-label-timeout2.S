te:  .rep 32
   @.q:  .rep 32
   @.q  /.
   .end  /.
   .endr
 _