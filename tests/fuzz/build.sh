#!/usr/bin/env bash
# Builds the libFuzzer targets of eskit with clang++ (the project itself builds with g++).
#
#   tests/fuzz/build.sh [BUILD_DIR]      # default: build-fuzz/ (relative to the repository root)
#
# Compiles every ext/*.cpp with -DSQLITE_CORE (the eskit_core configuration of ext/meson.build),
# the facade's codec layer (facade/src: wire, value, codec, json_codec, cbor_codec) and each harness tests/fuzz/fuzz_*.cpp, instrumented
# for libFuzzer, ASan and UBSan, and links them against Debian's libsqlite3 and libsimdjson:
# fuzz_codecs with the facade objects, the other harnesses with the ext objects. Generated headers (migrations.h from
# sql/schema/*.sql via tools/embed_sql.py, version.h from ext/version.h.in) go to BUILD_DIR/gen.
# Objects are rebuilt only when a source or header is newer. Environment: CXX (default clang++),
# JOBS (parallel compiles, default nproc), FUZZ_EXTRA_FLAGS (appended to the compile flags).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/build-fuzz}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
CXX="${CXX:-clang++}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

if ! command -v "$CXX" >/dev/null 2>&1; then
    echo "build.sh: $CXX not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
    exit 2
fi

mkdir -p "$out/gen/eskit" "$out/obj"
# <eskit/codes.h>, the error table the facade's headers include (meson copies it likewise).
cmp -s "$root/ext/codes.h" "$out/gen/eskit/codes.h" || cp "$root/ext/codes.h" "$out/gen/eskit/codes.h"

# --- generated headers -------------------------------------------------------------------
version="$(sed -n "s/^ *version: *'\([^']*\)'.*/\1/p" "$root/meson.build" | head -n1)"
version="${version:-0.0.0}"
build_flags="fuzz sanitize=fuzzer,address,undefined"
tmp="$out/gen/version.h.tmp"
sed -e "s|@VERSION@|$version|" -e "s|@BUILD_FLAGS@|$build_flags|" "$root/ext/version.h.in" > "$tmp"
if cmp -s "$tmp" "$out/gen/version.h"; then rm -f "$tmp"; else mv "$tmp" "$out/gen/version.h"; fi

# current.sql (the layout of a new store) first, then the numbered files and the files they
# include (v3_objects.sql; see embed_sql.py), as sql/meson.build passes them.
schema_files=()
for f in "$root"/sql/schema/*.sql; do
    [[ "$(basename "$f")" == current.sql ]] || schema_files+=("$f")
done
python3 "$root/tools/embed_sql.py" "$out/gen/migrations.h.tmp" "$root/sql/schema/current.sql" \
    "${schema_files[@]}"
if cmp -s "$out/gen/migrations.h.tmp" "$out/gen/migrations.h"; then
    rm -f "$out/gen/migrations.h.tmp"
else
    mv "$out/gen/migrations.h.tmp" "$out/gen/migrations.h"
fi

# --- compile -------------------------------------------------------------------------------
flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -DSQLITE_CORE -I"$out/gen" -I"$root/ext" -I"$root/facade/include" ${FUZZ_EXTRA_FLAGS:-})

headers=("$root"/ext/*.h "$here"/*.h "$out/gen/version.h" "$out/gen/migrations.h"
         "$root"/facade/include/eskit/*.hpp "$root"/facade/include/eskit/detail/*.hpp
         "$root"/facade/src/*.hpp)
newest_header=""
for h in "${headers[@]}"; do
    if [[ -z "$newest_header" || "$h" -nt "$newest_header" ]]; then newest_header="$h"; fi
done

compile() {  # src obj
    local src="$1" obj="$2"
    if [[ -f "$obj" && "$obj" -nt "$src" && "$obj" -nt "$newest_header" && "$obj" -nt "$here/build.sh" ]]; then
        return 0
    fi
    echo "  CXX $(basename "$src")"
    "$CXX" "${flags[@]}" -c "$src" -o "$obj"
}

# Objects of sources that no longer exist would be linked in with the others.
for obj in "$out"/obj/ext_*.o; do
    [[ -e "$obj" ]] || continue
    name="$(basename "$obj" .o)"
    [[ -f "$root/ext/${name#ext_}.cpp" ]] || rm -f "$obj"
done

pids=()
fail=0
codec_srcs=()
for f in wire value codec json_codec cbor_codec; do codec_srcs+=("$root/facade/src/$f.cpp"); done
srcs=("$root"/ext/*.cpp "${codec_srcs[@]}" "$here"/fuzz_*.cpp)
for src in "${srcs[@]}"; do
    name="$(basename "$src" .cpp)"
    case "$src" in
        "$here"/*) obj="$out/obj/harness_$name.o" ;;
        "$root"/facade/*) obj="$out/obj/facade_$name.o" ;;
        *) obj="$out/obj/ext_$name.o" ;;
    esac
    compile "$src" "$obj" &
    pids+=($!)
    if (( ${#pids[@]} >= JOBS )); then
        wait "${pids[0]}" || fail=1
        pids=("${pids[@]:1}")
    fi
done
for p in "${pids[@]}"; do wait "$p" || fail=1; done
if (( fail )); then echo "build.sh: compilation failed" >&2; exit 1; fi

# --- link ------------------------------------------------------------------------------------
for src in "$here"/fuzz_*.cpp; do
    name="$(basename "$src" .cpp)"
    echo "  LINK $name"
    case "$name" in
        fuzz_codecs) objs=("$out"/obj/facade_*.o) ;;
        *) objs=("$out"/obj/ext_*.o) ;;
    esac
    "$CXX" "${flags[@]}" "$out/obj/harness_$name.o" "${objs[@]}" \
        -lsqlite3 -lsimdjson -o "$out/$name"
done
echo "build.sh: fuzz targets in $out"
