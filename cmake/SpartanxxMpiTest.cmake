# spartanxx_add_mpi_test(NAME <name> TARGET <target> RANKS <n>...)
# Registers one CTest test per rank count: <name>_np<n>, run as
#   ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} n ${MPIEXEC_PREFLAGS} <target> ${MPIEXEC_POSTFLAGS}
# with PROCESSORS set, so ctest -j does not oversubscribe more than it must.
function(spartanxx_add_mpi_test)
  cmake_parse_arguments(ARG "" "NAME;TARGET;TIMEOUT" "RANKS;ARGS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  foreach(n IN LISTS ARG_RANKS)
    add_test(NAME ${ARG_NAME}_np${n}
      COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${n} ${MPIEXEC_PREFLAGS}
              $<TARGET_FILE:${ARG_TARGET}> ${MPIEXEC_POSTFLAGS} ${ARG_ARGS})
    set_tests_properties(${ARG_NAME}_np${n} PROPERTIES
      PROCESSORS ${n}
      TIMEOUT ${ARG_TIMEOUT}
      ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1")
  endforeach()
endfunction()
