#!/usr/bin/env python3
"""Every ```cpp block of the README compiles, as a newcomer would paste it.

Each block becomes one file: its #include lines at the top (after <fovea/fovea.hpp>), the rest
the body of a function. Blocks that use `model` or `x` without declaring them (they continue the
README's first example) get them as the function's parameters. Compiled with -fsyntax-only
against fovea's declarations (FOVEA_COMPILED), so this checks the API the README shows.

  check_readme.py --compiler g++ --readme README.md --include include [-I DIR...] [-D MACRO...]
"""
import argparse
import re
import subprocess
import sys
import tempfile


def blocks(text):
    return re.findall(r"^```cpp\n(.*?)^```", text, re.S | re.M)


def source(block):
    includes = [l for l in block.splitlines() if l.startswith("#include")]
    body = [l for l in block.splitlines() if not l.startswith("#include")]
    params = []
    if not re.search(r"\bfovea::Model\s+model\b", block):
        params.append("const fovea::Model& model")
    if not re.search(r"\bTensor<float, \d>\s+x\b", block):
        params.append("const fovea::Tensor<float, 4>& x")
    return ("#include <cstdio>\n#include <vector>\n#include <fovea/fovea.hpp>\n" + "\n".join(includes) +
            "\n\nvoid readme_block(" + ", ".join(params) + ") {\n" + "\n".join(body) + "\n}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compiler", required=True)
    ap.add_argument("--readme", required=True)
    ap.add_argument("--include", required=True)
    ap.add_argument("-I", dest="extra", action="append", default=[])
    ap.add_argument("-D", dest="defines", action="append", default=[])
    a = ap.parse_args()
    with open(a.readme) as f:
        found = blocks(f.read())
    if not found:
        sys.exit("no ```cpp blocks in " + a.readme)
    failed = 0
    for i, block in enumerate(found, 1):
        with tempfile.NamedTemporaryFile("w", suffix=".cpp") as f:
            f.write(source(block))
            f.flush()
            r = subprocess.run([a.compiler, "-std=c++20", "-fsyntax-only", "-Wall", "-Wno-unused", "-DFOVEA_COMPILED",
                                f"-I{a.include}", *[f"-isystem{d}" for d in a.extra if d.rstrip("/") != "/usr/include"], *[f"-D{d}" for d in a.defines], f.name],
                               capture_output=True, text=True)
        if r.returncode:
            failed += 1
            print(f"README block {i} does not compile:\n{block}\n{r.stderr[-3000:]}")
    if failed:
        sys.exit(f"{failed} of {len(found)} README blocks do not compile")
    print(f"{a.compiler}: all {len(found)} README C++ blocks compile")


if __name__ == "__main__":
    main()
