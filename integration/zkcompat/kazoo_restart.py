"""Keep a kazoo session across a restart of the server.

Usage: python3 kazoo_restart.py HOST:PORT

Creates an ephemeral node and takes a Lock, prints READY and waits for a
line on stdin (the server is killed and restarted meanwhile), then checks
that the session came back (no expiry), that its ephemeral and its lock
are still there, and that it can write again. Prints OK or fails.
"""

import sys
import threading

from kazoo.client import KazooClient, KazooState

HOSTS = sys.argv[1]
WAIT = 30.0

states = []
connected = threading.Event()


def listener(state):
    states.append(state)
    if state == KazooState.CONNECTED:
        connected.set()
    else:
        connected.clear()


zk = KazooClient(hosts=HOSTS, timeout=20.0, connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 0.5})
zk.add_listener(listener)
zk.start(timeout=WAIT)
session = zk.client_id[0]
zk.create("/restart", b"")
zk.create("/restart/eph", b"mine", ephemeral=True)
lock = zk.Lock("/restart/lock", "me")
assert lock.acquire(timeout=WAIT)
for i in range(50):
    zk.create("/restart/n-", b"%d" % i, sequence=True)
print("READY", flush=True)

sys.stdin.readline()
assert connected.wait(WAIT), "no reconnection: %s" % states
assert KazooState.LOST not in states, "the session was lost: %s" % states
assert zk.client_id[0] == session, "a new session"
data, stat = zk.get("/restart/eph")
assert data == b"mine" and stat.ephemeralOwner == session
assert lock.is_acquired and lock.contenders() == ["me"], lock.contenders()
assert len(zk.get_children("/restart")) == 52, len(zk.get_children("/restart"))
zk.create("/restart/after", b"ok")
lock.release()
print("OK", [str(s) for s in states], flush=True)
zk.stop()
zk.close()
