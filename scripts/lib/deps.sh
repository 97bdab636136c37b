# shellcheck shell=bash
# Installs missing Debian packages, idempotently. Source it; needs scripts/lib/packages.sh sourced first
# (deps.sh sources it itself when the variables are missing).
#   deps_install PKG...      install whichever of PKG are not installed yet
#   deps_install_build       what scripts/run.sh needs
#   deps_install_test        what scripts/test.sh needs (build + test extras + Node.js when no `node`)
#   deps_install_scaleout    what scripts/scaleout.sh needs (build + HAProxy, PgBouncer, nginx + Node.js)
#   deps_install_node        Node.js and npm from Debian when there is no `node` (or no npm beside Debian's node)

if [[ -z "${FORUMNET_BUILD_PACKAGES:-}" ]]; then
  # shellcheck source=scripts/lib/packages.sh
  . "$(dirname "${BASH_SOURCE[0]}")/packages.sh"
fi

# Prints the packages among "$@" that dpkg does not have installed, one per line.
deps_missing() {
  local pkg status
  for pkg in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
    [[ "$status" == ii* ]] || printf '%s\n' "$pkg"
  done
}

# Runs a command as root: directly when we are root, through sudo when it exists, else fails.
deps_as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "deps: need root to run: $*" >&2
    echo "deps: run this script as root, or install sudo" >&2
    return 1
  fi
}

deps_install() {
  command -v dpkg-query >/dev/null 2>&1 || {
    echo "deps: dpkg-query not found; forumnet's scripts expect Debian 12 (bookworm)" >&2
    return 1
  }
  local missing
  missing=$(deps_missing "$@")
  if [[ -z "$missing" ]]; then
    return 0
  fi
  # shellcheck disable=SC2086 # one package name per word
  echo "deps: installing:" $missing
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o Dpkg::Use-Pty=0)
  deps_as_root "${apt[@]}" update </dev/null
  # shellcheck disable=SC2086
  deps_as_root "${apt[@]}" install -y --no-install-recommends $missing </dev/null
  missing=$(deps_missing "$@")
  if [[ -n "$missing" ]]; then
    # shellcheck disable=SC2086
    echo "deps: still missing after apt-get install:" $missing >&2
    return 1
  fi
}

deps_install_build() {
  # shellcheck disable=SC2086
  deps_install $FORUMNET_BUILD_PACKAGES
}

deps_install_test() {
  # shellcheck disable=SC2086
  deps_install $FORUMNET_BUILD_PACKAGES $FORUMNET_TEST_PACKAGES
  deps_install_node
}

# The Debian packages of HAProxy, PgBouncer and nginx start a system service when installed unless a
# policy-rc.d forbids it (Debian's container images have one). scaleout.sh runs its own processes on free
# ports, so a missing policy-rc.d is added for the install and removed afterwards.
deps_install_scaleout() {
  # shellcheck disable=SC2086
  deps_install $FORUMNET_BUILD_PACKAGES || return 1
  local policy=/usr/sbin/policy-rc.d added=0 status=0
  # shellcheck disable=SC2086
  if [[ -n "$(deps_missing $FORUMNET_SCALEOUT_PACKAGES)" && ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# Added by forumnet scripts/lib/deps.sh during an install; removed after it.\nexit 101\n' |
      deps_as_root tee "$policy" >/dev/null && deps_as_root chmod 755 "$policy" && added=1
  fi
  # shellcheck disable=SC2086
  deps_install $FORUMNET_SCALEOUT_PACKAGES || status=1
  if ((added)); then deps_as_root rm -f "$policy"; fi
  deps_install_node
  return "$status"
}

deps_install_node() {
  if ! command -v node >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    deps_install $FORUMNET_NODE_PACKAGES
  elif ! command -v npx >/dev/null 2>&1; then
    # A Node.js without npm/npx (Debian splits them): add Debian's npm only if Node.js itself came from Debian.
    if [[ -z "$(deps_missing nodejs)" ]]; then
      deps_install npm
    else
      echo "deps: warning: node is installed but npx is not; the OpenAPI lint needs npx" >&2
    fi
  fi
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if ((major < 18)); then
    echo "deps: warning: Node.js $(node --version 2>/dev/null || echo '?') is older than 18; the OpenAPI lint may fail" >&2
  fi
}
