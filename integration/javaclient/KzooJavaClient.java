import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;

import kafka.api.FetchRequest;
import kafka.api.FetchRequestBuilder;
import kafka.api.PartitionOffsetRequestInfo;
import kafka.cluster.Broker;
import kafka.common.TopicAndPartition;
import kafka.common.OffsetAndMetadata;
import kafka.common.OffsetMetadataAndError;
import kafka.javaapi.FetchResponse;
import kafka.javaapi.OffsetCommitRequest;
import kafka.javaapi.OffsetCommitResponse;
import kafka.javaapi.OffsetFetchRequest;
import kafka.javaapi.OffsetFetchResponse;
import kafka.javaapi.OffsetRequest;
import kafka.javaapi.OffsetResponse;
import kafka.javaapi.PartitionMetadata;
import kafka.javaapi.TopicMetadata;
import kafka.javaapi.TopicMetadataRequest;
import kafka.javaapi.TopicMetadataResponse;
import kafka.javaapi.consumer.SimpleConsumer;
import kafka.javaapi.message.ByteBufferMessageSet;
import kafka.message.Message;
import kafka.message.MessageAndOffset;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.log4j.ConsoleAppender;
import org.apache.log4j.Level;
import org.apache.log4j.Logger;
import org.apache.log4j.PatternLayout;

/**
 * The Apache Kafka 0.8.2.2 Java clients driven against kzoo's brokers by
 * TestBrokerJavaClient.
 *
 * <pre>
 * produce &lt;bootstrap&gt; &lt;topic&gt; &lt;acks&gt; &lt;compression&gt;
 *     Sends one record per "key TAB value" line of stdin with KafkaProducer,
 *     waits for every acknowledgement, and prints "key partition offset" for
 *     each record in input order.
 * consume &lt;host:port&gt; &lt;topic&gt; &lt;partitions&gt; [fetch bytes [first offset]]
 *     Finds each partition's leader with a TopicMetadataRequest, asks it for
 *     the earliest and latest offsets, fetches everything from the earliest
 *     (or from first offset, when given) up to the latest with
 *     SimpleConsumer, at most fetch bytes (default 1 MiB) a fetch, and
 *     prints "range partition earliest latest", then
 *     "partition offset key value" for each record.
 * commit &lt;host:port&gt; &lt;group&gt; &lt;version&gt; &lt;topic&gt; &lt;partition=offset&gt;...
 *     Commits the offsets, with metadata "kzoo-&lt;offset&gt;", in one
 *     OffsetCommitRequest of that version sent with
 *     SimpleConsumer.commitOffsets to the broker at host:port (whatever
 *     broker it is), and prints "partition error" for each partition.
 * offsets &lt;host:port&gt; &lt;group&gt; &lt;version&gt; &lt;topic&gt; &lt;partition&gt;...
 *     Fetches the group's committed offsets with one OffsetFetchRequest of
 *     that version sent with SimpleConsumer.fetchOffsets to host:port, and
 *     prints "partition offset error [metadata]" for each partition.
 * </pre>
 *
 * Everything the clients log goes to stderr; a failure exits with status 1.
 */
public final class KzooJavaClient {
    private static final int SO_TIMEOUT_MS = 10_000;
    private static final int BUFFER_BYTES = 1 << 20;
    private static final int DEFAULT_FETCH_BYTES = 1 << 20;
    private static final int MAX_EMPTY_FETCHES = 20;
    private static final String CLIENT_ID = "kzoo-java-client";

    private KzooJavaClient() {
    }

