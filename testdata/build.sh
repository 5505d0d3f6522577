#!/usr/bin/env bash
# Build every drvhazard test fixture driver from source, reproducibly, in
# the optimisation matrix real drivers ship in: mingw-w64 gcc + GNU ld at
# -O0, -O2 and -O3, clang + lld-link at -O0, -O2 and -O2 with full LTO.
#
#   bash testdata/build.sh
#
# Outputs (all under testdata/bin/):
#   <name>.gcc.sys           gcc -O2, pinned (-fno-ipa-*: one symbol per
#                            source function), keeps its COFF symbol table
#   <name>.gcc.stripped.sys  the same image after strip (same layout)
#   <name>.gcc-O0.sys        gcc -O0 (a Debug build), symbol table kept
#   <name>.gcc-O3.sys        gcc -O3, free to clone (.isra/.constprop/.part/
#                            .cold), symbol table kept
#   <name>.clang.sys         clang -O2 (no symbol table, like MSVC output)
#   <name>.clang-O0.sys      clang -O0
#   <name>.clang-lto.sys     clang -O2 -flto=full, optimised again by lld-link
#   <name>.<clang build>.pdb its PDB (CodeView debug info, lld-link /debug)
#   <name>.<build>.syms      "0x<RVA> <name>" per function symbol in an
#                            executable section, sorted by RVA (the stripped
#                            image shares <name>.gcc.syms)
# The scale fixture (large) is built as <name>.gcc[.stripped].sys and
# <name>.clang.sys only; the reject fixtures (bad_x86, bad_arm64) with clang
# -O2 only; the C++ fixtures (src/*.cpp) in the three clang builds only.
# Intermediate files go to testdata/build/, removed at the end.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"   # testdata/: every path below is relative
export LC_ALL=C TZ=UTC SOURCE_DATE_EPOCH=0

