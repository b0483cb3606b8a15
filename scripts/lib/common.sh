# Shared by Hearth's set-up scripts: install what is missing, build incrementally.
# Sourced, not run. Every step is idempotent and quick when nothing changed.

HEARTH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HEARTH_BUILD_DIR="${HEARTH_BUILD_DIR:-$HEARTH_ROOT/build}"
HEARTH_SANITIZE_BUILD_DIR="${HEARTH_SANITIZE_BUILD_DIR:-$HEARTH_ROOT/build-asan}"
HEARTH_VENV="$HEARTH_ROOT/.venv"

# Debian 12 packages needed to build, test and run Hearth.
HEARTH_APT_PACKAGES=(
    build-essential cmake ninja-build pkg-config git ca-certificates
    python3 python3-venv python3-pip
    qt6-base-dev qt6-base-dev-tools qt6-declarative-dev qt6-declarative-dev-tools
    qml6-module-qtquick qml6-module-qtquick-controls qml6-module-qtquick-layouts
    qml6-module-qtquick-window qml6-module-qtqml-workerscript qml6-module-qtquick-templates
    qml6-module-qttest qml6-module-qtquick-dialogs qml6-module-qtqml qml6-module-qtqml-models
    qml6-module-qt-labs-folderlistmodel
    libgl-dev
    libsentencepiece-dev nlohmann-json3-dev libfmt-dev libssl-dev libcpp-httplib-dev
    qtkeychain-qt6-dev
    dpkg-dev lintian desktop-file-utils appstream shared-mime-info groff-base
)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        sudo "$@"
    fi
}

# Installs the Debian packages that are not installed yet; does nothing when all are.
ensure_apt_packages() {
    local missing=()
    local package
    for package in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$package")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    log "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}"
}

# The CUDA toolkit lives outside PATH on a stock install.
add_cuda_to_path() {
    if [ -x /usr/local/cuda/bin/nvcc ] && ! command -v nvcc >/dev/null 2>&1; then
        export PATH="/usr/local/cuda/bin:$PATH"
    fi
}

# Configures (first time only) and builds. CMake re-configures by itself when a
# CMakeLists.txt changes, so an unchanged tree builds in seconds.
build_hearth() {
    add_cuda_to_path
    if [ ! -f "$HEARTH_BUILD_DIR/CMakeCache.txt" ]; then
        log "configuring the build in $HEARTH_BUILD_DIR"
        local extra=()
        if [ -n "${HEARTH_CUDA_ARCHS:-}" ]; then
            extra+=("-DHEARTH_CUDA_ARCHS=$HEARTH_CUDA_ARCHS")
        fi
        cmake -S "$HEARTH_ROOT" -B "$HEARTH_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
            "${extra[@]}" >&2
    fi
    log "building"
    cmake --build "$HEARTH_BUILD_DIR" -j "$(nproc)" >&2
}

# The hostile-input tests (hearth_add_test ... SANITIZE: parsers, tokenizer, templates, GGUF)
# in their own build with AddressSanitizer and UndefinedBehaviorSanitizer, CPU only, at -O1
# with assertions on. Only those tests and what they link are built.
build_sanitized_tests() {
    if [ ! -f "$HEARTH_SANITIZE_BUILD_DIR/CMakeCache.txt" ]; then
        log "configuring the sanitizer build in $HEARTH_SANITIZE_BUILD_DIR"
        cmake -S "$HEARTH_ROOT" -B "$HEARTH_SANITIZE_BUILD_DIR" -G Ninja \
            -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1 -DCMAKE_C_FLAGS_RELEASE=-O1 \
            -DHEARTH_SANITIZE=ON -DHEARTH_CUDA=OFF >&2
    fi
    log "building the hostile-input tests with ASan and UBSan"
    cmake --build "$HEARTH_SANITIZE_BUILD_DIR" -j "$(nproc)" --target hearth_sanitized_tests >&2
}

# A Python virtual environment in .venv, created on first need. With --reference-tools, also
# installs the reference tools from scripts/requirements-reference.txt; with --test-tools, what
# the tests drive (scripts/requirements-test.txt: the openai client).
ensure_venv() {
    if [ ! -x "$HEARTH_VENV/bin/python" ]; then
        log "creating the Python virtual environment in $HEARTH_VENV"
        python3 -m venv "$HEARTH_VENV" >&2
    fi
    if [ "${1:-}" = "--reference-tools" ]; then
        local stamp="$HEARTH_VENV/.reference-tools"
        if [ ! -f "$stamp" ] || [ "$HEARTH_ROOT/scripts/requirements-reference.txt" -nt "$stamp" ]; then
            log "installing the reference tools into $HEARTH_VENV"
            "$HEARTH_VENV/bin/pip" install -q -r "$HEARTH_ROOT/scripts/requirements-reference.txt" >&2
            touch "$stamp"
        fi
    fi
    if [ "${1:-}" = "--test-tools" ]; then
        local stamp="$HEARTH_VENV/.test-tools"
        if [ ! -f "$stamp" ] || [ "$HEARTH_ROOT/scripts/requirements-test.txt" -nt "$stamp" ]; then
            log "installing the test tools into $HEARTH_VENV"
            "$HEARTH_VENV/bin/pip" install -q -r "$HEARTH_ROOT/scripts/requirements-test.txt" >&2
            touch "$stamp"
        fi
    fi
}
