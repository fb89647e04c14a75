// Package zkstate owns Kafka's ZooKeeper layout: the path and the exact JSON
// of every znode a Kafka 3.x broker in ZooKeeper mode reads or writes
// (/brokers/ids, /brokers/topics, partition state, /controller,
// /controller_epoch, /config, /admin/delete_topics, /cluster/id, the
// /consumers/<group>/offsets of OffsetCommit v0, …), all under the chroot of
// zookeeper.connect.
//
// It talks to the coordinator through github.com/go-zookeeper/zk and nothing
// else. It never decides anything: who leads a partition, which replicas a
// topic gets and when a topic goes away are the controller's decisions; this
// package only stores and loads them. Writes the controller makes through a
// fenced view (Client.Fenced) are conditional on the /controller_epoch znode
// version, so a controller that has been replaced cannot overwrite its
// successor's state.
package zkstate