# ---------------------------------------------------------------- toolchains
missing=()
command -v x86_64-w64-mingw32-gcc >/dev/null || missing+=(gcc-mingw-w64-x86-64)
command -v x86_64-w64-mingw32-dlltool >/dev/null || missing+=(binutils-mingw-w64-x86-64)
command -v clang >/dev/null || missing+=(clang)
command -v lld-link >/dev/null || missing+=(lld)
ls /usr/bin/llvm-dlltool* >/dev/null 2>&1 || missing+=(llvm)
command -v go >/dev/null || { echo "build.sh: Go is required (go run ./testdata/gen/...)" >&2; exit 1; }
if ((${#missing[@]})); then
    if [ "$(id -u)" != 0 ]; then
        echo "build.sh: missing packages ${missing[*]}; run as root or install them" >&2
        exit 1
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

# Debian installs versioned LLVM binaries (llvm-dlltool-14 ...); prefer the
# unversioned name, else the newest versioned one.
llvm_tool() {
    local t
    if t=$(command -v "$1"); then echo "$t"; return; fi
    t=$(ls /usr/bin/"$1"-[0-9]* 2>/dev/null | sort -V | tail -n 1)
    [ -n "$t" ] || { echo "build.sh: $1 not found" >&2; exit 1; }
    echo "$t"
}
LLVM_DLLTOOL=$(llvm_tool llvm-dlltool)
LLD_LINK=$(llvm_tool lld-link)
CLANG=$(llvm_tool clang)
MINGW=x86_64-w64-mingw32

IMAGE_BASE=0x140000000
BUILD=build
rm -rf "$BUILD"
mkdir -p "$BUILD/lib" bin

# ------------------------------------------------------------ import libraries
for lib in ntoskrnl fltmgr hal; do
    $MINGW-dlltool --deterministic-libraries -m i386:x86-64 -t "$BUILD/lib/${lib}_" \
        -d "lib/$lib.def" -l "$BUILD/lib/lib$lib.a"
    # llvm-dlltool writes an explicit ordinal as the import's hint, GNU
    # dlltool writes every ordinal (implicit ones are numbered in name order
    # from the lowest explicit one, else from 1).  The .def files number
    # their exports so that routines added later do not renumber the ones
    # before them in the GNU images; lld-link's images keep hint 0.
    sed 's/ @[0-9]*$//' "lib/$lib.def" >"$BUILD/lib/$lib.def"
    "$LLVM_DLLTOOL" -m i386:x86-64 -d "$BUILD/lib/$lib.def" -l "$BUILD/lib/$lib.lib"
done
mkdir -p "$BUILD/lib/arm64" "$BUILD/lib/x86"
"$LLVM_DLLTOOL" -m arm64 -d "$BUILD/lib/ntoskrnl.def" -l "$BUILD/lib/arm64/ntoskrnl.lib"
"$LLVM_DLLTOOL" -m i386 -d lib/ntoskrnl.x86.def -l "$BUILD/lib/x86/ntoskrnl.lib"

# --------------------------------------------------------- generated sources
# The large driver is generated (deterministically); its truth file is
# regenerated into src/ so that it always matches the generator.
(cd .. && go run ./testdata/gen/largedrv -o testdata/$BUILD/large.c -truth testdata/src/large.truth)
(cd .. && go build -o testdata/$BUILD/pepatch ./testdata/gen/pepatch)

# ------------------------------------------------------------------- flags
# The O2 builds (<name>.gcc.sys, <name>.clang.sys) are the reference: in
# the gcc one, -fno-ipa-*/-fno-partial-inlining/-fno-reorder-blocks-and-
# partition keep every source function a single symbol (no .isra/.constprop/
# .part/.cold clones, no identical-code folding), so that every edge of the
# truth files can be named.  The other builds are what drivers ship: -O0 is
# the Debug build, gcc -O3 and clang LTO the release builds, with nothing
# held back but the sources' own noinline.
GCC_MACHINE=(-ffreestanding -nostdlib -fno-stack-protector -mno-red-zone)
GCC_PINNED=(-fno-ipa-icf -fno-ipa-cp-clone -fno-ipa-sra -fno-partial-inlining
    -fno-reorder-blocks-and-partition)
GCC_WARN=(-Wall -Wextra -Wno-multichar -Iinclude)
GCC_CFLAGS=(-O2 "${GCC_MACHINE[@]}" "${GCC_PINNED[@]}" "${GCC_WARN[@]}")
GCC_O0_CFLAGS=(-O0 "${GCC_MACHINE[@]}" "${GCC_WARN[@]}")
GCC_O3_CFLAGS=(-O3 "${GCC_MACHINE[@]}" "${GCC_WARN[@]}")
GCC_LDFLAGS=(-Wl,--subsystem,native -Wl,--entry,DriverEntry -Wl,--image-base,$IMAGE_BASE
    -Wl,--file-alignment,0x200 -Wl,--section-alignment,0x1000 -Wl,--dynamicbase
    -Wl,--nxcompat -Wl,--no-insert-timestamp)
GCC_LIBS=(-L"$BUILD/lib" -lfltmgr -lntoskrnl -lhal -lgcc)

CLANG_COMMON=(-ffreestanding -funwind-tables -fno-stack-protector -mno-red-zone
    -Wall -Wextra -Wno-multichar -Iinclude)
CLANG_CFLAGS=(-O2 "${CLANG_COMMON[@]}")
CLANG_O0_CFLAGS=(-O0 "${CLANG_COMMON[@]}")
# Full LTO: the objects are LLVM bitcode, and lld-link optimises the whole
# driver at once (its default /opt:lldlto=2) before generating code.
CLANG_LTO_CFLAGS=(-O2 -flto=full "${CLANG_COMMON[@]}")
# C++ fixtures (src/*.cpp) are built with clang alone, for the MSVC C++ ABI
# that Windows drivers are compiled to; a driver has no C++ runtime.
CLANGXX_FLAGS=(-std=c++17 -fno-exceptions -fno-rtti)
LLD_FLAGS=(/driver /subsystem:native /entry:DriverEntry /nodefaultlib /Brepro
    /base:$IMAGE_BASE /opt:ref /opt:noicf)
# The clang images get a PDB, bin/<name>.clang.pdb. The paths inside it do
# not depend on where the tree is checked out: the compiler records "." as
# its working directory (-ffile-compilation-dir), and lld-link makes the
# relative paths of sources and objects absolute under a fixed, made-up root
# (/pdbsourcepath), as a Windows build would have them. The image's CodeView
# record names the PDB by its file name alone (/pdbaltpath:%_PDB%), and
# /Brepro makes the PDB's GUID a hash of its contents. /debug adds a
# CodeView entry and record to the debug directory in .rdata, which moves
# what lld-link places after it (the import tables, .xdata, the load
# configuration) by a few dozen bytes; code and data before it do not move.
CLANG_DEBUG=(-g -gcodeview -ffile-compilation-dir=.)
LLD_DEBUG=(/debug /pdbaltpath:%_PDB% '/pdbsourcepath:C:\drvhazard\testdata')
CLANG_LIBS=("$BUILD/lib/fltmgr.lib" "$BUILD/lib/ntoskrnl.lib" "$BUILD/lib/hal.lib")

# Per-fixture extras.
gcc_extra() {
    case "$1" in
        thunks) echo -DFIXTURE_NO_DLLIMPORT ;;
    esac
}
clang_extra() {
    case "$1" in
        thunks) echo -DFIXTURE_NO_DLLIMPORT ;;
        cfguard) echo -Xclang -cfguard ;;
    esac
}
lld_extra() {
    case "$1" in
        cfguard) echo /guard:cf ;;
        mf_init) echo /section:INIT,RD ;;  # data-only INIT, discardable (WDK: /SECTION:INIT,D)
        hvci_wx) echo /section:WXCODE,ERW ;;  # the W+X code section KD5001 reports
    esac
}
# pepatch options for the gcc images, beyond -discard INIT (GNU ld cannot
# set section attributes).
pepatch_extra() {
    case "$1" in
        hvci_wx) echo -write WXCODE ;;  # = /section:WXCODE,ERW
    esac
}

