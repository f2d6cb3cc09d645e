#!/usr/bin/env python3
"""Write load for the fault drills: logs in, writes memos from several threads for a while,
and records every answer. Prints one JSON summary: statuses, the slowest failed answer (a
fault must fail fast), the longest run of failures (the outage as clients saw it), and the
ids of every acknowledged write (2xx), which the drill checks afterwards.

Standard library only: runs anywhere python3 does. Talks to 127.0.0.1 only.
"""
import argparse, http.client, http.cookies, json, threading, time, sys


def connect(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=10)


def login(port, name, password):
    c = connect(port)
    body = json.dumps({"user_name": name, "password": password})
    c.request("POST", "/api/auth/register", body, {"Content-Type": "application/json"})
    c.getresponse().read()
    c.request("POST", "/api/auth/login", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"login failed: {r.status}")
    jar = http.cookies.SimpleCookie()
    for value in r.headers.get_all("Set-Cookie"):
        jar.load(value)
    return jar["access_token_cookie"].value, jar["csrf_access_token"].value


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--user", default="drill")
    p.add_argument("--read", action="store_true", help="also GET /api/memos after each write")
    a = p.parse_args()
    access, csrf = login(a.port, a.user, "drill password 123")
    headers = {"Content-Type": "application/json", "X-CSRF-TOKEN": csrf,
               "Cookie": f"access_token_cookie={access}"}
    lock = threading.Lock()
    events = []  # (t_start, t_end, kind, status)
    acked = []
    exceptions = {}  # what the client raised instead of reading an answer (status 0)
    deadline = time.monotonic() + a.seconds
    t0 = time.monotonic()

    def worker(n):
        conn, i = connect(a.port), 0
        while time.monotonic() < deadline:
            i += 1
            title = f"drill w{n} n{i}"
            for kind in (["write", "read"] if a.read else ["write"]):
                start = time.monotonic()
                try:
                    if kind == "write":
                        conn.request("POST", "/api/memos", json.dumps({"title": title, "content": "x" * 200}), headers)
                    else:
                        conn.request("GET", "/api/memos?limit=5", headers=headers)
                    r = conn.getresponse()
                    raw = r.read()
                    status = r.status
                except Exception as e:
                    status, raw = 0, b""
                    with lock:
                        name = type(e).__name__
                        exceptions[name] = exceptions.get(name, 0) + 1
                    conn.close()
                    conn = connect(a.port)
                end = time.monotonic()
                with lock:
                    events.append((start - t0, end - t0, kind, status))
                    if kind == "write" and 200 <= status < 300:
                        acked.append(json.loads(raw)["id"])
                if status not in (200, 201) and status != 0:
                    try:
                        body = json.loads(raw)
                        assert set(body) >= {"msg"}, body
                    except Exception:
                        with lock:
                            events.append((start - t0, end - t0, kind, -status))  # not {"msg"} JSON
                if status == 0:
                    time.sleep(0.05)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(a.threads)]
    for t in threads: t.start()
    for t in threads: t.join()

    events.sort()
    by_status = {}
    for _, _, kind, status in events:
        key = f"{kind} {status}"
        by_status[key] = by_status.get(key, 0) + 1
    failed = [(s, e) for s, e, k, st in events if not (200 <= st < 300)]
    slowest_failure = max((e - s for s, e in failed), default=0)
    slowest_success = max((e - s for s, e, k, st in events if 200 <= st < 300), default=0)
    # The outage as clients saw it: from the first failure to the first success after the last one.
    first_fail = min((s for s, _ in failed), default=None)
    last_fail = max((e for _, e in failed), default=None)
    recovered = None
    if last_fail is not None:
        after = [e for s, e, k, st in events if 200 <= st < 300 and s >= last_fail - 0.001]
        recovered = min(after, default=None)
    print(json.dumps({
        "requests": len(events), "by_status": by_status,
        "writes_acknowledged": len(acked), "acknowledged_ids": acked,
        "slowest_failure_s": round(slowest_failure, 3),
        "slowest_success_s": round(slowest_success, 3),
        "first_failure_at_s": None if first_fail is None else round(first_fail, 2),
        "last_failure_at_s": None if last_fail is None else round(last_fail, 2),
        "first_success_after_s": None if recovered is None else round(recovered, 2),
        "non_json_errors": sum(1 for *_, st in events if st < 0),
        "client_exceptions": exceptions,
    }))


if __name__ == "__main__":
    main()
