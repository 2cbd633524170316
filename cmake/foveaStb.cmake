# stb_image's headers (<stb/stb_image.h>; Debian and Ubuntu: libstb-dev) as the target fovea::stb,
# found where fovea is configured and again where its installed package is used.
if(NOT TARGET fovea::stb)
  find_path(FOVEA_STB_INCLUDE_DIR stb/stb_image.h)
  if(NOT FOVEA_STB_INCLUDE_DIR)
    message(FATAL_ERROR "fovea decodes images with stb_image, and <stb/stb_image.h> was not found: install it "
                        "(Debian, Ubuntu: apt-get install libstb-dev) or set FOVEA_STB_INCLUDE_DIR to the folder "
                        "that holds stb/stb_image.h")
  endif()
  add_library(fovea::stb INTERFACE IMPORTED GLOBAL)
  set_target_properties(fovea::stb PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${FOVEA_STB_INCLUDE_DIR}")
endif()
