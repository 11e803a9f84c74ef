#!/usr/bin/env bash
# Puts a working mediasoup-worker at node_modules/mediasoup/worker/out/Release/mediasoup-worker.
#
# Order: 1) a cached build (~/.cache/concord/mediasoup-worker/<version>-<patch hash>),
#        2) mediasoup's upstream prebuilt binary (when its release host is reachable),
#        3) a build against Debian system libraries (mediasoup-<version>-system-libs.patch, which
#           also carries the DTLS BIO fix without which a browser handshake crashes the worker).
# The result is cached outside the checkout so every fresh clone on this machine reuses it.
#
# Env: CONCORD_CACHE (default ~/.cache/concord), MS_WORKER_JOBS (default nproc),
#      MS_SKIP_APT=1 (never apt-get; fail naming what is missing), MS_SKIP_PREBUILT=1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
MS_DIR="$ROOT/node_modules/mediasoup"
CACHE="${CONCORD_CACHE:-$HOME/.cache/concord}/mediasoup-worker"
JOBS="${MS_WORKER_JOBS:-$(nproc)}"
FB_VERSION=23.5.26
FB_DEB_VERSION=23.5.26+dfsg-4
FB_SUITE=trixie
APT_PACKAGES=(
	build-essential pkg-config meson ninja-build cmake dpkg-dev xz-utils patch
	libssl-dev libuv1-dev libsrtp2-dev libusrsctp-dev libabsl-dev
)

# fd 3 stays the terminal even while a step's own output goes to a log file.
exec 3>&2
step=0
log() { printf '[mediasoup-worker] %s\n' "$*" >&2; }
progress() { step=$((step + 1)); printf '[mediasoup-worker] (%d) %s\n' "$step" "$*" >&2; }
fail() { log "ERROR: $*"; exit 1; }

# Prints a dot every 10 s while a long command runs, so a multi-minute compile is visibly alive.
with_heartbeat() {
	local label=$1; shift
	local started; started=$(date +%s)
	( while sleep 10; do printf '[mediasoup-worker]   %s… %ss\n' "$label" "$(($(date +%s) - started))" >&3; done ) &
	local ticker=$!
	local rc=0
	"$@" || rc=$?
	kill "$ticker" 2>/dev/null; wait "$ticker" 2>/dev/null || true
	return $rc
}

debian_mirror() {
	local uri
	uri="$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1)"
	[ -n "$uri" ] || uri="$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | grep -v security | awk '{for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' | head -n1)"
	[ -n "$uri" ] && printf '%s\n' "$uri"
}

[ -f "$MS_DIR/package.json" ] || fail "no $MS_DIR: run 'npm ci --ignore-scripts' first (npm run setup does)"
MS_VERSION="$(node -p "require('$MS_DIR/package.json').version")"
PATCH="$HERE/mediasoup-$MS_VERSION-system-libs.patch"
COMPAT_HDR="$HERE/compat/srtp.h"
[ -f "$PATCH" ] || fail "no system-library patch for mediasoup $MS_VERSION ($PATCH)"
KEY="$MS_VERSION-$(cat "$PATCH" "$COMPAT_HDR" <(echo "$FB_VERSION") | sha256sum | cut -c1-12)"
CACHED_BIN="$CACHE/$KEY/mediasoup-worker"
TARGET_BIN="$MS_DIR/worker/out/Release/mediasoup-worker"


install_bin() {
	mkdir -p "$(dirname "$TARGET_BIN")"
	cp -f "$1" "$TARGET_BIN"
	chmod +x "$TARGET_BIN"
}

# 1. cache ------------------------------------------------------------------------------------
if [ -x "$CACHED_BIN" ]; then
	install_bin "$CACHED_BIN"
	log "using cached worker $CACHED_BIN"
	exit 0
fi

# 2. upstream prebuilt ------------------------------------------------------------------------
if [ "${MS_SKIP_PREBUILT:-0}" != 1 ]; then
	progress "trying mediasoup's upstream prebuilt worker"
	repo_url="$(node -p "require('$MS_DIR/package.json').repository.url.replace(/^git\+/, '').replace(/\.git\$/, '')")"
	tar_name="mediasoup-worker-$MS_VERSION-$(node -p "process.platform + '-' + process.arch")-kernel$(uname -r | cut -d. -f1).tgz"
	tmp="$(mktemp -d)"
	if curl -fsSL --connect-timeout 10 --max-time 120 -o "$tmp/w.tgz" "$repo_url/releases/download/$MS_VERSION/$tar_name" 2>/dev/null \
		&& tar -xzf "$tmp/w.tgz" -C "$tmp" && [ -x "$tmp/mediasoup-worker" ]; then
		mkdir -p "$CACHE/prebuilt-$MS_VERSION"
		cp -f "$tmp/mediasoup-worker" "$CACHE/prebuilt-$MS_VERSION/mediasoup-worker"
		install_bin "$tmp/mediasoup-worker"
		rm -rf "$tmp"
		log "installed upstream prebuilt worker"
		exit 0
	fi
	rm -rf "$tmp"
	log "upstream prebuilt not reachable; building from source against Debian libraries (~5-7 min the first time)"
