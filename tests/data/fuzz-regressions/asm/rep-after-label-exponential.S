tee:  .rep 32
  à¿Ñ•  .
   .e:  .rep 32
  à¿Ñ•  .
   .endr
 _