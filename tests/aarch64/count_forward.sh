#!/usr/bin/env bash
# Executed aarch64 instructions per multiply-add of one forward pass, counted under qemu-aarch64
# with the count_insns.c plugin: each program runs `--bench 1` and `--bench 2` at one thread (a
# warm-up and one or two passes), and the difference is one pass.
#   tests/aarch64/count_forward.sh WEIGHTS GMAC LABEL=PROGRAM[@ISA] ...
# WEIGHTS: a folder with model.safetensors + config.json (fovea-classify --weights); GMAC: the
# pass's multiply-adds in billions (ViT-B/16 at 224: 17.56); ISA: FOVEA_MAX_ISA for that program.
set -euo pipefail
weights=$1 gmac=$2
shift 2
plugin=$(mktemp --suffix=.so)
trap 'rm -f "$plugin"' EXIT
gcc -O2 -shared -fPIC -o "$plugin" "$(dirname "$0")/count_insns.c"
count() {  # PROGRAM ISA PASSES
    FOVEA_MAX_ISA=$2 qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu max -plugin "$plugin" "$1" --weights "$weights" \
        --bench "$3" --threads 1 2>&1 >/dev/null | sed -n 's/^count_insns: //p'
}
for spec in "$@"; do
    label=${spec%%=*} prog=${spec#*=} isa=
    [[ $prog == *@* ]] && isa=${prog#*@} prog=${prog%@*}
    (one=$(count "$prog" "$isa" 1) && two=$(count "$prog" "$isa" 2) &&
     python3 -c "import sys; d = int(sys.argv[2]) - int(sys.argv[1]); print(f'{sys.argv[3]}: {d / 1e9:.2f} G instructions per pass, {d / (float(sys.argv[4]) * 1e9):.3f} per multiply-add')" \
        "$one" "$two" "$label" "$gmac") &
done
wait
