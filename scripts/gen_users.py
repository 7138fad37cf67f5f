#!/usr/bin/env python3
"""Writes a rolecall data file with N users (and a few groups) in one
directory, for load tests: `scripts/gen_users.py 100000 > big.json`."""
import json
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
groups = max(1, n // 100)
data = {
    "organizations": [{"id": "org_load", "name": "Load Test Inc"}],
    "accounts": [{"id": f"acct_load_{i}", "name": f"Load {i}", "organization": "org_load"} for i in range(10)],
    "directories": [{"id": "dir_load", "owner": {"organization": "org_load"}, "domains": ["load.example"], "mode": "dashboard"}],
    "users": [{"directory": "dir_load", "userName": f"user{i}@load.example", "externalId": f"ext-{i}", "emails": [f"user{i}@load.example"]} for i in range(n)],
    "groups": [
        {"directory": "dir_load", "displayName": f"Team {g}", "members": [f"user{i}@load.example" for i in range(g, n, groups)]}
        for g in range(groups)
    ],
    "role_assignments": [
        {"directory": "dir_load", "group": f"Team {g}", "role": ["developer", "analyst", "view_only"][g % 3], "scope": {"organization": "org_load"}}
        for g in range(groups)
    ],
}
json.dump(data, sys.stdout)
