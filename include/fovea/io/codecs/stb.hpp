#pragma once
// stb_image, the fallback for JPEG and PNG where libjpeg or libpng is absent (fovea's CMake sets
// FOVEA_WITH_LIBJPEG / FOVEA_WITH_LIBPNG when it finds them). Its JPEG decoder is not libjpeg's:
// photos come out within a few levels of Pillow's, not identical. PNG follows Pillow's rules
// as codecs/png.hpp does.
#if !defined(FOVEA_WITH_LIBJPEG) || !defined(FOVEA_WITH_LIBPNG)
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fovea/io/codecs/common.hpp"

// ---- stb_image, private ----------------------------------------------------------------------
// Inside fovea::detail::stb with its public (extern "C") names prefixed fovea_, so its functions
// are never the program's own stb_image's; every macro it reads or defines is saved before and
// restored after, so the program's stb options and include guard are as the program left them.
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif
#pragma push_macro("FAST_BITS")
#pragma push_macro("STBIDEF")
#pragma push_macro("STBI_ASSERT")
#pragma push_macro("STBI_EXTERN")
#pragma push_macro("STBI_FREE")
#pragma push_macro("STBI_INCLUDE_STB_IMAGE_H")
#pragma push_macro("STBI_MALLOC")
#pragma push_macro("STBI_MAX_DIMENSIONS")
#pragma push_macro("STBI_NOTUSED")
#pragma push_macro("STBI_NO_HDR")
#pragma push_macro("STBI_NO_LINEAR")
#pragma push_macro("STBI_NO_PIC")
#pragma push_macro("STBI_NO_PSD")
#pragma push_macro("STBI_NO_STDIO")
#pragma push_macro("STBI_NO_TGA")
#pragma push_macro("STBI_REALLOC")
#pragma push_macro("STBI_REALLOC_SIZED")
#pragma push_macro("STBI_SIMD_ALIGN")
#pragma push_macro("STBI_SSE2")
#pragma push_macro("STBI_THREAD_LOCAL")
#pragma push_macro("STBI_VERSION")
#pragma push_macro("STBI__BYTECAST")
#pragma push_macro("STBI__COMBO")
#pragma push_macro("STBI__IDCT_1D")
#pragma push_macro("STBI__MARKER_none")
#pragma push_macro("STBI__PNG_TYPE")
#pragma push_macro("STBI__RESTART")
#pragma push_macro("STBI__X64_TARGET")
#pragma push_macro("STBI__X86_TARGET")
#pragma push_macro("STBI__ZFAST_BITS")
#pragma push_macro("STBI__ZFAST_MASK")
#pragma push_macro("STBI__ZNSYMS")
#pragma push_macro("STB_IMAGE_IMPLEMENTATION")
#pragma push_macro("STB_IMAGE_STATIC")
#pragma push_macro("stbi__DNL")
#pragma push_macro("stbi__EOI")
#pragma push_macro("stbi__SOF")
#pragma push_macro("stbi__SOF_progressive")
#pragma push_macro("stbi__SOI")
#pragma push_macro("stbi__SOS")
#pragma push_macro("stbi__de_iphone_flag")
#pragma push_macro("stbi__div16")
#pragma push_macro("stbi__div4")
#pragma push_macro("stbi__err")
#pragma push_macro("stbi__errpf")
#pragma push_macro("stbi__errpuc")
#pragma push_macro("stbi__f2f")
#pragma push_macro("stbi__float2fixed")
#pragma push_macro("stbi__fsh")
#pragma push_macro("stbi__unpremultiply_on_load")
#pragma push_macro("stbi__vertically_flip_on_load")
#pragma push_macro("stbi_inline")
#pragma push_macro("stbi_lrot")
#pragma push_macro("STBI_NO_SIMD")
#pragma push_macro("STBI_NEON")
#pragma push_macro("STBI_NO_JPEG")
#pragma push_macro("STBI_NO_PNG")
#pragma push_macro("STBI_NO_BMP")
#pragma push_macro("STBI_NO_GIF")
#pragma push_macro("STBI_NO_PNM")
#pragma push_macro("STBI_ONLY_JPEG")
#pragma push_macro("STBI_ONLY_PNG")
#pragma push_macro("STBI_ONLY_BMP")
#pragma push_macro("STBI_ONLY_TGA")
#pragma push_macro("STBI_ONLY_GIF")
#pragma push_macro("STBI_ONLY_PSD")
#pragma push_macro("STBI_ONLY_HDR")
#pragma push_macro("STBI_ONLY_PIC")
#pragma push_macro("STBI_ONLY_PNM")
#pragma push_macro("STBI_NO_FAILURE_STRINGS")
#pragma push_macro("STBI_FAILURE_USERMSG")
#pragma push_macro("STBI_NO_ZLIB")
#pragma push_macro("STBI_SUPPORT_ZLIB")
#pragma push_macro("STBI_NO_THREAD_LOCALS")
#pragma push_macro("STBI_WINDOWS_UTF8")
#pragma push_macro("STBI__HAS_LROTL")
#pragma push_macro("STBI_MINGW_ENABLE_SSE2")
#pragma push_macro("STBI_FORCE_SSE2")
#pragma push_macro("stbi_convert_iphone_png_to_rgb")
#pragma push_macro("stbi_convert_iphone_png_to_rgb_thread")
#pragma push_macro("stbi_convert_wchar_to_utf8")
#pragma push_macro("stbi_failure_reason")
#pragma push_macro("stbi_hdr_to_ldr_gamma")
#pragma push_macro("stbi_hdr_to_ldr_scale")
#pragma push_macro("stbi_image_free")
#pragma push_macro("stbi_info")
#pragma push_macro("stbi_info_from_callbacks")
#pragma push_macro("stbi_info_from_file")
#pragma push_macro("stbi_info_from_memory")
#pragma push_macro("stbi_is_16_bit")
#pragma push_macro("stbi_is_16_bit_from_callbacks")
#pragma push_macro("stbi_is_16_bit_from_file")
#pragma push_macro("stbi_is_16_bit_from_memory")
#pragma push_macro("stbi_is_hdr")
#pragma push_macro("stbi_is_hdr_from_callbacks")
#pragma push_macro("stbi_is_hdr_from_file")
#pragma push_macro("stbi_is_hdr_from_memory")
#pragma push_macro("stbi_ldr_to_hdr_gamma")
#pragma push_macro("stbi_ldr_to_hdr_scale")
#pragma push_macro("stbi_load")
#pragma push_macro("stbi_load_16")
#pragma push_macro("stbi_load_16_from_callbacks")
#pragma push_macro("stbi_load_16_from_memory")
#pragma push_macro("stbi_load_from_callbacks")
#pragma push_macro("stbi_load_from_file")
#pragma push_macro("stbi_load_from_file_16")
#pragma push_macro("stbi_load_from_memory")
#pragma push_macro("stbi_load_gif_from_memory")
#pragma push_macro("stbi_loadf")
#pragma push_macro("stbi_loadf_from_callbacks")
#pragma push_macro("stbi_loadf_from_file")
#pragma push_macro("stbi_loadf_from_memory")
#pragma push_macro("stbi_set_flip_vertically_on_load")
#pragma push_macro("stbi_set_flip_vertically_on_load_thread")
#pragma push_macro("stbi_set_unpremultiply_on_load")
#pragma push_macro("stbi_set_unpremultiply_on_load_thread")
#pragma push_macro("stbi_zlib_decode_buffer")
#pragma push_macro("stbi_zlib_decode_malloc")
#pragma push_macro("stbi_zlib_decode_malloc_guesssize")
#pragma push_macro("stbi_zlib_decode_malloc_guesssize_headerflag")
#pragma push_macro("stbi_zlib_decode_noheader_buffer")
#pragma push_macro("stbi_zlib_decode_noheader_malloc")
#undef FAST_BITS
#undef STBIDEF
#undef STBI_ASSERT
#undef STBI_EXTERN
#undef STBI_FREE
#undef STBI_INCLUDE_STB_IMAGE_H
#undef STBI_MALLOC
#undef STBI_MAX_DIMENSIONS
#undef STBI_NOTUSED
#undef STBI_NO_HDR
#undef STBI_NO_LINEAR
#undef STBI_NO_PIC
#undef STBI_NO_PSD
#undef STBI_NO_STDIO
#undef STBI_NO_TGA
#undef STBI_REALLOC
#undef STBI_REALLOC_SIZED
#undef STBI_SIMD_ALIGN
#undef STBI_SSE2
#undef STBI_THREAD_LOCAL
#undef STBI_VERSION
#undef STBI__BYTECAST
#undef STBI__COMBO
#undef STBI__IDCT_1D
#undef STBI__MARKER_none
#undef STBI__PNG_TYPE
#undef STBI__RESTART
#undef STBI__X64_TARGET
#undef STBI__X86_TARGET
#undef STBI__ZFAST_BITS
#undef STBI__ZFAST_MASK
#undef STBI__ZNSYMS
#undef STB_IMAGE_IMPLEMENTATION
#undef STB_IMAGE_STATIC
#undef stbi__DNL
#undef stbi__EOI
#undef stbi__SOF
#undef stbi__SOF_progressive
#undef stbi__SOI
#undef stbi__SOS
#undef stbi__de_iphone_flag
#undef stbi__div16
#undef stbi__div4
#undef stbi__err
#undef stbi__errpf
#undef stbi__errpuc
#undef stbi__f2f
#undef stbi__float2fixed
#undef stbi__fsh
#undef stbi__unpremultiply_on_load
#undef stbi__vertically_flip_on_load
#undef stbi_inline
#undef stbi_lrot
#undef STBI_NO_SIMD
#undef STBI_NEON
#undef STBI_NO_JPEG
#undef STBI_NO_PNG
#undef STBI_NO_BMP
#undef STBI_NO_GIF
#undef STBI_NO_PNM
#undef STBI_ONLY_JPEG
#undef STBI_ONLY_PNG
#undef STBI_ONLY_BMP
#undef STBI_ONLY_TGA
#undef STBI_ONLY_GIF
#undef STBI_ONLY_PSD
#undef STBI_ONLY_HDR
#undef STBI_ONLY_PIC
#undef STBI_ONLY_PNM
#undef STBI_NO_FAILURE_STRINGS
#undef STBI_FAILURE_USERMSG
#undef STBI_NO_ZLIB
#undef STBI_SUPPORT_ZLIB
#undef STBI_NO_THREAD_LOCALS
#undef STBI_WINDOWS_UTF8
#undef STBI__HAS_LROTL
#undef STBI_MINGW_ENABLE_SSE2
#undef STBI_FORCE_SSE2
#undef stbi_convert_iphone_png_to_rgb
#undef stbi_convert_iphone_png_to_rgb_thread
#undef stbi_convert_wchar_to_utf8
#undef stbi_failure_reason
#undef stbi_hdr_to_ldr_gamma
#undef stbi_hdr_to_ldr_scale
#undef stbi_image_free
#undef stbi_info
#undef stbi_info_from_callbacks
#undef stbi_info_from_file
#undef stbi_info_from_memory
#undef stbi_is_16_bit
#undef stbi_is_16_bit_from_callbacks
#undef stbi_is_16_bit_from_file
#undef stbi_is_16_bit_from_memory
#undef stbi_is_hdr
#undef stbi_is_hdr_from_callbacks
#undef stbi_is_hdr_from_file
#undef stbi_is_hdr_from_memory
#undef stbi_ldr_to_hdr_gamma
#undef stbi_ldr_to_hdr_scale
#undef stbi_load
#undef stbi_load_16
#undef stbi_load_16_from_callbacks
#undef stbi_load_16_from_memory
#undef stbi_load_from_callbacks
#undef stbi_load_from_file
#undef stbi_load_from_file_16
#undef stbi_load_from_memory
#undef stbi_load_gif_from_memory
#undef stbi_loadf
#undef stbi_loadf_from_callbacks
#undef stbi_loadf_from_file
#undef stbi_loadf_from_memory
#undef stbi_set_flip_vertically_on_load
#undef stbi_set_flip_vertically_on_load_thread
#undef stbi_set_unpremultiply_on_load
#undef stbi_set_unpremultiply_on_load_thread
#undef stbi_zlib_decode_buffer
#undef stbi_zlib_decode_malloc
#undef stbi_zlib_decode_malloc_guesssize
#undef stbi_zlib_decode_malloc_guesssize_headerflag
#undef stbi_zlib_decode_noheader_buffer
#undef stbi_zlib_decode_noheader_malloc
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_HDR
#define STBI_NO_PSD
#define STBI_NO_PIC
#define STBI_NO_TGA
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_NO_LINEAR
#define STBI_NO_STDIO
#define STBI_NO_THREAD_LOCALS
#define STBI_ASSERT(x) ((void)0)
#define STBI_MAX_DIMENSIONS (1 << 16)
#define stbi_convert_iphone_png_to_rgb fovea_stbi_convert_iphone_png_to_rgb
#define stbi_convert_iphone_png_to_rgb_thread fovea_stbi_convert_iphone_png_to_rgb_thread
#define stbi_convert_wchar_to_utf8 fovea_stbi_convert_wchar_to_utf8
#define stbi_failure_reason fovea_stbi_failure_reason
#define stbi_hdr_to_ldr_gamma fovea_stbi_hdr_to_ldr_gamma
#define stbi_hdr_to_ldr_scale fovea_stbi_hdr_to_ldr_scale
#define stbi_image_free fovea_stbi_image_free
#define stbi_info fovea_stbi_info
#define stbi_info_from_callbacks fovea_stbi_info_from_callbacks
#define stbi_info_from_file fovea_stbi_info_from_file
#define stbi_info_from_memory fovea_stbi_info_from_memory
#define stbi_is_16_bit fovea_stbi_is_16_bit
#define stbi_is_16_bit_from_callbacks fovea_stbi_is_16_bit_from_callbacks
#define stbi_is_16_bit_from_file fovea_stbi_is_16_bit_from_file
#define stbi_is_16_bit_from_memory fovea_stbi_is_16_bit_from_memory
#define stbi_is_hdr fovea_stbi_is_hdr
#define stbi_is_hdr_from_callbacks fovea_stbi_is_hdr_from_callbacks
#define stbi_is_hdr_from_file fovea_stbi_is_hdr_from_file
#define stbi_is_hdr_from_memory fovea_stbi_is_hdr_from_memory
#define stbi_ldr_to_hdr_gamma fovea_stbi_ldr_to_hdr_gamma
#define stbi_ldr_to_hdr_scale fovea_stbi_ldr_to_hdr_scale
#define stbi_load fovea_stbi_load
#define stbi_load_16 fovea_stbi_load_16
#define stbi_load_16_from_callbacks fovea_stbi_load_16_from_callbacks
#define stbi_load_16_from_memory fovea_stbi_load_16_from_memory
#define stbi_load_from_callbacks fovea_stbi_load_from_callbacks
#define stbi_load_from_file fovea_stbi_load_from_file
#define stbi_load_from_file_16 fovea_stbi_load_from_file_16
#define stbi_load_from_memory fovea_stbi_load_from_memory
#define stbi_load_gif_from_memory fovea_stbi_load_gif_from_memory
#define stbi_loadf fovea_stbi_loadf
#define stbi_loadf_from_callbacks fovea_stbi_loadf_from_callbacks
#define stbi_loadf_from_file fovea_stbi_loadf_from_file
#define stbi_loadf_from_memory fovea_stbi_loadf_from_memory
#define stbi_set_flip_vertically_on_load fovea_stbi_set_flip_vertically_on_load
#define stbi_set_flip_vertically_on_load_thread fovea_stbi_set_flip_vertically_on_load_thread
#define stbi_set_unpremultiply_on_load fovea_stbi_set_unpremultiply_on_load
#define stbi_set_unpremultiply_on_load_thread fovea_stbi_set_unpremultiply_on_load_thread
#define stbi_zlib_decode_buffer fovea_stbi_zlib_decode_buffer
#define stbi_zlib_decode_malloc fovea_stbi_zlib_decode_malloc
#define stbi_zlib_decode_malloc_guesssize fovea_stbi_zlib_decode_malloc_guesssize
#define stbi_zlib_decode_malloc_guesssize_headerflag fovea_stbi_zlib_decode_malloc_guesssize_headerflag
#define stbi_zlib_decode_noheader_buffer fovea_stbi_zlib_decode_noheader_buffer
#define stbi_zlib_decode_noheader_malloc fovea_stbi_zlib_decode_noheader_malloc
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Weverything"
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wuseless-cast"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#endif
namespace fovea::detail::stb {
#include <stb/stb_image.h>
}  // namespace fovea::detail::stb
#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#undef FAST_BITS
#undef STBIDEF
#undef STBI_ASSERT
#undef STBI_EXTERN
#undef STBI_FREE
#undef STBI_INCLUDE_STB_IMAGE_H
#undef STBI_MALLOC
#undef STBI_MAX_DIMENSIONS
#undef STBI_NOTUSED
#undef STBI_NO_HDR
#undef STBI_NO_LINEAR
#undef STBI_NO_PIC
#undef STBI_NO_PSD
#undef STBI_NO_STDIO
#undef STBI_NO_TGA
#undef STBI_REALLOC
#undef STBI_REALLOC_SIZED
#undef STBI_SIMD_ALIGN
#undef STBI_SSE2
#undef STBI_THREAD_LOCAL
#undef STBI_VERSION
#undef STBI__BYTECAST
#undef STBI__COMBO
#undef STBI__IDCT_1D
#undef STBI__MARKER_none
#undef STBI__PNG_TYPE
#undef STBI__RESTART
#undef STBI__X64_TARGET
#undef STBI__X86_TARGET
#undef STBI__ZFAST_BITS
#undef STBI__ZFAST_MASK
#undef STBI__ZNSYMS
#undef STB_IMAGE_IMPLEMENTATION
#undef STB_IMAGE_STATIC
#undef stbi__DNL
#undef stbi__EOI
#undef stbi__SOF
#undef stbi__SOF_progressive
#undef stbi__SOI
#undef stbi__SOS
#undef stbi__de_iphone_flag
#undef stbi__div16
#undef stbi__div4
#undef stbi__err
#undef stbi__errpf
#undef stbi__errpuc
#undef stbi__f2f
#undef stbi__float2fixed
#undef stbi__fsh
#undef stbi__unpremultiply_on_load
#undef stbi__vertically_flip_on_load
#undef stbi_inline
#undef stbi_lrot
#undef STBI_NO_SIMD
#undef STBI_NEON
#undef STBI_NO_JPEG
#undef STBI_NO_PNG
#undef STBI_NO_BMP
#undef STBI_NO_GIF
#undef STBI_NO_PNM
#undef STBI_ONLY_JPEG
#undef STBI_ONLY_PNG
#undef STBI_ONLY_BMP
#undef STBI_ONLY_TGA
#undef STBI_ONLY_GIF
#undef STBI_ONLY_PSD
#undef STBI_ONLY_HDR
#undef STBI_ONLY_PIC
#undef STBI_ONLY_PNM
#undef STBI_NO_FAILURE_STRINGS
#undef STBI_FAILURE_USERMSG
#undef STBI_NO_ZLIB
#undef STBI_SUPPORT_ZLIB
#undef STBI_NO_THREAD_LOCALS
#undef STBI_WINDOWS_UTF8
#undef STBI__HAS_LROTL
#undef STBI_MINGW_ENABLE_SSE2
#undef STBI_FORCE_SSE2
#undef stbi_convert_iphone_png_to_rgb
#undef stbi_convert_iphone_png_to_rgb_thread
#undef stbi_convert_wchar_to_utf8
#undef stbi_failure_reason
#undef stbi_hdr_to_ldr_gamma
#undef stbi_hdr_to_ldr_scale
#undef stbi_image_free
#undef stbi_info
#undef stbi_info_from_callbacks
#undef stbi_info_from_file
#undef stbi_info_from_memory
#undef stbi_is_16_bit
#undef stbi_is_16_bit_from_callbacks
#undef stbi_is_16_bit_from_file
#undef stbi_is_16_bit_from_memory
#undef stbi_is_hdr
#undef stbi_is_hdr_from_callbacks
#undef stbi_is_hdr_from_file
#undef stbi_is_hdr_from_memory
#undef stbi_ldr_to_hdr_gamma
#undef stbi_ldr_to_hdr_scale
#undef stbi_load
#undef stbi_load_16
#undef stbi_load_16_from_callbacks
#undef stbi_load_16_from_memory
#undef stbi_load_from_callbacks
#undef stbi_load_from_file
#undef stbi_load_from_file_16
#undef stbi_load_from_memory
#undef stbi_load_gif_from_memory
#undef stbi_loadf
#undef stbi_loadf_from_callbacks
#undef stbi_loadf_from_file
#undef stbi_loadf_from_memory
#undef stbi_set_flip_vertically_on_load
#undef stbi_set_flip_vertically_on_load_thread
#undef stbi_set_unpremultiply_on_load
#undef stbi_set_unpremultiply_on_load_thread
#undef stbi_zlib_decode_buffer
#undef stbi_zlib_decode_malloc
#undef stbi_zlib_decode_malloc_guesssize
#undef stbi_zlib_decode_malloc_guesssize_headerflag
#undef stbi_zlib_decode_noheader_buffer
#undef stbi_zlib_decode_noheader_malloc
#pragma pop_macro("FAST_BITS")
#pragma pop_macro("STBIDEF")
#pragma pop_macro("STBI_ASSERT")
#pragma pop_macro("STBI_EXTERN")
#pragma pop_macro("STBI_FREE")
#pragma pop_macro("STBI_INCLUDE_STB_IMAGE_H")
#pragma pop_macro("STBI_MALLOC")
#pragma pop_macro("STBI_MAX_DIMENSIONS")
#pragma pop_macro("STBI_NOTUSED")
#pragma pop_macro("STBI_NO_HDR")
#pragma pop_macro("STBI_NO_LINEAR")
#pragma pop_macro("STBI_NO_PIC")
#pragma pop_macro("STBI_NO_PSD")
#pragma pop_macro("STBI_NO_STDIO")
#pragma pop_macro("STBI_NO_TGA")
#pragma pop_macro("STBI_REALLOC")
#pragma pop_macro("STBI_REALLOC_SIZED")
#pragma pop_macro("STBI_SIMD_ALIGN")
#pragma pop_macro("STBI_SSE2")
#pragma pop_macro("STBI_THREAD_LOCAL")
#pragma pop_macro("STBI_VERSION")
#pragma pop_macro("STBI__BYTECAST")
#pragma pop_macro("STBI__COMBO")
#pragma pop_macro("STBI__IDCT_1D")
#pragma pop_macro("STBI__MARKER_none")
#pragma pop_macro("STBI__PNG_TYPE")
#pragma pop_macro("STBI__RESTART")
#pragma pop_macro("STBI__X64_TARGET")
#pragma pop_macro("STBI__X86_TARGET")
#pragma pop_macro("STBI__ZFAST_BITS")
#pragma pop_macro("STBI__ZFAST_MASK")
#pragma pop_macro("STBI__ZNSYMS")
#pragma pop_macro("STB_IMAGE_IMPLEMENTATION")
#pragma pop_macro("STB_IMAGE_STATIC")
#pragma pop_macro("stbi__DNL")
#pragma pop_macro("stbi__EOI")
#pragma pop_macro("stbi__SOF")
#pragma pop_macro("stbi__SOF_progressive")
#pragma pop_macro("stbi__SOI")
#pragma pop_macro("stbi__SOS")
#pragma pop_macro("stbi__de_iphone_flag")
#pragma pop_macro("stbi__div16")
#pragma pop_macro("stbi__div4")
#pragma pop_macro("stbi__err")
#pragma pop_macro("stbi__errpf")
#pragma pop_macro("stbi__errpuc")
#pragma pop_macro("stbi__f2f")
#pragma pop_macro("stbi__float2fixed")
#pragma pop_macro("stbi__fsh")
#pragma pop_macro("stbi__unpremultiply_on_load")
#pragma pop_macro("stbi__vertically_flip_on_load")
#pragma pop_macro("stbi_inline")
#pragma pop_macro("stbi_lrot")
#pragma pop_macro("STBI_NO_SIMD")
#pragma pop_macro("STBI_NEON")
#pragma pop_macro("STBI_NO_JPEG")
#pragma pop_macro("STBI_NO_PNG")
#pragma pop_macro("STBI_NO_BMP")
#pragma pop_macro("STBI_NO_GIF")
#pragma pop_macro("STBI_NO_PNM")
#pragma pop_macro("STBI_ONLY_JPEG")
#pragma pop_macro("STBI_ONLY_PNG")
#pragma pop_macro("STBI_ONLY_BMP")
#pragma pop_macro("STBI_ONLY_TGA")
#pragma pop_macro("STBI_ONLY_GIF")
#pragma pop_macro("STBI_ONLY_PSD")
#pragma pop_macro("STBI_ONLY_HDR")
#pragma pop_macro("STBI_ONLY_PIC")
#pragma pop_macro("STBI_ONLY_PNM")
#pragma pop_macro("STBI_NO_FAILURE_STRINGS")
#pragma pop_macro("STBI_FAILURE_USERMSG")
#pragma pop_macro("STBI_NO_ZLIB")
#pragma pop_macro("STBI_SUPPORT_ZLIB")
#pragma pop_macro("STBI_NO_THREAD_LOCALS")
#pragma pop_macro("STBI_WINDOWS_UTF8")
#pragma pop_macro("STBI__HAS_LROTL")
#pragma pop_macro("STBI_MINGW_ENABLE_SSE2")
#pragma pop_macro("STBI_FORCE_SSE2")
#pragma pop_macro("stbi_convert_iphone_png_to_rgb")
#pragma pop_macro("stbi_convert_iphone_png_to_rgb_thread")
#pragma pop_macro("stbi_convert_wchar_to_utf8")
#pragma pop_macro("stbi_failure_reason")
#pragma pop_macro("stbi_hdr_to_ldr_gamma")
#pragma pop_macro("stbi_hdr_to_ldr_scale")
#pragma pop_macro("stbi_image_free")
#pragma pop_macro("stbi_info")
#pragma pop_macro("stbi_info_from_callbacks")
#pragma pop_macro("stbi_info_from_file")
#pragma pop_macro("stbi_info_from_memory")
#pragma pop_macro("stbi_is_16_bit")
#pragma pop_macro("stbi_is_16_bit_from_callbacks")
#pragma pop_macro("stbi_is_16_bit_from_file")
#pragma pop_macro("stbi_is_16_bit_from_memory")
#pragma pop_macro("stbi_is_hdr")
#pragma pop_macro("stbi_is_hdr_from_callbacks")
#pragma pop_macro("stbi_is_hdr_from_file")
#pragma pop_macro("stbi_is_hdr_from_memory")
#pragma pop_macro("stbi_ldr_to_hdr_gamma")
#pragma pop_macro("stbi_ldr_to_hdr_scale")
#pragma pop_macro("stbi_load")
#pragma pop_macro("stbi_load_16")
#pragma pop_macro("stbi_load_16_from_callbacks")
#pragma pop_macro("stbi_load_16_from_memory")
#pragma pop_macro("stbi_load_from_callbacks")
#pragma pop_macro("stbi_load_from_file")
#pragma pop_macro("stbi_load_from_file_16")
#pragma pop_macro("stbi_load_from_memory")
#pragma pop_macro("stbi_load_gif_from_memory")
#pragma pop_macro("stbi_loadf")
#pragma pop_macro("stbi_loadf_from_callbacks")
#pragma pop_macro("stbi_loadf_from_file")
#pragma pop_macro("stbi_loadf_from_memory")
#pragma pop_macro("stbi_set_flip_vertically_on_load")
#pragma pop_macro("stbi_set_flip_vertically_on_load_thread")
#pragma pop_macro("stbi_set_unpremultiply_on_load")
#pragma pop_macro("stbi_set_unpremultiply_on_load_thread")
#pragma pop_macro("stbi_zlib_decode_buffer")
#pragma pop_macro("stbi_zlib_decode_malloc")
#pragma pop_macro("stbi_zlib_decode_malloc_guesssize")
#pragma pop_macro("stbi_zlib_decode_malloc_guesssize_headerflag")
#pragma pop_macro("stbi_zlib_decode_noheader_buffer")
#pragma pop_macro("stbi_zlib_decode_noheader_malloc")
// ---- end of stb_image ----------------------------------------------------------------------

