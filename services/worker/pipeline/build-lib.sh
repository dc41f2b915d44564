# Infrahaus build library: sourced (BASH_ENV) by every template script during a build.
# Functions: log_info, log_warn, log_error, save_credential, generate_password,
# ensure_installed, run_as_user.

INFRAHAUS_CREDENTIALS_DIR=/etc/infrahaus/credentials

# `set -x` in a script would print a credential's value (`+ save_credential svc KEY value`)
# before the build learns to mask it: trace output goes nowhere during a build.
exec {infrahaus_xtrace_fd}>/dev/null
BASH_XTRACEFD=$infrahaus_xtrace_fd

log_info()  { printf '[INFO] %s\n' "$*"; }
log_warn()  { printf '[WARN] %s\n' "$*"; }
log_error() { printf '[ERROR] %s\n' "$*" >&2; }

# save_credential <service> <KEY> <VALUE>: one KEY=VALUE line in <service>.env (mode 600).
# The value is announced to the build (base64, on a line it never shows) so that it is
# masked in every event and log; it is never printed in clear.
save_credential() {
    if [ "$#" -ne 3 ]; then
        log_error "usage: save_credential <service> <KEY> <VALUE>"
        return 2
    fi
    local service=$1 key=$2 value=$3
    case $service in (*/*|.*|'') log_error "save_credential: bad service name"; return 2 ;; esac
    case $key in (*[!A-Za-z0-9_]*|'') log_error "save_credential: bad key name"; return 2 ;; esac
    printf '__INFRAHAUS_MASK__:%s\n' "$(printf '%s' "$value" | base64 -w0)"
    local file="$INFRAHAUS_CREDENTIALS_DIR/$service.env"
    (umask 077 && mkdir -p "$INFRAHAUS_CREDENTIALS_DIR" && touch "$file")
    chmod 600 "$file"
    local kept
    kept=$(grep -v "^$key=" "$file" || true)
    { [ -n "$kept" ] && printf '%s\n' "$kept"; printf '%s=%s\n' "$key" "$value"; } > "$file.tmp"
    chmod 600 "$file.tmp"
    mv -f "$file.tmp" "$file"
}

# generate_password [length]: letters and digits, 24 by default.
generate_password() {
    local length=${1:-24}
    tr -dc 'A-Za-z0-9' < /dev/urandom | head -c "$length"
    echo
}

# ensure_installed <package>...: apt-get install what is missing.
ensure_installed() {
    local missing=()
    local package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$package")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# run_as_user <user> <command> [args...]
run_as_user() {
    local user=$1
    shift
    if command -v runuser >/dev/null 2>&1; then
        runuser -u "$user" -- "$@"
    else
        su -s /bin/bash "$user" -c "$(printf '%q ' "$@")"
    fi
}
