// Package brokercmd is `kzoo broker start|stop`, the commands behind
// kafka-server-start.sh and kafka-server-stop.sh. It owns argument parsing,
// daemonizing, the pid files under the dist home's logs/ and signal
// handling; it never holds broker state itself (broker/server does).
package brokercmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	ucli "github.com/urfave/cli/v2"

	"kzoo/broker/config"
	"kzoo/broker/server"
	"kzoo/internal/proc"
)

const startUsage = "USAGE: kafka-server-start.sh [-daemon] server.properties [--override property=value]*"

// envForeground marks the re-executed child of -daemon.
const envForeground = "KZOO_BROKER_DAEMON_CHILD"

// Commands returns the broker subcommand.
func Commands() []*ucli.Command {
	return []*ucli.Command{{
		Name:  "broker",
		Usage: "run a Kafka broker (kafka-server-start.sh / kafka-server-stop.sh)",
		Subcommands: []*ucli.Command{
			{
				Name:            "start",
				Usage:           "start a broker: start [-daemon] server.properties [--override k=v]...",
				ArgsUsage:       "[-daemon] server.properties [--override property=value]*",
				SkipFlagParsing: true,
				Action: func(c *ucli.Context) error {
					return start(c.Args().Slice(), c.App.Writer, c.App.ErrWriter)
				},
			},
			{
				Name:  "stop",
				Usage: "stop the brokers started from this installation (SIGTERM; controlled shutdown first)",
				Action: func(c *ucli.Context) error {
					return stop(c.App.Writer)
				},
			},
		},
	}}
}

type startArgs struct {
	daemon    bool
	path      string
	overrides []string
}

func parseStart(args []string) (startArgs, error) {
	var a startArgs
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "-daemon" || arg == "--daemon":
			a.daemon = true
		case arg == "--override" || arg == "-override":
			if i+1 >= len(args) {
				return a, fmt.Errorf("--override needs property=value")
			}
			i++
			a.overrides = append(a.overrides, args[i])
		case strings.HasPrefix(arg, "--override="):
			a.overrides = append(a.overrides, strings.TrimPrefix(arg, "--override="))
		case arg == "-h" || arg == "--help" || arg == "help":
			return a, errHelp
		case strings.HasPrefix(arg, "-"):
			return a, fmt.Errorf("unknown option %s", arg)
		case a.path == "":
			a.path = arg
		default:
			return a, fmt.Errorf("unexpected argument %s", arg)
		}
	}
	if a.path == "" {
		return a, fmt.Errorf("missing server.properties")
	}
	for _, o := range a.overrides {
		if !strings.Contains(o, "=") {
			return a, fmt.Errorf("--override %s: expected property=value", o)
		}
	}
	return a, nil
}

var errHelp = errors.New("help")

