# Embeds one file as a NUL-terminated C string: cmake -DIN=file -DOUT=out.c -DSYMBOL=name -P embed_file.cmake
# A missing input embeds "" so that a build without the file still links (the server then
# answers 503 for it).
if(EXISTS ${IN})
  file(READ ${IN} hex HEX)
else()
  set(hex "")
endif()
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
file(WRITE ${OUT}.tmp "/* Generated from ${IN} by scripts/embed_file.cmake. Do not edit. */\n#include <stddef.h>\nconst char ${SYMBOL}[] = {${hex}0x00};\nconst size_t ${SYMBOL}_len = sizeof ${SYMBOL} - 1;\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
