"""The Python package fovea, built by this repository's CMake (python/CMakeLists.txt).

    python3 -m pip install --no-build-isolation .

Offline, with Debian's packages alone (cmake, g++, pybind11-dev, python3-dev, python3-numpy,
python3-setuptools, python3-wheel). CMAKE_BUILD_TYPE (default Release), CMAKE_BUILD_PARALLEL_LEVEL
and the usual CMake variables of the environment apply. FOVEA_CMAKE_BUILD_DIR names a build tree of
this checkout, configured with the module (the default on Debian), to take the module from there
instead of configuring and compiling a second time (CI does, after its GCC build).
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).resolve().parent
VERSION = re.search(r'FOVEA_VERSION_STRING "([^"]+)"', (ROOT / "include/fovea/version.hpp").read_text()).group(1)


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        if os.environ.get("FOVEA_CMAKE_BUILD_DIR"):
            build = pathlib.Path(os.environ["FOVEA_CMAKE_BUILD_DIR"]).resolve()
            if not (build / "CMakeCache.txt").is_file():
                sys.exit(f"error: FOVEA_CMAKE_BUILD_DIR={build} is not a CMake build tree")
        else:
            build = pathlib.Path(self.build_temp).resolve() / "cmake"
            subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build),
                            f"-DCMAKE_BUILD_TYPE={os.environ.get('CMAKE_BUILD_TYPE', 'Release')}",
                            f"-DPython3_EXECUTABLE={sys.executable}", "-DFOVEA_BUILD_PYTHON=ON", "-DFOVEA_BUILD_TESTS=OFF",
                            "-DFOVEA_BUILD_EXAMPLES=OFF", "-DFOVEA_INSTALL=OFF"], check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        subprocess.run(["cmake", "--build", str(build), "--target", "_fovea", "-j", jobs], check=True)
        built = next((build / "python/fovea").glob("_fovea*.so"))
        target = pathlib.Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)


setup(
    name="fovea",
    version=VERSION,
    description="timm's vision transformers on the CPU: ViT, DeiT, DINOv2, BEiT, Swin from timm checkpoints",
    license="MIT",
    python_requires=">=3.9",
    install_requires=["numpy"],
    packages=["fovea"],
    package_dir={"": "python"},
    package_data={"fovea": ["__init__.pyi", "py.typed"]},
    ext_modules=[Extension("fovea._fovea", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    zip_safe=False,
)
