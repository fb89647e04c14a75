"""confluent-kafka (librdkafka) against a kzoo broker.

Usage: confluent.py BOOTSTRAP TOPIC MODE [COUNT] [CODEC]
MODE produce: 40 keyed records (acks=all, compression CODEC) to partition 0;
  prints "<key> <offset>" per delivery report, exit 1 on a delivery error.
MODE assign: reads COUNT records of partition 0 from the beginning without
  a group; prints "<offset> <key> <value>".
MODE group: subscribes with group "cf-group", reads COUNT records, commits
  synchronously and prints them, then "committed <offset>".
"""
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition


def produce(bs, topic, codec):
    p = Producer({"bootstrap.servers": bs, "acks": "all", "compression.type": codec,
                  "linger.ms": 20, "message.timeout.ms": 20000})
    failed = []

    def report(err, msg):
        if err is not None:
            failed.append(err)
        else:
            print("%s %d" % (msg.key().decode(), msg.offset()))

    for i in range(40):
        key = ("cf-%s-%02d" % (codec, i)).encode()
        p.produce(topic, key=key, value=key * (i + 1), partition=0, on_delivery=report)
    if p.flush(30) != 0 or failed:
        raise SystemExit("undelivered: %r" % failed)


def drain(c, want, limit):
    got = []
    end = time.time() + limit
    while len(got) < want and time.time() < end:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        got.append(m)
    return got


def consume(bs, topic, want, grouped):
    conf = {"bootstrap.servers": bs, "group.id": "cf-group", "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "session.timeout.ms": 10000}
    c = Consumer(conf)
    if grouped:
        c.subscribe([topic])
    else:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    got = drain(c, want, 60)
    for m in got:
        print("%d %s %s" % (m.offset(), m.key().decode(), m.value().decode()))
    if grouped and got:
        c.commit(asynchronous=False)
        tp = c.committed([TopicPartition(topic, 0)], timeout=20)[0]
        print("committed %d" % tp.offset)
    c.close()


def main():
    bs, topic, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    want = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    if mode == "produce":
        produce(bs, topic, sys.argv[5] if len(sys.argv) > 5 else "none")
    elif mode in ("assign", "group"):
        consume(bs, topic, want, mode == "group")
    else:
        raise SystemExit("unknown mode " + mode)


if __name__ == "__main__":
    main()