    public static void main(String[] args) throws Exception {
        Logger root = Logger.getRootLogger();
        root.addAppender(new ConsoleAppender(new PatternLayout("%d %p %c: %m%n"), "System.err"));
        root.setLevel(Level.WARN);
        try {
            if (args.length == 5 && args[0].equals("produce")) {
                produce(args[1], args[2], args[3], args[4]);
            } else if (args.length >= 4 && args.length <= 6 && args[0].equals("consume")) {
                int fetchBytes = args.length >= 5 ? Integer.parseInt(args[4]) : DEFAULT_FETCH_BYTES;
                long first = args.length == 6 ? Long.parseLong(args[5]) : -1;
                consume(args[1], args[2], Integer.parseInt(args[3]), fetchBytes, first);
            } else if (args.length >= 6 && args[0].equals("commit")) {
                commit(args[1], args[2], Short.parseShort(args[3]), args[4], Arrays.copyOfRange(args, 5, args.length));
            } else if (args.length >= 6 && args[0].equals("offsets")) {
                offsets(args[1], args[2], Short.parseShort(args[3]), args[4], Arrays.copyOfRange(args, 5, args.length));
            } else {
                System.err.println("usage: KzooJavaClient produce <bootstrap> <topic> <acks> <compression> < key-TAB-value lines");
                System.err.println("       KzooJavaClient consume <host:port> <topic> <partitions> [fetch bytes [first offset]]");
                System.err.println("       KzooJavaClient commit <host:port> <group> <version> <topic> <partition=offset>...");
                System.err.println("       KzooJavaClient offsets <host:port> <group> <version> <topic> <partition>...");
                System.exit(2);
            }
        } catch (Exception e) {
            System.out.flush();
            System.err.println("KzooJavaClient " + String.join(" ", args) + ": " + e);
            e.printStackTrace();
            System.exit(1);
        }
        System.out.flush();
        // The clients' threads (metadata, sender) must not keep the JVM alive.
        System.exit(0);
    }