# ------------------------------------------------------------ .syms writers
# (mawk has no strtonum: a portable hex parser shared by the awk scripts)
HEX_AWK='
function hex(s,   i, v) {
    v = 0; s = tolower(s); sub(/^0x/, "", s)
    for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
    return v
}'
# gcc: from the image's own COFF symbol table.  Keep external/static symbols
# of executable sections (compiled functions, asm functions, libgcc's
# ___chkstk_ms, the import thunks named after their import); drop section
# section symbols (.text, PAGE, ...) and the labels GNU ld's default script
# defines (__CTOR_LIST__, ___crt_xc_end__, __end__ ...: all named __*__).
gcc_syms() {
    local img=$1 out=$2
    {
        $MINGW-objdump -h "$img" | awk '
            /^ *[0-9]+ / { idx = $1 + 1; vma = $4; print "N", $2; next }
            idx && /CODE/ { print "S", idx, vma; idx = 0 }'
        $MINGW-objdump -t "$img" | sed -n \
            's/^\[ *[0-9]*\](sec *\([0-9-]*\))(fl [^)]*)(ty *[0-9a-f]*)(scl *\([0-9]*\)) (nx [0-9]*) 0x\([0-9a-f]*\) \(.*\)$/Y \1 \2 \3 \4/p'
    } | awk -v base=$IMAGE_BASE "$HEX_AWK"'
        $1 == "N" { secname[$2] = 1; next }
        $1 == "S" { code[$2] = hex($3); next }
        $1 == "Y" && ($2 in code) && ($3 == 2 || $3 == 3) {
            name = $5
            if (name ~ /^\./ || (name in secname) || name ~ /^__.*__$/) next
            printf "%012x %s\n", code[$2] + hex($4) - hex(base), name
        }' | sort -u | sed 's/^0*\([0-9a-f]\)/0x\1/' >"$out"
}

# clang: from lld-link's /map (publics and statics) in executable sections;
# the image base is the map's "Preferred load address".
clang_syms() {
    local map=$1 out=$2
    awk "$HEX_AWK"'
        /Preferred load address is/ { base = $NF; next }
        /Publics by Value|Static symbols/ { insyms = 1; next }
        $1 !~ /^[0-9a-fA-F]+:[0-9a-fA-F]+$/ { next }
        !insyms && $2 ~ /H$/ { split($1, a, ":"); if ($4 == "CODE") code[a[1]] = 1; next }
        insyms {
            split($1, a, ":")
            if (!(a[1] in code)) next
            name = $2
            if (name ~ /^[.$]/) next
            printf "%012x %s\n", hex($3) - hex(base), name
        }' "$map" | sort -u | sed 's/^0*\([0-9a-f]\)/0x\1/' >"$out"
}

# ------------------------------------------------------------------ builders
build_gcc() {
    local name=$1 src=$2 img=bin/$name.gcc.sys
    # shellcheck disable=SC2046
    $MINGW-gcc "${GCC_CFLAGS[@]}" $(gcc_extra "$name") "$src" -o "$img" \
        "${GCC_LDFLAGS[@]}" -Wl,-Map,"$BUILD/$name.gcc.map" "${GCC_LIBS[@]}"
    $MINGW-strip -o "bin/$name.gcc.stripped.sys" "$img"
    # GNU ld cannot mark a section discardable; do what /SECTION:INIT,D does
    # (and /SECTION:...,W where pepatch_extra asks for it).
    # shellcheck disable=SC2046
    "$BUILD/pepatch" -discard INIT $(pepatch_extra "$name") "$img" "bin/$name.gcc.stripped.sys"
    gcc_syms "$img" "bin/$name.gcc.syms"
    # Stripping must not move code: same headers and section bytes.
    if ! cmp -s <($MINGW-objdump -h "$img" | tail -n +3) \
                <($MINGW-objdump -h "bin/$name.gcc.stripped.sys" | tail -n +3) \
       || ! cmp -s <($MINGW-objcopy -O binary -j .text "$img" /dev/stdout) \
                   <($MINGW-objcopy -O binary -j .text "bin/$name.gcc.stripped.sys" /dev/stdout); then
        echo "build.sh: strip changed the layout of $img" >&2
        exit 1
    fi
}

