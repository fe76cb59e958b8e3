# Shared environment of the project's scripts (sourced, not run).
# Build artefacts and downloaded tools live outside the clone so repeated runs stay fast.
export KB_CACHE="${KB_CACHE:-$HOME/.cache/kb}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$KB_CACHE/target}"
export KB_MODEL_DIR="${KB_MODEL_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/kb/models/all-MiniLM-L6-v2}"
export PATH="$HOME/.cargo/bin:$PATH"
mkdir -p "$KB_CACHE"

# Runs a command as root (directly, or through sudo when not root).
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs Debian packages that are missing.
apt_install() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "==> installing Debian packages: ${missing[*]}" >&2
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    fi
}

# A Python virtual environment for the project's tools, with these PyPI packages.
venv_install() {
    local venv="$KB_CACHE/venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" >&2
    echo "$venv"
}
