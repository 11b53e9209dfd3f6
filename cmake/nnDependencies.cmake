# Finds nn's dependencies and names the Debian package when one is missing.
# Included by the top-level CMakeLists.txt and by the installed nnConfig.cmake,
# so a consumer project resolves exactly the same targets.
include_guard(GLOBAL)

find_package(Eigen3 3.3 QUIET NO_MODULE)
if(NOT TARGET Eigen3::Eigen)
  message(FATAL_ERROR "nn: Eigen3 (>= 3.3) not found. On Debian/Ubuntu: apt-get install libeigen3-dev")
endif()

# stb: Debian's libstb-dev ships the headers in include/stb and the compiled
# implementations (stb_image, stb_image_write, stb_image_resize, ...) in libstb.
if(NOT TARGET nn::stb)
  find_path(NN_STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb)
  find_library(NN_STB_LIBRARY NAMES stb)
  if(NOT NN_STB_INCLUDE_DIR OR NOT NN_STB_LIBRARY)
    message(FATAL_ERROR "nn: stb (stb_image.h and libstb) not found. On Debian/Ubuntu: apt-get install libstb-dev")
  endif()
  add_library(nn::stb UNKNOWN IMPORTED GLOBAL)
  set_target_properties(nn::stb PROPERTIES
    IMPORTED_LOCATION "${NN_STB_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${NN_STB_INCLUDE_DIR}")
endif()

find_package(ZLIB QUIET)
if(NOT TARGET ZLIB::ZLIB)
  message(FATAL_ERROR "nn: zlib not found (reads .gz datasets). On Debian/Ubuntu: apt-get install zlib1g-dev")
endif()

if(NN_USE_OPENMP)
  find_package(OpenMP QUIET COMPONENTS CXX)
  if(NOT OpenMP_CXX_FOUND)
    message(FATAL_ERROR "nn: OpenMP not found (NN_USE_OPENMP=ON). With g++ it comes with the compiler (libgomp); "
                        "or configure with -DNN_USE_OPENMP=OFF")
  endif()
endif()
