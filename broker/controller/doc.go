// Package controller is Kafka's ZooKeeper-mode controller. It runs inside
// every broker process; the broker that wins the race for /controller
// becomes the active controller until it loses that znode.
//
// It owns two things. The decisions (decide.go: replica assignment, leader
// election, ISR reconciliation on broker failure and return, controlled
// shutdown moves, preferred leaders, reassignment steps) are pure functions
// of their inputs. The running part (controller.go, batch.go, requests.go,
// alter.go, reassign.go) owns the controller's view of the cluster while it
// is active: one goroutine drives the decisions from ZooKeeper watches and
// from the broker's calls (ControlledShutdown, AlterPartition, ElectLeaders,
// partition reassignments), writes their outcome through zkstate (fenced on
// the controller epoch) and sends LeaderAndIsr, UpdateMetadata and
// StopReplica to brokers through one ordered queue per broker.
//
// The package imports no net, os or time (make verify checks it): time
// comes in through Clock (controller/clock is the wall clock) and brokers
// are reached through Sender (controller/sender is the Kafka TCP client).
//
// Ordering rule: partition state is written to ZooKeeper BEFORE any request
// announcing it is sent, so a broker never learns a leader that a successor
// controller could not read back.
//
// It never serves clients, never touches partition data on disk, and never
// writes a znode except through zkstate.
package controller
