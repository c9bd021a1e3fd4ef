#!/usr/bin/env bash
# Abuse probes against a release build, on loopback only: each probe in scripts/abuse/ is a
# Python script that starts the servers it needs (scripts/abuse/_server.py: a fresh data
# directory, a free 127.0.0.1 port, the open-file limit it asks for), attacks them within
# a fixed count and time, stops them, and prints one line per run. Probes run in name order:
#
#   id_clash.py        one platform comment id on several sites: each site keeps its own
#   large_comments.py  3,000 distinct 60 KB comments, then 60 s of ordinary ones, against
#                      the memory budget (resident memory under 128 MB)
#   slow_bodies.py     stalled and drip-fed request bodies against the body deadline, the
#                      per-IP connection cap and the open-file limit (about 90 s)
#
# Adding a probe: drop scripts/abuse/NAME.py here, reading BIN from the environment; exit
# non-zero when a run misses its mark.
#
# BIN=path runs the probes against another build instead of building this one;
# PROBES="slow_bodies" runs only those. Exit status: non-zero if any probe missed its mark.
# Needs python3 (standard library only).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-}"
if [ -z "$BIN" ]; then cargo build --release --quiet; BIN=target/release/commentguard; fi
export BIN="$(realpath "$BIN")"
PROBES="${PROBES:-}"
status=0
for probe in scripts/abuse/[!_]*.py; do
  name=$(basename "$probe" .py)
  if [ -n "$PROBES" ]; then
    case " $PROBES " in *" $name "*) ;; *) continue ;; esac
  fi
  echo "== $name"
  # Each probe bounds its own time; this is a backstop should one hang.
  timeout 600 python3 "$probe" || status=1
done
exit $status
