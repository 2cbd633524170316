#!/usr/bin/env python3
"""Two promises of fovea's headers, checked with a compiler:

1. every header under include/fovea compiles on its own (it includes what it uses), without a
   warning under the strict set a downstream program may use (tests/consumers: -Wconversion ...).
   Headers are compiled as a program linking fovea::compiled sees them (FOVEA_COMPILED: public
   headers declare, each -inl header holds its definitions and is compiled alone too), and
   <fovea/fovea.hpp> once more header-only, where the public headers pull their -inl headers in:
   together that is every line of every header, without compiling the definitions once per
   header that includes model.hpp;
2. including them defines no macro but FOVEA_VERSION*: compared with a file that includes the same
   dependencies alone (the C and C++ standard libraries, Eigen, nlohmann_json, stb_image, libjpeg, libpng,
   intrinsics), every
   other macro fovea defines must be undefined again. Names that begin with '_' belong to the
   compiler and library (include guards) and are left out.

  check_headers.py --compiler g++ --include include [-I... for Eigen]
"""
import argparse
import concurrent.futures
import pathlib
import re
import subprocess
import sys
import tempfile

DEPENDENCIES = """
#include <Eigen/Core>
#include <Eigen/Eigenvalues>
#include <nlohmann/json.hpp>
#if __has_include(<stb/stb_image.h>)
#include <stb/stb_image.h>
#endif
#include <csetjmp>
#ifdef FOVEA_WITH_LIBJPEG
#include <jpeglib.h>
#endif
#ifdef FOVEA_WITH_LIBPNG
#include <png.h>
#endif
#include <immintrin.h>
#include <cpuid.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <unistd.h>
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <regex>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
"""


def macros(compiler, flags, text):
    with tempfile.NamedTemporaryFile("w", suffix=".cpp") as f:
        f.write(text)
        f.flush()
        r = subprocess.run([compiler, "-std=c++20", "-dM", "-E", *flags, f.name], capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"{compiler}: cannot preprocess:\n{r.stderr[-3000:]}")
        return {re.split(r"[ (]", line, maxsplit=2)[1] for line in r.stdout.splitlines() if line.startswith("#define ")}


# What tests/consumers/CMakeLists.txt builds its strict program with.
STRICT = ["-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Wsign-conversion", "-Werror"]


def compiles_alone(compiler, flags, header, compiled=True):
    with tempfile.NamedTemporaryFile("w", suffix=".cpp") as f:
        f.write(("#define FOVEA_COMPILED\n" if compiled else "") + f"#include <{header}>\n")
        f.flush()
        r = subprocess.run([compiler, "-std=c++20", "-fsyntax-only", *STRICT, *flags, f.name], capture_output=True, text=True)
        return header, r.returncode, r.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compiler", required=True)
    ap.add_argument("--include", required=True, help="fovea's include folder")
    ap.add_argument("-I", dest="extra", action="append", default=[])
    ap.add_argument("-D", dest="defines", action="append", default=[], help="as the fovea target defines (FOVEA_WITH_LIBJPEG)")
    a = ap.parse_args()
    flags = [f"-I{a.include}", *[f"-isystem{i}" for i in a.extra if i.rstrip("/") != "/usr/include"], *[f"-D{d}" for d in a.defines]]
    root = pathlib.Path(a.include)
    headers = sorted(str(p.relative_to(root)) for p in root.rglob("*.hpp"))

    failed = []
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        jobs = [(h, True) for h in headers] + [("fovea/fovea.hpp", False)]
        # the slowest first, so the two workers finish together
        jobs.sort(key=lambda j: (not j[0].endswith("-inl.hpp"), j[1]))
        for header, rc, err in ex.map(lambda j: compiles_alone(a.compiler, flags, *j), jobs):
            if rc:
                failed.append(f"{header} does not compile on its own without warnings:\n{err[-1500:]}")
    every = "".join(f"#include <{h}>\n" for h in headers if not h.endswith("-inl.hpp"))
    leaked = sorted(m for m in macros(a.compiler, flags, DEPENDENCIES + every) - macros(a.compiler, flags, DEPENDENCIES)
                    if not m.startswith("_") and not m.startswith("FOVEA_VERSION"))
    if leaked:
        failed.append(f"macros left defined by fovea's headers: {' '.join(leaked)}")
    if failed:
        sys.exit("\n".join(failed))
    print(f"{a.compiler}: {len(headers)} headers compile on their own; no macro leaks but FOVEA_VERSION*")


if __name__ == "__main__":
    main()