    private static void produce(String bootstrap, String topic, String acks, String compression) throws Exception {
        List<String[]> records = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                String[] kv = line.split("\t", 2);
                if (kv.length != 2) {
                    throw new IllegalArgumentException("stdin line " + (records.size() + 1) + " has no TAB: " + line);
                }
                records.add(kv);
            }
        }

        Properties props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        props.put("client.id", CLIENT_ID);
        props.put("acks", acks);
        props.put("compression.type", compression);
        props.put("linger.ms", "20");
        props.put("retries", "0");
        props.put("key.serializer", "org.apache.kafka.common.serialization.StringSerializer");
        props.put("value.serializer", "org.apache.kafka.common.serialization.StringSerializer");

        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
            // Everything is sent before the first wait, so that records of
            // one partition share (compressed) message sets.
            List<Future<RecordMetadata>> acked = new ArrayList<>();
            for (String[] kv : records) {
                acked.add(producer.send(new ProducerRecord<>(topic, kv[0], kv[1])));
            }
            for (int i = 0; i < records.size(); i++) {
                RecordMetadata md = acked.get(i).get();
                System.out.println(records.get(i)[0] + " " + md.partition() + " " + md.offset());
            }
        }
    }

    private static void consume(String hostPort, String topic, int partitions, int fetchBytes, long first) {
        Map<Integer, Broker> leaders = leaders(hostPort, topic, partitions);
        for (int p = 0; p < partitions; p++) {
            Broker leader = leaders.get(p);
            SimpleConsumer consumer = new SimpleConsumer(leader.host(), leader.port(), SO_TIMEOUT_MS, BUFFER_BYTES, CLIENT_ID);
            try {
                long earliest = offsetBefore(consumer, topic, p, kafka.api.OffsetRequest.EarliestTime());
                long latest = offsetBefore(consumer, topic, p, kafka.api.OffsetRequest.LatestTime());
                System.out.println("range " + p + " " + earliest + " " + latest);
                fetchAll(consumer, topic, p, first < 0 ? earliest : Math.min(first, latest), latest, fetchBytes);
            } finally {
                consumer.close();
            }
        }
    }

    /** Asks the broker at hostPort for the topic's metadata and returns each partition's leader. */
    private static Map<Integer, Broker> leaders(String hostPort, String topic, int partitions) {
        int colon = hostPort.lastIndexOf(':');
        String host = hostPort.substring(0, colon);
        int port = Integer.parseInt(hostPort.substring(colon + 1));
        SimpleConsumer consumer = new SimpleConsumer(host, port, SO_TIMEOUT_MS, BUFFER_BYTES, CLIENT_ID);
        try {
            TopicMetadataResponse resp = consumer.send(new TopicMetadataRequest(Collections.singletonList(topic)));
            Map<Integer, Broker> leaders = new HashMap<>();
            for (TopicMetadata tm : resp.topicsMetadata()) {
                if (!tm.topic().equals(topic)) {
                    throw new IllegalStateException(hostPort + " answered metadata for topic " + tm.topic() + ", asked for " + topic);
                }
                if (tm.errorCode() != 0) {
                    throw new IllegalStateException(hostPort + ": topic " + topic + " has error code " + tm.errorCode());
                }
                for (PartitionMetadata pm : tm.partitionsMetadata()) {
                    if (pm.errorCode() != 0 || pm.leader() == null) {
                        throw new IllegalStateException(hostPort + ": " + topic + "/" + pm.partitionId()
                                + " has error code " + pm.errorCode() + ", leader " + pm.leader());
                    }
                    leaders.put(pm.partitionId(), pm.leader());
                }
            }
            if (leaders.size() != partitions) {
                throw new IllegalStateException(hostPort + ": " + topic + " has leaders for partitions " + leaders.keySet()
                        + ", want " + partitions + " partitions");
            }
            return leaders;
        } finally {
            consumer.close();
        }
    }

    /** The one offset an OffsetRequest for time (earliest or latest) answers. */
    private static long offsetBefore(SimpleConsumer consumer, String topic, int partition, long time) {
        TopicAndPartition tp = new TopicAndPartition(topic, partition);
        Map<TopicAndPartition, PartitionOffsetRequestInfo> info = new HashMap<>();
        info.put(tp, new PartitionOffsetRequestInfo(time, 1));
        OffsetRequest req = new OffsetRequest(info, kafka.api.OffsetRequest.CurrentVersion(), CLIENT_ID);
        OffsetResponse resp = consumer.getOffsetsBefore(req);
        String where = consumer.host() + ":" + consumer.port() + " " + topic + "/" + partition;
        if (resp.hasError()) {
            throw new IllegalStateException(where + ": offsets before " + time + ": error code " + resp.errorCode(topic, partition));
        }
        long[] offsets = resp.offsets(topic, partition);
        if (offsets.length != 1) {
            throw new IllegalStateException(where + ": offsets before " + time + " answered " + offsets.length + " offsets, want 1");
        }
        return offsets[0];
    }

    /** Fetches and prints every record of the partition from first up to latest. */
    private static void fetchAll(SimpleConsumer consumer, String topic, int partition, long first, long latest, int fetchBytes) {
        String where = consumer.host() + ":" + consumer.port() + " " + topic + "/" + partition;
        long next = first;
        int empty = 0;
        while (next < latest) {
            FetchRequest req = new FetchRequestBuilder()
                    .clientId(CLIENT_ID)
                    .addFetch(topic, partition, next, fetchBytes)
                    .maxWait(500)
                    .build();
            FetchResponse resp = consumer.fetch(req);
            if (resp.hasError()) {
                throw new IllegalStateException(where + ": fetch at " + next + ": error code " + resp.errorCode(topic, partition));
            }
            ByteBufferMessageSet set = resp.messageSet(topic, partition);
            checkNoneBefore(set, next, where);
            long before = next;
            for (MessageAndOffset mo : set) {
                // A compressed message set is returned whole, so it can
                // start before the offset asked for. A message cut off at
                // fetchBytes is not returned by the iterator.
                if (mo.offset() < next) {
                    continue;
                }
                Message m = mo.message();
                m.ensureValid();
                System.out.println(partition + " " + mo.offset() + " " + text(m.key()) + " " + text(m.payload()));
                next = mo.nextOffset();
            }
            if (next == before && ++empty >= MAX_EMPTY_FETCHES) {
                throw new IllegalStateException(where + ": " + empty + " fetches at " + next + " returned nothing, latest is " + latest);
            }
        }
    }

    /**
     * Fails when the top level of a fetched set holds an uncompressed
     * message before the offset fetched: Kafka leaves those out (only a
     * compressed message set comes back whole), and some consumers take the
     * first message for the one at the fetch offset.
     */
    private static void checkNoneBefore(ByteBufferMessageSet set, long offset, String where) {
        scala.collection.Iterator<MessageAndOffset> shallow =
                new kafka.message.ByteBufferMessageSet(set.getBuffer().duplicate()).shallowIterator();
        while (shallow.hasNext()) {
            MessageAndOffset mo = shallow.next();
            if (mo.message().compressionCodec().codec() == 0 && mo.offset() < offset) {
                throw new IllegalStateException(where + ": a fetch at " + offset
                        + " returned the uncompressed message at offset " + mo.offset());
            }
        }
    }

    private static SimpleConsumer simpleConsumer(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        return new SimpleConsumer(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)),
                SO_TIMEOUT_MS, BUFFER_BYTES, CLIENT_ID);
    }

    /** Commits partition=offset pairs of topic for group in one request of version. */
    private static void commit(String hostPort, String group, short version, String topic, String[] pairs) {
        Map<TopicAndPartition, OffsetAndMetadata> info = new LinkedHashMap<>();
        List<TopicAndPartition> order = new ArrayList<>();
        for (String pair : pairs) {
            String[] po = pair.split("=", 2);
            if (po.length != 2) {
                throw new IllegalArgumentException("want partition=offset, got " + pair);
            }
            TopicAndPartition tp = new TopicAndPartition(topic, Integer.parseInt(po[0]));
            long offset = Long.parseLong(po[1]);
            info.put(tp, new OffsetAndMetadata(offset, "kzoo-" + offset, -1L));
            order.add(tp);
        }
        SimpleConsumer consumer = simpleConsumer(hostPort);
        try {
            OffsetCommitResponse resp = consumer.commitOffsets(new OffsetCommitRequest(group, info, 1, CLIENT_ID, version));
            if (resp.errors().size() != order.size()) {
                throw new IllegalStateException(hostPort + ": OffsetCommit v" + version + " answered " + resp.errors().size()
                        + " partitions, sent " + order.size() + ": " + resp.errors());
            }
            for (TopicAndPartition tp : order) {
                System.out.println(tp.partition() + " " + resp.errorCode(tp));
            }
        } finally {
            consumer.close();
        }
    }

    /** Fetches group's committed offsets of topic's partitions in one request of version. */
    private static void offsets(String hostPort, String group, short version, String topic, String[] partitions) {
        List<TopicAndPartition> order = new ArrayList<>();
        for (String p : partitions) {
            order.add(new TopicAndPartition(topic, Integer.parseInt(p)));
        }
        SimpleConsumer consumer = simpleConsumer(hostPort);
        try {
            OffsetFetchResponse resp = consumer.fetchOffsets(new OffsetFetchRequest(group, order, version, 2, CLIENT_ID));
            Map<TopicAndPartition, OffsetMetadataAndError> got = resp.offsets();
            if (got.size() != order.size()) {
                throw new IllegalStateException(hostPort + ": OffsetFetch v" + version + " answered " + got.size()
                        + " partitions, asked for " + order.size() + ": " + got);
            }
            for (TopicAndPartition tp : order) {
                OffsetMetadataAndError o = got.get(tp);
                if (o == null) {
                    throw new IllegalStateException(hostPort + ": OffsetFetch v" + version + " has no answer for " + tp + ": " + got);
                }
                System.out.println(tp.partition() + " " + o.offset() + " " + o.error() + " [" + o.metadata() + "]");
            }
        } finally {
            consumer.close();
        }
    }

    private static String text(ByteBuffer buf) {
        if (buf == null) {
            return "<null>";
        }
        byte[] b = new byte[buf.remaining()];
        buf.get(b);
        return new String(b, StandardCharsets.UTF_8);
    }
}
