#!/bin/sh
# Runs the functional suite once per MPM (prefork, worker, event).
# Usage: pytest/run-all-mpms.sh [extra pytest args]
# Needs .libs/mod_condcache.so (make -f Makefile.apxs) and Debian's
# python3-pytest, python3-pytest-xdist and python3-requests (hence
# /usr/bin/python3).  CONDCACHE_JOBS sets the number of pytest workers
# (default 2).
set -u
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-/usr/bin/python3}
rc=0
for mpm in ${CONDCACHE_MPMS:-prefork worker event}; do
    echo "=== mpm_$mpm"
    start=$(date +%s)
    # both cores: one class (one set of servers) per worker at a time
    "$py" -m pytest "$here" --mpm="$mpm" -n "${CONDCACHE_JOBS:-2}" \
        --dist loadscope "$@" || rc=1
    echo "=== mpm_$mpm: $(( $(date +%s) - start ))s"
done
exit $rc
