"""kafka-python (2.0) against a kzoo broker.

Usage: kafka_python.py BOOTSTRAP TOPIC MODE
MODE produce: sends 30 keyed records with each of acks=0, 1 and all, and
  prints "acks=<a> <key> <offset>" for every acknowledged one (acks=0 has no
  offsets, kafka-python reports -1).
MODE assign: reads the topic's partition 0 from the beginning with
  assign/seek (no group) and prints "<offset> <key> <value>".
MODE old CODEC API: produces 25 records with binary keys and values
  (seeded) with compression CODEC speaking the protocol of Kafka API
  (e.g. 0.9 gives Produce v1 and magic 0 message sets, 0.10 gives v2 and
  magic 1, 2.0 gives record batches); prints "<offset> <key hex> <value
  hex>" per acknowledged record, then reads them back with the same
  protocol and prints "read <offset> <key hex> <value hex>".
MODE group: joins group "kc-group", reads everything, commits, and prints
  "<offset> <key> <value>" then "committed <offset>".
Exits 1 with the exception on stderr on any error.
"""
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def produce(bs, topic):
    for acks in (0, 1, "all"):
        p = KafkaProducer(bootstrap_servers=bs, acks=acks, linger_ms=5,
                          request_timeout_ms=15000, max_block_ms=15000)
        futs = []
        for i in range(30):
            key = ("acks%s-%02d" % (acks, i)).encode()
            futs.append((key, p.send(topic, key=key, value=b"v-" + key * (i + 1), partition=0)))
        p.flush(timeout=20)
        for key, f in futs:
            md = f.get(timeout=20)
            print("acks=%s %s %d" % (acks, key.decode(), md.offset))
        p.close(timeout=10)


def drain(c, want, limit=30):
    got = []
    end = time.time() + limit
    while len(got) < want and time.time() < end:
        for recs in c.poll(timeout_ms=500).values():
            got.extend(recs)
    return got


def assign(bs, topic, want):
    c = KafkaConsumer(bootstrap_servers=bs, enable_auto_commit=False,
                      request_timeout_ms=20000, consumer_timeout_ms=20000)
    tp = TopicPartition(topic, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    for r in drain(c, want):
        print("%d %s %s" % (r.offset, r.key.decode(), r.value.decode()))
    c.seek(tp, 5)
    r = drain(c, 1)[0]
    print("seek5 %d %s" % (r.offset, r.key.decode()))
    c.close()


def group(bs, topic, want):
    c = KafkaConsumer(topic, bootstrap_servers=bs, group_id="kc-group",
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      request_timeout_ms=30000, session_timeout_ms=10000,
                      heartbeat_interval_ms=1000)
    got = drain(c, want, 60)
    for r in got:
        print("%d %s %s" % (r.offset, r.key.decode(), r.value.decode()))
    c.commit()
    tp = TopicPartition(topic, 0)
    print("committed %d" % c.committed(tp))
    c.close()


def old(bs, topic, codec, api):
    import random
    version = tuple(int(x) for x in api.split("."))
    rnd = random.Random(codec + api)
    p = KafkaProducer(bootstrap_servers=bs, acks=1, api_version=version, linger_ms=50,
                      compression_type=None if codec == "none" else codec,
                      request_timeout_ms=15000, max_block_ms=15000)
    futs = []
    for i in range(25):
        key = bytes(rnd.randrange(256) for _ in range(1 + i))
        value = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 400)))
        futs.append((key, value, p.send(topic, key=key, value=value, partition=0)))
    p.flush(timeout=20)
    for key, value, f in futs:
        md = f.get(timeout=20)
        print("%d %s %s" % (md.offset, key.hex(), value.hex()))
    p.close(timeout=10)
    c = KafkaConsumer(bootstrap_servers=bs, api_version=version, enable_auto_commit=False,
                      request_timeout_ms=20000)
    tp = TopicPartition(topic, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    for r in drain(c, 25):
        print("read %d %s %s" % (r.offset, r.key.hex(), r.value.hex()))
    c.close()


def main():
    bs, topic, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    want = int(sys.argv[4]) if mode in ("assign", "group") else 0
    if mode == "produce":
        produce(bs, topic)
    elif mode == "assign":
        assign(bs, topic, want)
    elif mode == "group":
        group(bs, topic, want)
    elif mode == "old":
        old(bs, topic, sys.argv[4], sys.argv[5])
    else:
        raise SystemExit("unknown mode " + mode)


if __name__ == "__main__":
    main()
