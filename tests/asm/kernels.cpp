// Every micro-kernel of the kernel table, compiled to assembly by check_kernel_asm.cmake.
#include <fovea/core/kernels.hpp>

const fovea::detail::KernelConfig* fovea_asm_tables[] = {&fovea::detail::kernel_config(fovea::detail::Isa::Avx2),
                                                          &fovea::detail::kernel_config(fovea::detail::Isa::Avx512)};
