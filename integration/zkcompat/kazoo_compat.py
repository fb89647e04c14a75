"""Exercise a ZooKeeper server with kazoo and print what it answers.

Usage: python3 kazoo_compat.py HOST:PORT

The output leaves out what differs between runs (times, session ids) and
keeps everything else, zxids included, so that the same script run against
kzoo and against Apache ZooKeeper 3.8 on fresh data directories prints the
same lines. Assertions check the behaviour every server must have; a failed
one exits non-zero.
"""

import sys
import threading

from kazoo.client import KazooClient
from kazoo.exceptions import (BadVersionError, NoAuthError, NodeExistsError,
                              NoNodeError, NotEmptyError, RolledBackError)
from kazoo.protocol.states import EventType
from kazoo.security import ACL, Id, Permissions, make_digest_acl

HOSTS = sys.argv[1]
WAIT = 10.0


def out(*parts):
    print(*parts, flush=True)


def stat_line(stat):
    return ("czxid=%#x mzxid=%#x pzxid=%#x version=%d cversion=%d aversion=%d "
            "ephemeral=%s dataLength=%d numChildren=%d ctime<=mtime=%s") % (
        stat.czxid, stat.mzxid, stat.pzxid, stat.version, stat.cversion,
        stat.aversion, "yes" if stat.ephemeralOwner else "no",
        stat.dataLength, stat.numChildren, 0 < stat.ctime <= stat.mtime)


def error_name(fn):
    try:
        fn()
    except Exception as e:  # the class names the ZooKeeper error code
        return type(e).__name__
    return "no error"


def client(**kw):
    zk = KazooClient(hosts=HOSTS, timeout=WAIT, **kw)
    zk.start(timeout=WAIT)
    return zk


def section(name):
    out("== " + name)


def basics(zk):
    section("basics")
    out("create", zk.create("/kz", b"root"))
    data, st = zk.get("/kz")
    out("get /kz", data, stat_line(st))
    out("create nodata", zk.create("/kz/nodata"))
    data, st = zk.get("/kz/nodata")
    out("get /kz/nodata", repr(data), stat_line(st))
    out("makepath", zk.create("/kz/a/b/c", b"deep", makepath=True))
    out("set", stat_line(zk.set("/kz", b"root2", version=0)))
    out("set bad version", error_name(lambda: zk.set("/kz", b"x", version=7)))
    out("create existing", error_name(lambda: zk.create("/kz", b"")))
    out("create no parent", error_name(lambda: zk.create("/kz/missing/child")))
    out("delete not empty", error_name(lambda: zk.delete("/kz/a")))
    out("delete bad version", error_name(lambda: zk.delete("/kz/nodata", version=3)))
    out("delete", zk.delete("/kz/nodata", version=0))
    out("get missing", error_name(lambda: zk.get("/kz/nodata")))
    out("exists missing", zk.exists("/kz/nodata"))
    out("exists", stat_line(zk.exists("/kz/a/b")))
    for i in range(3):
        out("sequential", zk.create("/kz/seq-", b"%d" % i, sequence=True))
    out("delete sequential", zk.delete("/kz/seq-0000000004"))
    out("sequential after delete", zk.create("/kz/seq-", sequence=True))
    children, st = zk.get_children("/kz", include_data=True)
    out("children", sorted(children), stat_line(st))
    out("delete recursive", zk.delete("/kz/a", recursive=True))
    out("children", sorted(zk.get_children("/kz")))
    out("sync", zk.sync("/kz"))
    out("root acl", zk.get_acls("/")[0])
    out("ensure_path", zk.ensure_path("/kz/ensured/path"))
    out("big data", stat_line(zk.create("/kz/big", b"x" * 500000) and zk.exists("/kz/big")))


def watches(zk, other):
    section("watches")
    events = []
    fired = threading.Event()

    def watcher(event):
        events.append((event.type, event.path))
        fired.set()

    zk.get("/kz", watch=watcher)
    other.set("/kz", b"changed")
    assert fired.wait(WAIT), "data watch did not fire"
    out("data watch", events[-1])

    fired.clear()
    zk.get_children("/kz", watch=watcher)
    other.create("/kz/newchild", b"")
    assert fired.wait(WAIT), "child watch did not fire"
    out("child watch", events[-1])

    fired.clear()
    out("exists watch on missing", zk.exists("/kz/later", watch=watcher))
    other.create("/kz/later", b"now")
    assert fired.wait(WAIT), "exists watch did not fire"
    out("exists watch", events[-1])

    fired.clear()
    zk.get("/kz/later", watch=watcher)
    other.delete("/kz/later")
    assert fired.wait(WAIT), "delete watch did not fire"
    out("delete watch", events[-1])

    # A watch fires once.
    fired.clear()
    other.create("/kz/later", b"again")
    out("one-shot", fired.wait(0.5) is False)

    seen = []
    changed = threading.Condition()

    @zk.DataWatch("/kz/dw")
    def data_watch(data, stat):
        with changed:
            seen.append(data)
            changed.notify_all()

    other.create("/kz/dw", b"one")
    other.set("/kz/dw", b"two")
    with changed:
        assert changed.wait_for(lambda: b"two" in seen, WAIT), seen
    out("DataWatch", seen[0], seen[-1])

    kids = []
    other.create("/kz/cw")

    @zk.ChildrenWatch("/kz/cw")
    def children_watch(children):
        with changed:
            kids.append(sorted(children))
            changed.notify_all()

    other.create("/kz/cw/x")
    with changed:
        assert changed.wait_for(lambda: ["x"] in kids, WAIT), kids
    out("ChildrenWatch", kids[-1])


