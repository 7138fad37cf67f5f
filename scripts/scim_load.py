#!/usr/bin/env python3
"""Measures rolecall's SCIM endpoint: durable user creates per second
(sequential and concurrent), `userName eq` filter latency, and the latency of
one PATCH that adds many members to a group.

  scripts/scim_load.py --url http://127.0.0.1:8080/scim/v2 --token rcs_… \
      --domain load.example --creates 500 --concurrency 1,8 --filters 500 --members 10000

Every request keeps its connection open (one per client). Figures are medians
and percentiles of wall-clock latency on the client; run the server and this
script on the same machine and compare runs made side by side.
"""
import argparse
import http.client
import json
import statistics
import threading
import time
import urllib.parse
import uuid


class Client:
    def __init__(self, url, token):
        u = urllib.parse.urlparse(url)
        self.host, self.port, self.base = u.hostname, u.port or 80, u.path.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def request(self, method, path, body=None):
        data = json.dumps(body) if body is not None else None
        t = time.perf_counter()
        self.conn.request(method, self.base + path, body=data, headers=self.headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        elapsed = time.perf_counter() - t
        return resp.status, (json.loads(raw) if raw else None), elapsed


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round((len(xs) - 1) * p)))]


def report(name, lat, wall, n):
    ms = [x * 1000 for x in lat]
    print(f"{name}: {n} requests in {wall:.2f}s = {n / wall:.0f}/s; latency ms p50 {statistics.median(ms):.2f} "
          f"p90 {pct(ms, 0.9):.2f} p99 {pct(ms, 0.99):.2f} max {max(ms):.2f}")


def creates(args, concurrency):
    per = args.creates // concurrency
    lat, errors, ids = [], [], []
    lock = threading.Lock()

    def work():
        c = Client(args.url, args.token)
        mine, my_ids = [], []
        for _ in range(per):
            name = f"load-{uuid.uuid4().hex[:12]}@{args.domain}"
            body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
                    "name": {"givenName": "Load", "familyName": "Test"},
                    "emails": [{"value": name, "type": "work", "primary": True}], "active": True}
            status, doc, e = c.request("POST", "/Users", body)
            mine.append(e)
            if status != 201:
                errors.append((status, doc))
            else:
                my_ids.append(doc["id"])
        with lock:
            lat.extend(mine)
            ids.extend(my_ids)

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    report(f"POST /Users x{concurrency} concurrent", lat, wall, len(lat))
    if errors:
        print(f"  {len(errors)} errors, first: {errors[0]}")
    return ids


def filters(args):
    c = Client(args.url, args.token)
    lat = []
    t = time.perf_counter()
    for i in range(args.filters):
        q = urllib.parse.quote(f'userName eq "user{(i * 7919) % args.known_users}@{args.domain}"')
        status, doc, e = c.request("GET", f"/Users?filter={q}")
        assert status == 200 and doc["totalResults"] == 1, (status, doc)
        lat.append(e)
    report("GET /Users?filter=userName eq", lat, time.perf_counter() - t, len(lat))


def big_patch(args):
    c = Client(args.url, args.token)
    ids, start = [], 1
    while len(ids) < args.members:
        status, doc, _ = c.request("GET", f"/Users?startIndex={start}&count=1000&attributes=id")
        assert status == 200, (status, doc)
        got = [r["id"] for r in doc["Resources"]]
        if not got:
            break
        ids.extend(got)
        start += len(got)
    ids = ids[: args.members]
    status, doc, _ = c.request("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                                    "displayName": f"Big {uuid.uuid4().hex[:8]}"})
    assert status == 201, (status, doc)
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": i} for i in ids]}]}
    status, _, e = c.request("PATCH", f"/Groups/{doc['id']}", body)
    assert status in (200, 204), status
    print(f"PATCH /Groups/{{id}} adding {len(ids)} members: {e * 1000:.0f} ms")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--domain", default="load.example")
    p.add_argument("--creates", type=int, default=200)
    p.add_argument("--concurrency", default="1,8")
    p.add_argument("--filters", type=int, default=200)
    p.add_argument("--known-users", type=int, default=100000,
                   help="users user0@DOMAIN … already loaded (scripts/gen_users.py)")
    p.add_argument("--members", type=int, default=10000)
    args = p.parse_args()
    for c in [int(x) for x in args.concurrency.split(",") if x]:
        creates(args, c)
    if args.filters:
        filters(args)
    if args.members:
        big_patch(args)


if __name__ == "__main__":
    main()
