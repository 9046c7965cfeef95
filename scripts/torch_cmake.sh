# Sourced by scripts/test-torch2.sh and scripts/device_build.sh: the CMake arguments that build
# against the LibTorch inside a Python's torch package.
#   torch_cmake PYTHON   sets torch_prefix (for CMAKE_PREFIX_PATH) and the array torch_link_args:
# - libtorch and libc10 named: TorchConfig.cmake finds them with find_library(... PATHS <its lib>),
#   which searches the system folders first, so with Debian's libtorch-dev installed it would link
#   Debian's 1.13 beside the wheel's;
# - pip-installed NVIDIA libraries (beside torch in site-packages) named to the linker
#   (-rpath-link), which would otherwise take older ones from the system (e.g. a CUDA toolkit's
#   NCCL); at run time the loader finds them through torch's own RPATH.
torch_cmake() {
  local python=$1 site rpath_link
  torch_prefix="$("$python" -W ignore -c 'import torch; print(torch.utils.cmake_prefix_path)')"
  site="$("$python" -W ignore -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')"
  rpath_link="$(ls -d "$site"/nvidia/*/lib 2>/dev/null | paste -sd: || true)"
  torch_link_args=("-DTORCH_LIBRARY=$site/torch/lib/libtorch.so" "-Dc10_LIBRARY=$site/torch/lib/libc10.so")
  [ -z "$rpath_link" ] || torch_link_args+=("-DCMAKE_EXE_LINKER_FLAGS=-Wl,-rpath-link,$rpath_link")
}