# A gcc build of the matrix other than the pinned O2 one: build_gcc_variant
# NAME SRC VARIANT CFLAGS... writes bin/NAME.VARIANT.sys (symbol table kept,
# INIT discardable as in the O2 images) and its .syms.
build_gcc_variant() {
    local name=$1 src=$2 variant=$3 img=bin/$1.$3.sys
    shift 3
    # shellcheck disable=SC2046
    $MINGW-gcc "$@" $(gcc_extra "$name") "$src" -o "$img" \
        "${GCC_LDFLAGS[@]}" -Wl,-Map,"$BUILD/$name.$variant.map" "${GCC_LIBS[@]}"
    # shellcheck disable=SC2046
    "$BUILD/pepatch" -discard INIT $(pepatch_extra "$name") "$img"
    gcc_syms "$img" "bin/$name.$variant.syms"
}

# build_clang NAME SRC VARIANT CFLAGS...: bin/NAME.VARIANT.sys, its PDB and
# .syms (from the lld-link map; with LTO the map lists the functions of the
# code lld-link generated).
build_clang() {
    local name=$1 src=$2 variant=$3 obj=$BUILD/$1.$3.obj img=bin/$1.$3.sys
    shift 3
    # shellcheck disable=SC2046
    "$CLANG" --target=x86_64-pc-windows-msvc "$@" "${CLANG_DEBUG[@]}" $(clang_extra "$name") \
        -c "$src" -o "$obj"
    # shellcheck disable=SC2046
    "$LLD_LINK" "${LLD_FLAGS[@]}" "${LLD_DEBUG[@]}" $(lld_extra "$name") /map:"$BUILD/$name.$variant.map" \
        /pdb:"bin/$name.$variant.pdb" /out:"$img" "$obj" "${CLANG_LIBS[@]}"
    clang_syms "$BUILD/$name.$variant.map" "bin/$name.$variant.syms"
}

# Reject fixtures: not x64.  The analyzer must refuse them.
build_reject() {
    local name=$1 src=$2 target=$3 machine=$4 libdir=$5 base=$6 obj img
    obj=$BUILD/$name.clang.obj
    img=bin/$name.clang.sys
    "$CLANG" --target="$target" "${CLANG_CFLAGS[@]}" -c "$src" -o "$obj"
    "$LLD_LINK" /driver /subsystem:native /entry:DriverEntry /nodefaultlib /Brepro /opt:ref /opt:noicf \
        /machine:"$machine" "$base" /map:"$BUILD/$name.clang.map" /out:"$img" "$obj" "$libdir/ntoskrnl.lib"
    clang_syms "$BUILD/$name.clang.map" "bin/$name.clang.syms"
}

# --------------------------------------------------------------------- build
# ONLY="name ..." rebuilds just those fixtures (development aid).
[ -n "${ONLY:-}" ] || rm -f bin/*.sys bin/*.syms bin/*.pdb
for src in src/*.c src/*.cpp "$BUILD/large.c"; do
    name=$(basename "$src")
    name=${name%.*}
    if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then continue; fi
    case "$src" in
        *.cpp)  # C++: clang's MSVC ABI only (README: no gcc build)
            build_clang "$name" "$src" clang "${CLANG_CFLAGS[@]}" "${CLANGXX_FLAGS[@]}"
            build_clang "$name" "$src" clang-O0 "${CLANG_O0_CFLAGS[@]}" "${CLANGXX_FLAGS[@]}"
            build_clang "$name" "$src" clang-lto "${CLANG_LTO_CFLAGS[@]}" "${CLANGXX_FLAGS[@]}"
            continue
            ;;
    esac
    case "$name" in
        bad_x86) build_reject "$name" "$src" i686-pc-windows-msvc x86 "$BUILD/lib/x86" /base:0x10000 ;;
        bad_arm64) build_reject "$name" "$src" aarch64-pc-windows-msvc arm64 "$BUILD/lib/arm64" /base:$IMAGE_BASE ;;
        large)  # the scale fixture: 1.3 MB of code per build, O2 only
            build_gcc "$name" "$src"
            build_clang "$name" "$src" clang "${CLANG_CFLAGS[@]}"
            ;;
        *)
            build_gcc "$name" "$src"
            build_gcc_variant "$name" "$src" gcc-O0 "${GCC_O0_CFLAGS[@]}"
            build_gcc_variant "$name" "$src" gcc-O3 "${GCC_O3_CFLAGS[@]}"
            build_clang "$name" "$src" clang "${CLANG_CFLAGS[@]}"
            build_clang "$name" "$src" clang-O0 "${CLANG_O0_CFLAGS[@]}"
            build_clang "$name" "$src" clang-lto "${CLANG_LTO_CFLAGS[@]}"
            ;;
    esac
done

# KEEP_BUILD=1 keeps build/ (maps, objects, generated large.c) for inspection.
[ "${KEEP_BUILD:-0}" = 1 ] || rm -rf "$BUILD"
(cd bin && sha256sum -- *.sys *.pdb)
