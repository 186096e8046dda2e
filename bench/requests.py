"""Sequential p2phttp requests on one keep-alive connection, and what they cost a proxy process (issue 17).

usage: requests.py HOST PORT NODE_UUID PROXY_PID COUNT
Sends COUNT checkpresent, then COUNT putoffset, COUNT put (8 KiB each, fresh keys) and COUNT remove; after each kind
prints: kind, wall ms per request, the proxy's CPU µs per request (utime+stime) and its voluntary and involuntary
context switches per request (all its threads). Every answer must be 200; anything else stops the run.
"""
import hashlib
import http.client
import os
import sys
import time

host, port, uuid, pid, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
CLIENT = "00000000-0000-4000-8000-00000000bec0"
TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def proxy_cost():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) * TICK_S
    voluntary = involuntary = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            for line in open(f"/proc/{pid}/task/{task}/status"):
                if line.startswith("voluntary_ctxt_switches"):
                    voluntary += int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches"):
                    involuntary += int(line.split()[1])
        except FileNotFoundError:  # a thread that ended meanwhile
            pass
    return cpu, voluntary, involuntary


connection = http.client.HTTPConnection(host, port)


def post(path, body=None, headers=None):
    connection.request("POST", path, body=body, headers=headers or {})
    response = connection.getresponse()
    answer = response.read()
    if response.status != 200:
        sys.exit(f"requests.py: POST {path}: {response.status} {answer[:200]!r}")


objects = []
for _ in range(count):
    data = os.urandom(8192)
    objects.append((f"SHA256E-s8192--{hashlib.sha256(data).hexdigest()}.bin", data))
base = f"/git-annex/{uuid}/v4"


def measure(kind, send):
    before, t0 = proxy_cost(), time.monotonic()
    for key, data in objects:
        send(key, data)
    elapsed, after = time.monotonic() - t0, proxy_cost()
    print(f"{kind} {1000 * elapsed / count:.2f} {1e6 * (after[0] - before[0]) / count:.0f} "
          f"{(after[1] - before[1]) / count:.1f} {(after[2] - before[2]) / count:.1f}", flush=True)


measure("checkpresent", lambda key, _: post(f"{base}/checkpresent?key={key}&clientuuid={CLIENT}"))
measure("putoffset", lambda key, _: post(f"{base}/putoffset?key={key}&clientuuid={CLIENT}"))
measure("put", lambda key, data: post(f"{base}/put?key={key}&clientuuid={CLIENT}", data,
                                      {"X-git-annex-data-length": str(len(data)), "Content-Type": "application/octet-stream"}))
measure("remove", lambda key, _: post(f"{base}/remove?key={key}&clientuuid={CLIENT}"))
