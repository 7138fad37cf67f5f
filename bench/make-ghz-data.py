#!/usr/bin/env python3
"""Turns the checks `rolecall bench generate --requests-output` writes into
ghz data files (JSON arrays of messages, which ghz sends round-robin):

  check.json             CheckRequest per check (the file as it is)
  list-permissions.json  ListPermissionsRequest per check
  batch-10.json          BatchCheckRequest of 10 checks, then 100 and 1000:
  batch-100.json         max(1, checks / size) batches, taking the checks in
  batch-1000.json        order and wrapping around (as `rolecall bench load`)

Usage: bench/make-ghz-data.py requests.json [OUT_DIR]   (default bench/ghz/data)
"""
import json
import os
import sys


def batches(checks, size):
    count = max(1, len(checks) // size)
    return [
        {"items": [checks[(b * size + j) % len(checks)] for j in range(size)]}
        for b in range(count)
    ]


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out = sys.argv[2] if len(sys.argv) == 3 else os.path.join(os.path.dirname(__file__), "ghz", "data")
    with open(sys.argv[1]) as f:
        checks = json.load(f)
    if not isinstance(checks, list) or not checks:
        sys.exit(f"{sys.argv[1]}: expected a non-empty JSON array of checks")
    checks = [{k: c[k] for k in ("user", "permission", "account")} for c in checks]
    os.makedirs(out, exist_ok=True)
    files = {
        "check.json": checks,
        "list-permissions.json": [{"user": c["user"], "account": c["account"]} for c in checks],
    }
    for size in (10, 100, 1000):
        files[f"batch-{size}.json"] = batches(checks, size)
    for name, messages in files.items():
        with open(os.path.join(out, name), "w") as f:
            json.dump(messages, f, separators=(",", ":"))
        print(f"wrote {os.path.join(out, name)}: {len(messages)} messages")


if __name__ == "__main__":
    main()
