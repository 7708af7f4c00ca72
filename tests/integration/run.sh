#!/bin/sh
# Run the integration suite with Debian's python3, whatever python3 is first
# on PATH; the arguments go to run.py (-v, test name patterns).
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
