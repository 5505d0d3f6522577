#!/usr/bin/env bash
# Build the hostile fixtures (packed and malformed shapes, issue 10) from
# the assembly sources in src/, reproducibly, with clang's integrated
# assembler and lld-link, then write the header lies no linker produces
# with testdata/gen/pepatch.  README.md says what each image is and what
# drvhazard must do with it.
#
#   bash testdata/hostile/build.sh
#
# Outputs: bin/<name>.sys.  Intermediate files go to build/, removed at
# the end (KEEP_BUILD=1 keeps them).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"   # testdata/hostile/: every path below is relative
export LC_ALL=C TZ=UTC SOURCE_DATE_EPOCH=0

# ---------------------------------------------------------------- toolchain
missing=()
command -v clang >/dev/null || missing+=(clang)
command -v lld-link >/dev/null || missing+=(lld)
ls /usr/bin/llvm-dlltool* >/dev/null 2>&1 || missing+=(llvm)
command -v go >/dev/null || { echo "hostile/build.sh: Go is required (testdata/gen/pepatch)" >&2; exit 1; }
if ((${#missing[@]})); then
    if [ "$(id -u)" != 0 ]; then
        echo "hostile/build.sh: missing packages ${missing[*]}; run as root or install them" >&2
        exit 1
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

# Debian installs versioned LLVM binaries (llvm-dlltool-14 ...); prefer the
# unversioned name, else the newest versioned one (as testdata/build.sh).
llvm_tool() {
    local t
    if t=$(command -v "$1"); then echo "$t"; return; fi
    t=$(ls /usr/bin/"$1"-[0-9]* 2>/dev/null | sort -V | tail -n 1)
    [ -n "$t" ] || { echo "hostile/build.sh: $1 not found" >&2; exit 1; }
    echo "$t"
}
LLVM_DLLTOOL=$(llvm_tool llvm-dlltool)
LLD_LINK=$(llvm_tool lld-link)
CLANG=$(llvm_tool clang)

BUILD=build
rm -rf "$BUILD"
mkdir -p "$BUILD" bin

"$LLVM_DLLTOOL" -m i386:x86-64 -d ../lib/ntoskrnl.def -l "$BUILD/ntoskrnl.lib"
(cd ../.. && go build -o testdata/hostile/$BUILD/pepatch ./testdata/gen/pepatch)

# ------------------------------------------------------------------- flags
# The flags of testdata/build.sh's clang images, without debug info (the
# images carry no PDB path): /Brepro makes the timestamp a hash of the
# contents.
ASFLAGS=(--target=x86_64-pc-windows-msvc -Isrc)
LLD_FLAGS=(/driver /subsystem:native /entry:DriverEntry /nodefaultlib /Brepro
    /base:0x140000000 /opt:ref /opt:noicf)

# image NAME SOURCE [clang flags...] [-- lld-link flags...]
image() {
    local name=$1 src=$2 cflags=() lflags=()
    shift 2
    while (($#)) && [ "$1" != -- ]; do cflags+=("$1"); shift; done
    (($#)) && shift
    lflags=("$@")
    "$CLANG" "${ASFLAGS[@]}" "${cflags[@]}" -c "src/$src.S" -o "$BUILD/$name.obj"
    "$LLD_LINK" "${LLD_FLAGS[@]}" "${lflags[@]}" /out:"bin/$name.sys" "$BUILD/$name.obj" "$BUILD/ntoskrnl.lib"
}

# lie NAME [pepatch flags...]: write header lies into bin/NAME.sys.
lie() {
    local name=$1
    shift
    "$BUILD/pepatch" -discard '' "$@" "bin/$name.sys"
}

# ------------------------------------------------------------------- images
rm -f bin/*.sys

# Code across sections, chained unwind data that leads astray.
image xsection xsection
image chain_xsec chain_xsec
image chain_data chain_data
image chain_outside chain_outside

# Packer layouts: code in .data, an entry in .vmp0, overlapping streams.
image code_in_data code_in_data -- /section:.data,ERW
image vmp0 vmp0 -- /section:.vmp1,ERW
image overlap overlap

# Tables that point anywhere.
image jumptables jumptables
image selfref selfref -- /section:.hdata,ERW

# Many sections: 96 is the loader's limit, 97 is refused.  Section
# alignment 0x40 (FileAlignment = SectionAlignment, the PE format's
# small-alignment mode) keeps 96 sections in 11 KB.
image sections96 sections -- /align:0x40 /filealign:0x40
image sections97 sections -DSECTIONS97 -- /align:0x40 /filealign:0x40

# Entry points outside every section.
image entry_outside plain
lie entry_outside -entry 0x7fff0000
image entry_header plain
lie entry_header -entry 0x40

# Section sizes that lie.
image rawsize_eof plain
lie rawsize_eof -section .text:rawsize=0x100000
image rawptr_eof plain
lie rawptr_eof -section .text:rawptr=0x100000
image vsize_small vsize_small
lie vsize_small -section .text:vsize=0x30
image rawsize0 rawsize0
lie rawsize0 -section .vmp0:rawsize=0

# A CodeView debug entry whose SizeOfData (0x18) is too short for its
# record: lld-link /Brepro's REPRO entry, retyped.
image debug_cv debug_cv
lie debug_cv -debug 0:type=2,size=0x18,rva=.cvdata+0,ptr=.cvdata+0

# .pdata and relocations that point at garbage.
image pdata_bad pdata_bad
image relocs relocs
# DIR64 on DriverEntry's code and on the headers, on the first IAT slot
# (lld-link puts the IAT at the start of .rdata), HIGHLOW on .data, HIGHADJ
# (its parameter is the entry after it) and the undefined type 15.
lie relocs -reloc .text+0x3:10,0x10:10,.rdata+0x0:10,.data+0x4:3,.data+0x10:4,.data+0x18:0,.text+0x8:15
image reloc_outside plain
lie reloc_outside -reloc 0x7fff0000:10
# A DIR64 fixup whose 8 bytes straddle the end of the image (SizeOfImage is
# .reloc's RVA + 0x1000): the block's page is inside, the fixup is not.
image reloc_tail plain
lie reloc_tail -reloc .reloc+0xffc:10

# KEEP_BUILD=1 keeps build/ (objects, import library, pepatch) for inspection.
[ "${KEEP_BUILD:-0}" = 1 ] || rm -rf "$BUILD"
(cd bin && sha256sum -- *.sys)
