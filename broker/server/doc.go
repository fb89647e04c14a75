// Package server owns a Kafka broker process: its listeners, the framing
// of requests and responses on every connection (socket.request.max.bytes
// enforced before a body is read, responses in request order), and the
// start/stop sequence: config → log dirs (locked, meta.properties) →
// ZooKeeper session → cluster id → listeners → broker registration →
// controller; and on stop, controlled shutdown first.
//
// It never interprets a request itself (broker/api does), never writes a
// znode except through broker/zkstate, and never touches partition files
// except through broker/storage.
package server