// home is the dist home: the parent of the directory holding the binary.
func home() string {
	if h := os.Getenv("KZOO_HOME"); h != "" {
		return h
	}
	exe, err := os.Executable()
	if err != nil {
		return "."
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return filepath.Dir(filepath.Dir(exe))
}

// logDir is $LOG_DIR, else <home>/logs, as Kafka's scripts choose it.
func logDir() string {
	if d := os.Getenv("LOG_DIR"); d != "" {
		return d
	}
	return filepath.Join(home(), "logs")
}

func pidFile(id int32) string {
	return filepath.Join(logDir(), fmt.Sprintf("kzoo-broker-%d.pid", id))
}

func start(args []string, stdout, stderr io.Writer) error {
	a, err := parseStart(args)
	if errors.Is(err, errHelp) {
		fmt.Fprintln(stdout, startUsage)
		return nil
	}
	if err != nil {
		return ucli.Exit(fmt.Sprintf("%v\n%s", err, startUsage), 1)
	}
	cfg, err := config.Load(a.path, a.overrides)
	if err != nil {
		return ucli.Exit(err.Error(), 1)
	}
	if cfg.KRaft {
		return ucli.Exit(fmt.Sprintf("%s: process.roles is set: KRaft mode is not available yet; remove it to run in ZooKeeper mode", a.path), 1)
	}
	if a.daemon && os.Getenv(envForeground) == "" {
		return daemonize(args, cfg, stdout)
	}
	lg := newLogger(stdout)
	for _, w := range cfg.Warnings {
		lg.logf("WARN %s", w)
	}
	return runForeground(cfg, lg)
}

type logger struct {
	mu sync.Mutex
	w  io.Writer
}

func newLogger(w io.Writer) *logger { return &logger{w: w} }

func (l *logger) logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	level := "INFO"
	for _, lv := range []string{"WARN ", "ERROR "} {
		if strings.HasPrefix(msg, lv) {
			level, msg = strings.TrimSpace(lv), strings.TrimPrefix(msg, lv)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "[%s] %s %s (kzoo.broker)\n", time.Now().Format("2006-01-02 15:04:05,000"), level, msg)
}

func runForeground(cfg *config.Config, lg *logger) error {
	pf := pidFile(cfg.BrokerID)
	if err := os.MkdirAll(filepath.Dir(pf), 0o755); err == nil {
		if err := os.WriteFile(pf, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			lg.logf("WARN writing pid file %s: %v", pf, err)
		}
		defer os.Remove(pf)
	}
	srv := server.New(cfg, server.Options{Logf: lg.logf})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startErr := make(chan error, 1)
	go func() { startErr <- srv.Start(ctx) }()
	select {
	case err := <-startErr:
		if err != nil {
			lg.logf("ERROR broker %d failed to start: %v", cfg.BrokerID, err)
			return ucli.Exit(fmt.Sprintf("broker %d failed to start: %v", cfg.BrokerID, err), 1)
		}
		lg.logf("[KafkaServer id=%d] started", cfg.BrokerID)
	case s := <-sigs:
		lg.logf("received %v during startup; stopping", s)
		cancel()
		<-startErr
		srv.Stop()
		return nil
	}
	s := <-sigs
	lg.logf("[KafkaServer id=%d] shutting down (%v)", cfg.BrokerID, s)
	srv.Stop()
	lg.logf("[KafkaServer id=%d] shut down completed", cfg.BrokerID)
	return nil
}

// daemonize re-runs this command in a new session with output to
// logs/server.log (Kafka's kafkaServer.out goes there too), and returns
// once the child is running.
func daemonize(args []string, cfg *config.Config, stdout io.Writer) error {
	dir := logDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ucli.Exit(fmt.Sprintf("creating log dir %s: %v", dir, err), 1)
	}
	logPath := filepath.Join(dir, "server.log")
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return ucli.Exit(fmt.Sprintf("opening %s: %v", logPath, err), 1)
	}
	defer out.Close()
	exe, err := os.Executable()
	if err != nil {
		return ucli.Exit(fmt.Sprintf("locating the kzoo binary: %v", err), 1)
	}
	cmd := exec.Command(exe, append([]string{"broker", "start"}, args...)...)
	cmd.Env = append(os.Environ(), envForeground+"=1")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return ucli.Exit(fmt.Sprintf("starting broker %d: %v", cfg.BrokerID, err), 1)
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	// The child writes the pid file itself; write it now too so that an
	// immediate stop finds it.
	_ = os.WriteFile(pidFile(cfg.BrokerID), []byte(strconv.Itoa(pid)+"\n"), 0o644)
	fmt.Fprintf(stdout, "broker %d started in the background (pid %d), logging to %s\n", cfg.BrokerID, pid, logPath)
	return nil
}

// stop sends SIGTERM to every broker with a pid file in this installation.
func stop(stdout io.Writer) error {
	files, _ := filepath.Glob(filepath.Join(logDir(), "kzoo-broker-*.pid"))
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if !isBroker(pid) {
			os.Remove(f)
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			continue
		}
		fmt.Fprintf(stdout, "sent SIGTERM to broker pid %d (%s)\n", pid, filepath.Base(f))
		n++
	}
	if n == 0 {
		return ucli.Exit("No kafka server to stop", 1)
	}
	return nil
}

// isBroker reports whether pid is a running `kzoo broker start`.
func isBroker(pid int) bool {
	return proc.Runs(pid, func(args []string) bool {
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "broker" && args[i+1] == "start" {
				return true
			}
		}
		return false
	})
}
