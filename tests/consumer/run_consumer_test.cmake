# ctest driver: install nn into a prefix, then build and run the consumer
# project with find_package(nn), and again with add_subdirectory.
file(REMOVE_RECURSE ${NN_WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()
set(gen -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} -S ${NN_SOURCE_DIR} -B ${NN_WORK_DIR}/nn -DNN_BUILD_TESTS=OFF -DNN_BUILD_EXAMPLES=OFF
    -DCMAKE_INSTALL_PREFIX=${NN_WORK_DIR}/prefix ${gen})
run(${CMAKE_COMMAND} --install ${NN_WORK_DIR}/nn)
run(${CMAKE_COMMAND} -S ${NN_SOURCE_DIR}/tests/consumer -B ${NN_WORK_DIR}/pkg
    -DCMAKE_PREFIX_PATH=${NN_WORK_DIR}/prefix ${gen})
run(${CMAKE_COMMAND} --build ${NN_WORK_DIR}/pkg)
run(${NN_WORK_DIR}/pkg/consumer)
run(${CMAKE_COMMAND} -S ${NN_SOURCE_DIR}/tests/consumer -B ${NN_WORK_DIR}/sub -DUSE_SUBDIRECTORY=ON
    -DNN_SOURCE_DIR=${NN_SOURCE_DIR} ${gen})
run(${CMAKE_COMMAND} --build ${NN_WORK_DIR}/sub)
run(${NN_WORK_DIR}/sub/consumer)
