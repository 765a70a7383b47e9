# Shared by the benchmark scripts (sourced, not run): logging, Debian installs, the shared
# virtualenv, the lungct binary and the 512×512×300 phantoms. Expects BENCH_DIR, REPO, WORK and
# VENV to be set.

log() { printf '%s\n' "$*" >&2; }   # progress on stderr; tables alone go to stdout

# Installs a Debian package. The first attempt skips `apt-get update` because it is slow
# and usually unnecessary; a fresh image with empty package lists needs it.
apt_install() {
    log "installing $1 from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y "$1" >&2 || { apt-get update >&2 && apt-get install -y "$1" >&2; }
}

# ensure_venv PACKAGE...: the shared virtualenv, created if missing, with the packages added
# when they do not all import (import names are the package names lower-cased, except
# SimpleITK which imports as such).
ensure_venv() {
    local imports
    imports=$(printf '%s,' "$@"); imports=${imports%,}
    if [[ -x $VENV/bin/python ]] && "$VENV/bin/python" -c "import $imports" 2>/dev/null; then
        return
    fi
    if [[ ! -x $VENV/bin/python ]]; then
        log "creating $VENV"
        # Debian's python3 lacks ensurepip until python3-venv is installed.
        python3 -m venv "$VENV" >&2 || { rm -rf "$VENV"; apt_install python3-venv; python3 -m venv "$VENV" >&2; }
        "$VENV/bin/pip" install --quiet --upgrade pip >&2
    fi
    log "installing $* into $VENV"
    "$VENV/bin/pip" install --quiet "$@" >&2
}

# $LUNGCT if given (handy while the main build is broken mid-edit); otherwise the release
# build, built only if missing so a benchmark never waits on an unrelated rebuild.
ensure_lungct() {
    if [[ -n ${LUNGCT:-} ]]; then
        [[ -x $LUNGCT ]] || { log "error: LUNGCT=$LUNGCT is not an executable"; exit 1; }
        return
    fi
    # The toolchain lives in /opt/swift on the project's machines (as in the Makefile).
    command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
    LUNGCT=$(cd "$REPO" && swift build -c release --show-bin-path)/lungct
    if [[ ! -x $LUNGCT ]]; then
        log "building lungct (release)"
        (cd "$REPO" && swift build -c release >&2)
    fi
}

# The 512×512×300 phantoms take a while to make, so each is made once and reused. It is
# written to a temporary name and renamed, so an interrupted run never leaves a partial
# series that a later run would mistake for a complete one.
# Expects WORK and LUNGCT (ensure_lungct).
# ensure_phantom NAME [PHANTOM OPTIONS...]: sets PHANTOM to NAME's DICOM folder.
ensure_phantom() {
    local dir=$WORK/$1; shift
    if [[ ! -d $dir/dicom ]]; then
        log "generating the phantom $dir (once)"
        rm -rf "$dir.partial"
        "$LUNGCT" phantom "$dir.partial" --size 512 --slices 300 --spacing 1.0 "$@" >&2
        mv "$dir.partial" "$dir"
    fi
    PHANTOM=$dir/dicom
}
