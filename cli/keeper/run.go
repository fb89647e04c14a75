package keeper

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	ucli "github.com/urfave/cli/v2"

	"kzoo/coordinator/config"
)

// coordinator is what the keeper needs of coordinator/server.
type coordinator interface {
	Start() error // returns once listening
	Done() <-chan struct{}
	Close() error
}

// runForeground runs the server in this process until SIGTERM or SIGINT
// (or until the server stops by itself), then closes it. It writes the pid
// file with its own pid, so zkServer.sh stop and zookeeper-server-stop
// find a foreground server too, and removes it on the way out.
func runForeground(c *ucli.Context, e env, arg string) error {
	path, err := cfgPath(c, e, arg)
	if err != nil {
		return fail(err.Error())
	}
	if c.Command.Name == "start-foreground" {
		fmt.Fprintf(e.stderr, "Using config: %s\n", path)
	}
	cfg, err := load(e, path)
	if err != nil {
		return fail(err.Error())
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	return serve(e, cfg, sigs)
}

// registryFile is this server's entry in <home>/logs, where
// zookeeper-server-stop without a config finds every running keeper of
// this installation (Kafka's script stops them all, by process name).
func registryFile(e env, pid int) (string, error) {
	h, err := home(e)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(h, "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("registry dir: %w", err)
	}
	return filepath.Join(dir, fmt.Sprintf("zookeeper-server-%d.pid", pid)), nil
}

// serve runs the server for cfg until a value arrives on stop or the
// server ends by itself, then closes it.
func serve(e env, cfg *config.Config, stop <-chan os.Signal) error {
	pf := pidFile(e, cfg)
	self := os.Getpid()
	if pid, ok := livePid(pf); ok && pid != self {
		return fail(fmt.Sprintf("zookeeper already running as process %d (pid file %s).", pid, pf))
	}

	srv, err := newCoordinator(cfg)
	if err != nil {
		return fail(fmt.Sprintf("%s: %v", cfg.Path, err))
	}
	if err := srv.Start(); err != nil {
		_ = srv.Close()
		return fail(fmt.Sprintf("%s: start on %s: %v", cfg.Path, cfg.ClientAddr(), err))
	}
	if err := writePid(pf, self); err != nil {
		_ = srv.Close()
		return fail(err.Error())
	}
	defer removePidIf(pf, self)
	if reg, err := registryFile(e, self); err != nil {
		fmt.Fprintf(e.stderr, "kzoo keeper: zookeeper-server-stop without a config will not find this server: %v\n", err)
	} else if err := writePid(reg, self); err != nil {
		fmt.Fprintf(e.stderr, "kzoo keeper: zookeeper-server-stop without a config will not find this server: %v\n", err)
	} else {
		defer removePidIf(reg, self)
	}
	fmt.Fprintf(e.stderr, "kzoo keeper: serving clients on %s (pid %d)\n", cfg.ClientAddr(), self)

	select {
	case sig := <-stop:
		fmt.Fprintf(e.stderr, "kzoo keeper: %s received, shutting down\n", sig)
	case <-srv.Done():
		fmt.Fprintln(e.stderr, "kzoo keeper: server stopped")
	}
	if err := srv.Close(); err != nil {
		return fail(fmt.Sprintf("%s: close: %v", cfg.Path, err))
	}
	return nil
}