fi

# 3. system-library build ---------------------------------------------------------------------
progress "checking Debian build packages"
SKIP_APT="${MS_SKIP_APT:-0}" bash "$ROOT/scripts/debian-packages.sh" mediasoup-worker "${APT_PACKAGES[@]}"

FB_PREFIX="$CACHE/flatbuffers-$FB_VERSION"
if [ ! -x "$FB_PREFIX/bin/flatc" ]; then
	progress "building flatbuffers $FB_VERSION from Debian source $FB_DEB_VERSION (bookworm's is too old)"
	APT_DIR="$CACHE/apt-$FB_SUITE"
	mkdir -p "$APT_DIR/lists/partial" "$CACHE/src"
	MIRROR="$(debian_mirror)" || fail "no Debian mirror found in the apt configuration"
	echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $FB_SUITE main" >"$APT_DIR/sources.list"
	APT_OPTS=(-o "Dir::Etc::SourceList=$APT_DIR/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$APT_DIR/lists" -o APT::Sandbox::User=root)
	apt-get "${APT_OPTS[@]}" update -qq || fail "cannot read Debian $FB_SUITE sources from $MIRROR"
	(cd "$CACHE/src" && apt-get "${APT_OPTS[@]}" source --download-only "flatbuffers=$FB_DEB_VERSION" >/dev/null) \
		|| fail "cannot download the flatbuffers $FB_DEB_VERSION source package"
	rm -rf "$CACHE/src/flatbuffers-$FB_VERSION"
	dpkg-source -x "$CACHE/src/flatbuffers_$FB_DEB_VERSION.dsc" "$CACHE/src/flatbuffers-$FB_VERSION" >/dev/null
	cmake -S "$CACHE/src/flatbuffers-$FB_VERSION" -B "$CACHE/src/flatbuffers-build" -G Ninja \
		-DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$FB_PREFIX" \
		-DFLATBUFFERS_BUILD_TESTS=OFF -DFLATBUFFERS_BUILD_FLATHASH=OFF >/dev/null
	with_heartbeat "flatbuffers" ninja -C "$CACHE/src/flatbuffers-build" -j "$JOBS" install >/dev/null \
		|| fail "flatbuffers build failed"
	rm -rf "$CACHE/src/flatbuffers-build"
fi
"$FB_PREFIX/bin/flatc" --version | grep -q "$FB_VERSION" || fail "flatc in $FB_PREFIX is not $FB_VERSION"

W="$MS_DIR/worker"
if [ ! -f "$W/.system-libs-patched" ]; then
	progress "patching mediasoup $MS_VERSION for system libraries and the DTLS BIO fix"
	patch -p1 --forward -d "$MS_DIR" <"$PATCH" >/dev/null || fail "patch $PATCH does not apply"
	mkdir -p "$W/compat"
	cp "$COMPAT_HDR" "$W/compat/srtp.h"
	echo "$KEY" >"$W/.system-libs-patched"
fi

export PATH="$FB_PREFIX/bin:$PATH"
export PKG_CONFIG_PATH="$FB_PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
BUILD_DIR="$W/out/Release/build"
mkdir -p "$CACHE"
progress "meson setup ($(meson --version))"
RECONF=(); [ -d "$BUILD_DIR/meson-private" ] && RECONF=(--reconfigure)
meson setup "${RECONF[@]}" --prefix "$W/out/Release" --bindir "" --libdir "" \
	--buildtype release -Db_ndebug=true -Dms_disable_liburing=true \
	"$BUILD_DIR" "$W" >"$CACHE/meson-setup.log" 2>&1 || { cat "$CACHE/meson-setup.log"; fail "meson setup failed (log above)"; }
# FBS/*.h must exist before libwebrtc compiles.
meson compile -C "$BUILD_DIR" flatbuffers-generator >/dev/null || fail "flatbuffers code generation failed"
progress "compiling mediasoup-worker $MS_VERSION with $JOBS jobs (log: $CACHE/meson-compile.log)"
start=$(date +%s)
with_heartbeat "compiling" meson compile -C "$BUILD_DIR" -j "$JOBS" mediasoup-worker >"$CACHE/meson-compile.log" 2>&1 \
	|| { tail -50 "$CACHE/meson-compile.log"; fail "compile failed (last lines above)"; }
meson install -C "$BUILD_DIR" --no-rebuild --tags mediasoup-worker >/dev/null
log "compiled in $(($(date +%s) - start)) s"

mkdir -p "$(dirname "$CACHED_BIN")"
cp -f "$TARGET_BIN" "$CACHED_BIN"
rm -rf "$BUILD_DIR"
log "worker ready: $TARGET_BIN (cached at $CACHED_BIN)"
