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
# zlib: CRC-32 and bounded inflation of the zip records in .pth files and checkpoints.
find_package(ZLIB REQUIRED)

pkg_check_modules(SNDFILE REQUIRED IMPORTED_TARGET sndfile)
pkg_check_modules(SOXR REQUIRED IMPORTED_TARGET soxr)
pkg_check_modules(FLUIDSYNTH REQUIRED IMPORTED_TARGET fluidsynth)

if(INSTRET_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

# LibTorch 2.x ships its own, newer {fmt} headers in its include directory; they would shadow the
# {fmt} that Debian's spdlog was built against (and spdlog 1.10 does not compile with fmt >= 10).
# A shim folder that holds only a link to the system's fmt/ is put before torch's include path.
set(INSTRET_FMT_SHIM "")
foreach(dir ${TORCH_INCLUDE_DIRS})
  if(EXISTS "${dir}/fmt/format.h")
    find_path(INSTRET_SYSTEM_FMT_DIR fmt/format.h PATHS /usr/include NO_DEFAULT_PATH)
    if(INSTRET_SYSTEM_FMT_DIR)
      set(INSTRET_FMT_SHIM "${CMAKE_BINARY_DIR}/fmt-shim")
      file(MAKE_DIRECTORY "${INSTRET_FMT_SHIM}")
      file(CREATE_LINK "${INSTRET_SYSTEM_FMT_DIR}/fmt" "${INSTRET_FMT_SHIM}/fmt" SYMBOLIC)
      message(STATUS "LibTorch bundles {fmt}: using the system's from ${INSTRET_SYSTEM_FMT_DIR}")
    endif()
    break()
  endif()
endforeach()

# Data-parallel training through LibTorch's c10d: Gloo (CPU, Debian's libgloo-dev headers or those a
# LibTorch ships) and NCCL (CUDA builds whose LibTorch ships ProcessGroupNCCL). Without them the
# training tools run single-process and refuse WORLD_SIZE > 1.
find_path(INSTRET_GLOO_INCLUDE gloo/algorithm.h HINTS ${TORCH_INCLUDE_DIRS})
find_path(INSTRET_C10D_INCLUDE torch/csrc/distributed/c10d/ProcessGroupGloo.hpp HINTS ${TORCH_INCLUDE_DIRS})
set(INSTRET_DISTRIBUTED_DEFINES "")
if(INSTRET_GLOO_INCLUDE AND INSTRET_C10D_INCLUDE)
  list(APPEND INSTRET_DISTRIBUTED_DEFINES INSTRET_HAVE_GLOO USE_C10D_GLOO)
  message(STATUS "c10d Gloo: ${INSTRET_GLOO_INCLUDE}")
else()
  message(STATUS "c10d Gloo headers not found: multi-process training disabled (install libgloo-dev)")
endif()
if(TORCH_CUDA_LIBRARIES OR CUDA_FOUND)
  find_path(INSTRET_NCCL_HEADER torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp HINTS ${TORCH_INCLUDE_DIRS})
  find_path(INSTRET_NCCL_INCLUDE nccl.h HINTS ${TORCH_INCLUDE_DIRS} ${CUDA_INCLUDE_DIRS} /usr/include)
  if(INSTRET_NCCL_HEADER AND INSTRET_NCCL_INCLUDE)
    list(APPEND INSTRET_DISTRIBUTED_DEFINES INSTRET_HAVE_NCCL USE_C10D_NCCL)
    message(STATUS "c10d NCCL: ${INSTRET_NCCL_INCLUDE}")
  endif()
endif()

# FAISS (Debian's libfaiss-dev: a static libfaiss.a built with OpenMP over the system BLAS/LAPACK) for
# the approximate nearest-neighbour indexes of `retrieve query --index hnsw|ivf`.
find_package(OpenMP REQUIRED)
find_package(BLAS REQUIRED)
find_package(LAPACK REQUIRED)
# Its headers live in /usr/include (a default search path): nothing to add to the compile flags.
find_path(INSTRET_FAISS_INCLUDE faiss/IndexHNSW.h)
find_library(INSTRET_FAISS_LIBRARY faiss)
if(NOT INSTRET_FAISS_INCLUDE OR NOT INSTRET_FAISS_LIBRARY)
  message(FATAL_ERROR "FAISS not found: install libfaiss-dev (scripts/setup.sh does)")
endif()
message(STATUS "FAISS: ${INSTRET_FAISS_LIBRARY}")
# The OpenMP runtime only (not OpenMP::OpenMP_CXX, whose -fopenmp would change every compile command).
set(INSTRET_FAISS_LIBRARIES ${INSTRET_FAISS_LIBRARY} ${OpenMP_CXX_LIBRARIES} ${LAPACK_LIBRARIES} ${BLAS_LIBRARIES})
