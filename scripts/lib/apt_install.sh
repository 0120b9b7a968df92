# Sourced by scripts/ensure_*.sh: `apt_install PACKAGE...` installs Debian packages non-interactively,
# as root or through sudo (and says so and fails when neither is possible).
apt_install() {
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to install $*" >&2; return 1; }
        sudo=(sudo)
    fi
    echo "installing the Debian packages: $*"
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}