namespace fovea::detail {

// stb_image 2.27 (Debian's) trusts a JPEG's Huffman tables: more than 256 codes in one DHT table
// overflow its tables, and a scan that uses a table no DHT defined reads past its maxcode array
// (both found by fuzz_image). Walk the JPEG's marker segments, entropy-coded data included, and
// refuse such files before stb_image sees the bytes.
inline void check_jpeg_huffman_tables(const std::uint8_t* d, std::size_t n, const std::string& where) {
    // stb_image takes any run of 0xFF fill bytes before the SOI marker
    std::size_t p = 0;
    while (p < n && d[p] == 0xFF) ++p;
    if (p == 0 || p >= n || d[p] != 0xD8) return;  // not a JPEG
    ++p;
    auto at = [d, n](std::size_t i) -> std::size_t { return i < n ? d[i] : 0; };  // stb reads zeros past the end
    bool defined[2][4] = {};                                                     // [DC, AC][table id]
    while (p + 1 < n) {
        if (d[p] != 0xFF) {  // inside entropy-coded data: find the next marker
            ++p;
            continue;
        }
        const std::uint8_t m = d[p + 1];
        if (m == 0x00 || m == 0xFF || (m >= 0xD0 && m <= 0xD7) || m == 0x01) {  // stuffing, fill, RSTn, TEM
            p += m == 0xFF ? 1 : 2;
            continue;
        }
        if (m == 0xD9 || p + 3 >= n) return;  // EOI, or a truncated file stb will refuse
        const std::size_t len = (static_cast<std::size_t>(d[p + 2]) << 8) | d[p + 3];
        const std::size_t end = std::min(n, p + 2 + len);
        if (m == 0xC4) {  // DHT: count only the bytes that are there
            for (std::size_t q = p + 4; q < end;) {
                std::size_t codes = 0;
                for (std::size_t i = q + 1; i <= q + 16 && i < n; ++i) codes += d[i];
                if (codes > 256) fail(where, ": corrupt JPEG (Huffman table with ", codes, " codes, at most 256)");
                const std::size_t tc = d[q] >> 4, th = d[q] & 15;
                if (tc <= 1 && th <= 3) defined[tc][th] = true;
                q += 17 + codes;
            }
        }
        if (m == 0xDA) {  // SOS: the DC tables are used when Ss = 0 and Ah = 0, the AC tables when Se > 0
            const std::size_t ns = at(p + 4), tail = p + 5 + 2 * ns;
            const bool dc = at(tail) == 0 && (at(tail + 2) >> 4) == 0, ac = at(tail + 1) > 0;
            for (std::size_t c = 0; c < ns; ++c) {
                const std::size_t t = at(p + 6 + 2 * c), td = t >> 4, ta = t & 15;
                if ((dc && td <= 3 && !defined[0][td]) || (ac && ta <= 3 && !defined[1][ta]))
                    fail(where, ": corrupt JPEG (a scan uses a Huffman table that was never defined)");
            }
        }
        p += 2 + len;
    }
}

// stb_image 2.27 memcpy's a zero-length IDAT chunk through a null buffer when it comes first
// (undefined behaviour, found by fuzz_image). Such chunks carry no data: decode a copy without them.
inline bool drop_empty_png_idat(const std::uint8_t* d, std::size_t n, std::vector<std::uint8_t>& out) {
    static const std::uint8_t sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (n < 8 || std::memcmp(d, sig, 8) != 0) return false;
    auto be32 = [d](std::size_t p) {
        return (std::size_t{d[p]} << 24) | (std::size_t{d[p + 1]} << 16) | (std::size_t{d[p + 2]} << 8) | d[p + 3];
    };
    bool dropped = false;
    out.assign(d, d + 8);
    std::size_t p = 8;
    for (; p + 12 <= n; ) {  // length, type, data, CRC
        const std::size_t len = be32(p), end = p + 12 + len;
        if (len == 0 && std::memcmp(d + p + 4, "IDAT", 4) == 0) {
            dropped = true;
            p = end;
            continue;
        }
        if (len > n || end > n) break;  // truncated: the rest goes to stb as it is
        out.insert(out.end(), d + p, d + end);
        p = end;
    }
    out.insert(out.end(), d + p, d + n);
    return dropped;
}

// stb's reason for a failure; it can quote raw bytes of the file (a PNG chunk type), shown as '?'.
inline std::string stb_reason() {
    std::string r = stb::fovea_stbi_failure_reason() ? stb::fovea_stbi_failure_reason() : "unknown";
    for (char& c : r)
        if (c < 0x20 || c > 0x7E) c = '?';
    return r;
}

// JPEG or PNG bytes through stb_image.
inline Decoded decode_stb(const std::uint8_t* data, std::size_t size, const std::string& where) {
    check_jpeg_huffman_tables(data, size, where);
    std::vector<std::uint8_t> cleaned;
    if (drop_empty_png_idat(data, size, cleaned)) {
        data = cleaned.data();
        size = cleaned.size();
    }
    if (size > static_cast<std::size_t>(INT32_MAX)) fail(where, ": file too large for the image decoder");
    const int len = static_cast<int>(size);
    int w = 0, h = 0, n = 0;
    if (!stb::fovea_stbi_info_from_memory(data, len, &w, &h, &n)) fail(where, ": not a readable image (", stb_reason(), ")");
    Decoded out = new_decoded(where, w, h, n <= 2 ? 1 : 3);  // alpha is dropped, as convert() does
    const std::size_t count = static_cast<std::size_t>(w) * static_cast<std::size_t>(h);
    int dw = 0, dh = 0, dn = 0;
    if (n == 1 && stb::fovea_stbi_is_16_bit_from_memory(data, len)) {
        // 16-bit grey is Pillow's mode "I": convert() clips at 255 (other 16-bit formats keep the high byte)
        stb::stbi_us* p = stb::fovea_stbi_load_16_from_memory(data, len, &dw, &dh, &dn, 1);
        if (!p) fail(where, ": cannot decode image (", stb_reason(), ")");
        for (std::size_t i = 0; i < count; ++i) out.pixels[i] = static_cast<std::uint8_t>(p[i] > 255 ? 255 : p[i]);
        stb::fovea_stbi_image_free(p);
    } else {
        stb::stbi_uc* p = stb::fovea_stbi_load_from_memory(data, len, &dw, &dh, &dn, out.channels);
        if (!p) fail(where, ": cannot decode image (", stb_reason(), ")");
        std::memcpy(out.pixels.data(), p, out.pixels.size());
        stb::fovea_stbi_image_free(p);
    }
    if (dw != w || dh != h) fail(where, ": image header and data disagree on the size");
    return out;
}

}  // namespace fovea::detail

#endif  // !FOVEA_WITH_LIBJPEG || !FOVEA_WITH_LIBPNG
