# Every third-party dependency, all from Debian packages (or a CUDA LibTorch via CMAKE_PREFIX_PATH).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)

# LibTorch: Debian's CPU 1.13 here, a CUDA 2.x elsewhere (pass -DCMAKE_PREFIX_PATH=<torch cmake dir>).
find_package(Torch REQUIRED)
message(STATUS "LibTorch ${Torch_VERSION}: ${TORCH_LIBRARIES}")
# Debian's LibTorch 1.13 is C++17; recent LibTorch 2.x headers require C++20.
if(NOT CMAKE_CXX_STANDARD)
  if(Torch_VERSION VERSION_GREATER_EQUAL 2.0)
    set(CMAKE_CXX_STANDARD 20)
  else()
    set(CMAKE_CXX_STANDARD 17)
  endif()
endif()

find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3.9 REQUIRED)
find_package(spdlog REQUIRED)

pkg_check_modules(SNDFILE REQUIRED IMPORTED_TARGET sndfile)
pkg_check_modules(SOXR REQUIRED IMPORTED_TARGET soxr)
pkg_check_modules(FLUIDSYNTH REQUIRED IMPORTED_TARGET fluidsynth)

if(INSTRET_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