def transactions(zk):
    section("transactions")
    t = zk.transaction()
    t.create("/kz/tx", b"1")
    t.create("/kz/tx/child", b"2")
    t.set_data("/kz/tx", b"3")
    t.check("/kz/tx", 1)
    t.delete("/kz/tx/child")
    results = t.commit()
    out("commit", [r if isinstance(r, str) else (stat_line(r) if hasattr(r, "czxid") else r) for r in results])
    data, st = zk.get("/kz/tx")
    out("after commit", data, stat_line(st))

    t = zk.transaction()
    t.create("/kz/tx2", b"")
    t.check("/kz/tx", 5)
    t.set_data("/kz/tx", b"never")
    results = t.commit()
    out("failed commit", [type(r).__name__ for r in results])
    assert isinstance(results[0], RolledBackError) and isinstance(results[1], BadVersionError)
    out("rolled back", zk.exists("/kz/tx2"), zk.get("/kz/tx")[0])
    out("zxid after failed multi", stat_line(zk.set("/kz/tx", b"4")))


def ephemerals(zk):
    section("ephemerals")
    owner = client()
    out("create ephemeral", owner.create("/kz/eph", b"mine", ephemeral=True))
    out("create ephemeral sequential", owner.create("/kz/ephs-", ephemeral=True, sequence=True))
    st = zk.exists("/kz/eph")
    out("ephemeralOwner is the owner", st.ephemeralOwner == owner.client_id[0])
    out("child of ephemeral", error_name(lambda: owner.create("/kz/eph/child")))
    gone = threading.Event()
    zk.exists("/kz/eph", watch=lambda e: gone.set() if e.type == EventType.DELETED else None)
    owner.stop()
    owner.close()
    assert gone.wait(WAIT), "ephemeral not deleted when its session closed"
    out("after close", zk.exists("/kz/eph"), sorted(c for c in zk.get_children("/kz") if c.startswith("eph")))


def acls(zk):
    section("acls")
    alice = client(auth_data=[("digest", "alice:pw")])
    acl = make_digest_acl("alice", "pw", all=True)
    out("create with digest acl", alice.create("/kz/secret", b"hidden", acl=[acl]))
    out("acl", alice.get_acls("/kz/secret")[0])
    out("get without auth", error_name(lambda: zk.get("/kz/secret")))
    out("get with auth", alice.get("/kz/secret")[0])
    read_only = ACL(Permissions.READ, Id("world", "anyone"))
    out("setAcl", stat_line(alice.set_acls("/kz/secret", [acl, read_only], version=0)))
    out("setAcl bad version", error_name(lambda: alice.set_acls("/kz/secret", [acl], version=0)))
    out("get world read", zk.get("/kz/secret")[0])
    out("set world read", error_name(lambda: zk.set("/kz/secret", b"no")))
    out("delete child of secret", error_name(lambda: zk.create("/kz/secret/c")))
    out("auth scheme acl", alice.create("/kz/authacl", b"", acl=[ACL(Permissions.ALL, Id("auth", ""))]))
    out("auth acl", alice.get_acls("/kz/authacl")[0])
    out("auth acl other", error_name(lambda: zk.get("/kz/authacl")))
    out("ip acl", zk.create("/kz/ipacl", b"", acl=[ACL(Permissions.ALL, Id("ip", "127.0.0.1"))]))
    out("ip acl get", zk.get("/kz/ipacl")[0])
    out("bad acl", error_name(lambda: zk.create("/kz/badacl", b"", acl=[ACL(Permissions.ALL, Id("digest", "bob"))])))
    zk.add_auth("digest", "alice:pw")
    out("added auth", zk.get("/kz/authacl")[0])
    alice.stop()
    alice.close()


def recipes(zk):
    section("recipes")
    other = client()
    a = zk.Lock("/kz/lock", "a")
    b = other.Lock("/kz/lock", "b")
    out("a acquires", a.acquire(timeout=WAIT))
    out("b cannot", b.acquire(blocking=False))
    out("contenders", a.contenders())
    a.release()
    out("b acquires after release", b.acquire(timeout=WAIT))
    b.release()

    elected = threading.Event()
    won = []
    e1 = zk.Election("/kz/election", "one")
    e2 = other.Election("/kz/election", "two")

    def lead(name):
        won.append(name)
        elected.set()
        release.wait(WAIT)

    release = threading.Event()
    t1 = threading.Thread(target=e1.run, args=(lead, "one"))
    t1.start()
    assert elected.wait(WAIT), "no leader"
    t2 = threading.Thread(target=e2.run, args=(lead, "two"))
    t2.start()
    contenders = []
    for _ in range(100):
        contenders = e1.contenders()
        if len(contenders) == 2:
            break
        threading.Event().wait(0.05)
    out("election contenders", contenders)
    out("leader", won)
    elected.clear()
    release.set()
    t1.join(WAIT)
    # "one" gave up leadership: "two" takes over.
    release = threading.Event()
    assert elected.wait(WAIT), "no second leader"
    out("leader after release", won)
    release.set()
    t2.join(WAIT)
    out("counter", _counter(zk))
    other.stop()
    other.close()


def _counter(zk):
    c = zk.Counter("/kz/counter")
    c += 5
    c -= 2
    return c.value


def main():
    zk = client()
    other = client()
    basics(zk)
    watches(zk, other)
    transactions(zk)
    ephemerals(zk)
    acls(zk)
    recipes(zk)
    other.stop()
    other.close()
    zk.stop()
    zk.close()
    out("== done")


if __name__ == "__main__":
    main()
