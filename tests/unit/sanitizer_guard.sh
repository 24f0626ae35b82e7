#!/bin/sh
# Runs one criterion suite and fails when a sanitizer reported anything.
# Criterion counts a test as passing even when its worker process leaked
# (LeakSanitizer runs at the worker's exit) or hit recoverable undefined
# behaviour, so the report text is the only trace: look for it here.
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
if printf '%s\n' "$out" | grep -qE 'ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:'; then
	echo "sanitizer_guard: a sanitizer reported an error above" >&2
	exit 1
fi
exit $rc
