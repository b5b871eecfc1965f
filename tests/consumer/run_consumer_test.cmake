# Installs the spartanxx build tree into a scratch prefix, then configures, builds and
# runs the consumer project next to this file against that prefix alone.
#
#   cmake -DSOURCE_DIR=<spartanxx source> -DBINARY_DIR=<spartanxx build>
#         -DWORK_DIR=<scratch folder> -DMPIEXEC=<mpiexec> -DCXX_COMPILER=<the build's compiler>
#         -P run_consumer_test.cmake
#
# Fails (message(FATAL_ERROR)) at the first step that does not succeed.
foreach(var SOURCE_DIR BINARY_DIR WORK_DIR MPIEXEC CXX_COMPILER)
  if(NOT ${var})
    message(FATAL_ERROR "run_consumer_test.cmake: -D${var}=... is required")
  endif()
endforeach()

set(prefix ${WORK_DIR}/prefix)
set(build ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run_step name)
  list(JOIN ARGN " " command)
  message(STATUS "consumer: ${name}: ${command}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer: ${name} failed (${rc}): ${command}")
  endif()
endfunction()

run_step(install ${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${prefix})
# Only the scratch prefix: a spartanxx installed elsewhere on the machine must not be
# found instead.
run_step(configure ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer -B ${build}
  -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
  -DCMAKE_PREFIX_PATH=${prefix}
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
run_step(build ${CMAKE_COMMAND} --build ${build})
run_step(run ${MPIEXEC} -np 2 --oversubscribe ${build}/consumer)
# The installed job runs (its --help, under mpirun: it links MPI and HDF5).
run_step(installed_job ${MPIEXEC} -np 1 ${prefix}/bin/spartanxx-tfidf-lr --help)
message(STATUS "consumer: ok")
