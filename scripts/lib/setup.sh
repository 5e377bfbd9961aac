# Shared by scripts/demo and scripts/test: a virtual environment in .venv with the project
# installed at the versions requirements/lock.txt pins, made on first use and refreshed when
# pyproject.toml or the lock changes.

PYTHON_BIN="${PYTHON:-python3.11}"
VENV=".venv"

ensure_venv() {
    local extras="$1"  # comma-separated extras, e.g. "gpu" (the demo) or "gpu,test"
    if ! command -v "$PYTHON_BIN" >/dev/null 2>&1; then
        echo "evalsite needs Python 3.11 ($PYTHON_BIN was not found on PATH; set PYTHON=/path/to/python3.11)." >&2
        exit 1
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        echo "==> Creating the virtual environment in $VENV"
        "$PYTHON_BIN" -m venv "$VENV"
    fi
    # Both the demo and the tests generate images, so both want the gpu extra (torch, diffusers).
    extras="${extras:-gpu}"
    local stamp="$VENV/.installed-${extras//,/-}"
    local want
    want="$(cat pyproject.toml requirements/lock.txt | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "==> Installing evalsite and its dependencies into $VENV (a few minutes the first time)"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        # torch first and alone: the pinned release is the CPU wheel the machine holds on disk.
        "$VENV/bin/python" -m pip install --quiet -c requirements/lock.txt "torch==2.13.0"
        "$VENV/bin/python" -m pip install --quiet -c requirements/lock.txt -e ".[$extras]"
        echo "$want" > "$stamp"
    fi
}

ensure_chromium() {
    if [ -x /usr/bin/chromium ]; then
        return
    fi
    echo "==> Installing Chromium from Debian's packages (for the browser tests)"
    local sudo=""
    if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
}
