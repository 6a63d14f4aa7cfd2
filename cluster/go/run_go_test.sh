#!/bin/sh
# Runs the Go scenario (cluster/go/src/eskitcluster) against a fresh 3-node cluster, offline:
# GOPATH mode over Debian's /usr/share/gocode (golang-go, golang-github-canonical-go-dqlite-dev).
#   run_go_test.sh CLUSTER_RUN GO_SRC_DIR BUILD_DIR
# Exit 77 (skipped) when Go or go-dqlite's sources are missing.
set -eu
cluster_run=$1
gopath_src=$2
build_dir=$3
if ! command -v go >/dev/null 2>&1; then
    echo "go scenario skipped: no go command (Debian package golang-go)"
    exit 77
fi
if [ ! -d /usr/share/gocode/src/github.com/canonical/go-dqlite/driver ]; then
    echo "go scenario skipped: go-dqlite sources missing (golang-github-canonical-go-dqlite-dev)"
    exit 77
fi
export GO111MODULE=off
export GOPATH="$gopath_src:/usr/share/gocode"
export GOCACHE="$build_dir/go-cache"
export GOFLAGS=
export GOPROXY=off
export HOME="${HOME:-$build_dir}"
exec "$cluster_run" -- go test -count=1 -v eskitcluster
