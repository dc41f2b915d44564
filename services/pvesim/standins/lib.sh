# Shared state helpers for the pvesim stand-ins. Sourced, never executed.
# All state lives in files inside the container root, so it survives between `pct exec` calls
# and is visible to every stand-in: unit files and the multi-user.target.wants symlinks are the
# real systemd layout, "running" units are files in $PVESIM_ACTIVE, the journal is one log file
# per unit, and installed packages are one name per line.
PVESIM_STATE=/var/lib/pvesim
PVESIM_ACTIVE=$PVESIM_STATE/active
PVESIM_JOURNAL=/var/log/journal/pvesim
PVESIM_WANTS=/etc/systemd/system/multi-user.target.wants
PVESIM_UNIT_DIRS="/etc/systemd/system /run/systemd/system /usr/local/lib/systemd/system /usr/lib/systemd/system /lib/systemd/system"
mkdir -p "$PVESIM_ACTIVE" "$PVESIM_JOURNAL" "$PVESIM_WANTS" "$PVESIM_STATE/packages" 2>/dev/null

pvesim_unit_name() {
    case "$1" in
        *.service|*.socket|*.timer|*.target|*.mount|*.path) printf '%s\n' "$1" ;;
        *) printf '%s.service\n' "$1" ;;
    esac
}

pvesim_unit_file() {
    local dir
    for dir in $PVESIM_UNIT_DIRS; do
        if [ -f "$dir/$1" ]; then printf '%s\n' "$dir/$1"; return 0; fi
    done
    return 1
}

pvesim_unit_description() {
    local desc
    desc=$(sed -n 's/^Description=//p' "$1" | head -n 1)
    printf '%s\n' "${desc:-$(basename "$1")}"
}

# Ports a unit listens on, from (in order of preference) X-Infrahaus-Port=N lines,
# Environment=PORT=N assignments, or --port N / --port=N / --listen HOST:N in ExecStart.
pvesim_unit_ports() {
    {
        sed -n 's/^[[:space:]]*X-Infrahaus-Port[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$1"
        grep -E '^[[:space:]]*Environment[[:space:]]*=' "$1" | grep -oE '(^|[" =])PORT=[0-9]+' | grep -oE '[0-9]+$'
        grep -E '^[[:space:]]*ExecStart[[:space:]]*=' "$1" | grep -oE -- '--(port|listen)[= ]([^ ]*:)?[0-9]+' | grep -oE '[0-9]+$'
    } | sort -un
}

# Listening sockets of a unit as ADDRESS:PORT lines (IPv6 in brackets): X-Infrahaus-Listen=
# lines verbatim; otherwise each port on the --host/--bind/--listen address of ExecStart, or
# on both wildcards (0.0.0.0 and [::]) as a daemon with a default configuration does.
pvesim_unit_listeners() {
    local file=$1 listen host port
    listen=$(sed -n 's/^[[:space:]]*X-Infrahaus-Listen[[:space:]]*=[[:space:]]*//p' "$file")
    if [ -n "$listen" ]; then printf '%s\n' "$listen"; return; fi
    host=$(grep -E '^[[:space:]]*ExecStart[[:space:]]*=' "$file" | grep -oE -- '--(host|bind)[= ][^ ]+' | head -n 1 | sed -E 's/^--(host|bind)[= ]//')
    [ -z "$host" ] && host=$(grep -E '^[[:space:]]*ExecStart[[:space:]]*=' "$file" | grep -oE -- '--listen[= ][^ ]+:[0-9]+' | head -n 1 | sed -E 's/^--listen[= ]//; s/:[0-9]+$//')
    for port in $(pvesim_unit_ports "$file"); do
        case "$host" in
            "") printf '0.0.0.0:%s\n[::]:%s\n' "$port" "$port" ;;
            localhost) printf '127.0.0.1:%s\n' "$port" ;;
            \[*) printf '%s:%s\n' "$host" "$port" ;;
            *:*) printf '[%s]:%s\n' "$host" "$port" ;;
            *) printf '%s:%s\n' "$host" "$port" ;;
        esac
    done
}

pvesim_unit_exe() {
    local exe
    exe=$(sed -n 's/^[[:space:]]*ExecStart[[:space:]]*=[-@+!:]*[[:space:]]*//p' "$1" | head -n 1 | awk '{print $1}')
    exe=$(basename "${exe:-$(basename "$1" .service)}")
    printf '%s\n' "$exe"
}

pvesim_journal() {
    # pvesim_journal UNIT IDENT MESSAGE
    printf '%s %s %s: %s\n' "$(date '+%b %d %H:%M:%S')" "$(cat /etc/hostname 2>/dev/null || echo localhost)" "$2" "$3" >> "$PVESIM_JOURNAL/$1.log"
}

pvesim_is_active() { [ -f "$PVESIM_ACTIVE/$1" ]; }
pvesim_is_enabled() { [ -L "$PVESIM_WANTS/$1" ] || [ -f "$PVESIM_WANTS/$1" ]; }

pvesim_start_unit() {
    local unit=$1 file desc pid exe port
    file=$(pvesim_unit_file "$unit") || return 5
    pvesim_is_active "$unit" && return 0
    desc=$(pvesim_unit_description "$file")
    pid=$(( (RANDOM % 30000) + 300 ))
    exe=$(pvesim_unit_exe "$file")
    printf '%s %s\n' "$pid" "$(date +%s)" > "$PVESIM_ACTIVE/$unit"
    pvesim_journal "$unit" "systemd[1]" "Starting $unit - $desc..."
    for listener in $(pvesim_unit_listeners "$file"); do
        pvesim_journal "$unit" "$exe[$pid]" "Listening on $listener"
    done
    pvesim_journal "$unit" "systemd[1]" "Started $unit - $desc."
}

pvesim_stop_unit() {
    local unit=$1 file desc
    pvesim_is_active "$unit" || return 0
    file=$(pvesim_unit_file "$unit") && desc=$(pvesim_unit_description "$file") || desc=$unit
    pvesim_journal "$unit" "systemd[1]" "Stopping $unit - $desc..."
    rm -f "$PVESIM_ACTIVE/$unit"
    pvesim_journal "$unit" "systemd[1]" "$unit: Deactivated successfully."
    pvesim_journal "$unit" "systemd[1]" "Stopped $unit - $desc."
}

pvesim_pkg_installed() { grep -qxF "$2" "$PVESIM_STATE/packages/$1" 2>/dev/null; }
pvesim_pkg_add() { pvesim_pkg_installed "$1" "$2" || printf '%s\n' "$2" >> "$PVESIM_STATE/packages/$1"; }
pvesim_pkg_remove() {
    local file="$PVESIM_STATE/packages/$1"
    [ -f "$file" ] || return 0
    grep -vxF "$2" "$file" > "$file.new" || true
    mv "$file.new" "$file"
}
# Package names that simulate "not found" so failure paths can be exercised.
pvesim_pkg_missing() {
    case "$1" in nonexistent*|*does-not-exist*) return 0 ;; *) return 1 ;; esac
}
