# shellcheck shell=sh
# shellcheck disable=SC2034 # the variables are used by whoever sources this file
# The one list of Debian (bookworm) packages forumnet needs. Sourced by scripts/lib/deps.sh and by
# docker/Dockerfile, so the scripts and the image install the same names. POSIX sh: no bash-isms here.

# Compiler and the C libraries forumnet links (pkg-config finds them). libcmocka-dev and libcurl4-gnutls-dev
# are here too because tests/ is configured by default; curl must be the gnutls flavour that libulfius-dev
# already depends on (libcurl4-openssl-dev conflicts with it). libssl-dev: OpenSSL 3's libcrypto, which libjwt
# links already, turns a sign-in provider's JWKs into PEM keys.
FORUMNET_COMPILE_PACKAGES="build-essential cmake pkg-config libulfius-dev libmicrohttpd-dev libjansson-dev libjwt-dev libpq-dev libsodium-dev libcmocka-dev libcurl4-gnutls-dev libssl-dev"

# A local PostgreSQL 15 for scripts/run.sh and scripts/test.sh (postgresql-contrib brings pgbench).
FORUMNET_SERVER_PACKAGES="postgresql postgresql-contrib"

# Tools the scripts call: curl for poking the API, clang-format and cppcheck for the checks in test.sh.
FORUMNET_TOOL_PACKAGES="curl clang-format cppcheck"

# Everything scripts/run.sh installs.
FORUMNET_BUILD_PACKAGES="$FORUMNET_COMPILE_PACKAGES $FORUMNET_SERVER_PACKAGES $FORUMNET_TOOL_PACKAGES"

# Extra for scripts/test.sh and tests/bench/ (pgbouncer: the e2e run and the bench in transaction mode;
# python3-aiosmtpd: the SMTP server of tests/e2e/e2e_password_reset.c; openssl: its TLS certificate; socat: a
# database connection held back, tests/e2e/e2e_stream.c).
FORUMNET_TEST_PACKAGES="wrk pgbouncer python3-icalendar python3-aiosmtpd openssl socat chromium fonts-liberation clang-14 libclang-rt-14-dev llvm-14"

# Extra for scripts/scaleout.sh (several instances behind a balancer, PgBouncer, a streaming standby): the
# engines the deploy/ configuration files are written for. scripts/test.sh reaches them through scaleout.sh.
FORUMNET_SCALEOUT_PACKAGES="haproxy pgbouncer nginx-light"

# Node.js for `npx @redocly/cli` (OpenAPI lint). Installed only when no `node` is on PATH (>= 18 is fine),
# so a newer Node.js from elsewhere is left alone.
FORUMNET_NODE_PACKAGES="nodejs npm"

# What the runtime image needs to run build/forumnet (the shared libraries' own dependencies follow).
FORUMNET_RUNTIME_PACKAGES="libulfius2.7 libmicrohttpd12 libjansson4 libjwt0 libpq5 libsodium23 libssl3 ca-certificates"
