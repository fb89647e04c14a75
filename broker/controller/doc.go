// Package controller is Kafka's ZooKeeper-mode controller. It runs inside
// every broker process; the broker that wins the race for /controller
// becomes the active controller until it loses that znode.
//
// It owns two things. The decisions (decide.go: replica assignment, leader
// election, ISR shrinking on broker failure and controlled shutdown) are
// pure functions of their inputs: no net, os, time or unseeded randomness.
// The running part (controller.go) owns the controller's view of the cluster
// while it is active, drives the decisions from ZooKeeper watches, writes
// their outcome through zkstate (fenced on the controller epoch) and sends
// LeaderAndIsr, UpdateMetadata and StopReplica to brokers through a Sender.
//
// Ordering rule: partition state is written to ZooKeeper BEFORE any request
// announcing it is sent, so a broker never learns a leader that a successor
// controller could not read back.
//
// It never serves clients, never touches partition data on disk, and never
// writes a znode except through zkstate.
package controller
