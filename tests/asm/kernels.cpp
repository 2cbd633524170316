// Every micro-kernel of the kernel table, compiled to assembly by check_kernel_asm.py.
#include <fovea/core/kernels.hpp>

#if defined(__aarch64__)  // NEON f32 and the SDOT / BFDOT / USMMLA / BFMMLA entries
const fovea::detail::KernelConfig* fovea_asm_tables[] = {&fovea::detail::kernel_config(fovea::detail::Isa::Neon)};
#else  // AVX2, AVX-512 and the AVX-512 / AMX reduced-precision entries
const fovea::detail::KernelConfig* fovea_asm_tables[] = {&fovea::detail::kernel_config(fovea::detail::Isa::Avx2),
                                                          &fovea::detail::kernel_config(fovea::detail::Isa::Avx512)};
#endif
