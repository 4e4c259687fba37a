# klpemu_embed_sources(TARGET NAMESPACE FUNCTION FILES...): compiles the given text files (guest
# assembly) into TARGET as `std::string_view NAMESPACE::FUNCTION(std::string_view file_name)`,
# returning an empty view for an unknown name. The guest code then ships inside the binary, so an
# installed klpemu needs no source tree.
function(klpemu_embed_sources target ns fn)
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${target}_${fn}_embedded.cpp")
  # A list argument would be split into separate command words: pass it comma-joined.
  string(REPLACE ";" "," files "${ARGN}")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DNS=${ns} -DFN=${fn} "-DFILES=${files}"
            -P "${KLPEMU_SOURCE_ROOT}/cmake/EmbedFilesScript.cmake"
    DEPENDS ${ARGN} "${KLPEMU_SOURCE_ROOT}/cmake/EmbedFilesScript.cmake"
    COMMENT "Embedding guest sources for ${target}" VERBATIM)
  target_sources(${target} PRIVATE "${out}")
endfunction()
