package server

import (
	"os"
	"testing"

	"kzoo/broker/zkstate/zktest"
)

// startCoordinator returns a zookeeper.connect chroot on the package's
// shared coordinator: kzoo's own in-process by default, Apache ZooKeeper
// with KZOO_ZKTEST=apache (skipped when neither can start).
func startCoordinator(t testing.TB) string { return zktest.Connect(t) }

func TestMain(m *testing.M) { os.Exit(zktest.Main(m)) }
