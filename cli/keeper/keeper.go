// Package keeper is the `kzoo keeper` command: zkServer.sh's
// start|start-foreground|stop|restart|status|print-cmd|version over a
// zoo.cfg, and Kafka's zookeeper-server-start.sh/zookeeper-server-stop.sh
// over a zookeeper.properties. It owns finding the config, the pid file,
// daemonizing (re-running itself as start-foreground in a new session) and
// the words and exit codes users know from those scripts.
//
// It never interprets ZooKeeper state itself: the server runs in
// coordinator/server, the config is parsed by coordinator/config, and
// `status` asks the running server with the `srvr` four-letter word. It
// never signals a process it cannot tie to a pid file holding a kzoo
// keeper process.
package keeper

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"kzoo/coordinator/config"
)

// ErrNotRunning reports that no server answers on the configured port.
var ErrNotRunning = errors.New("keeper: not running")

// pidFileName is the pid file zkServer.sh writes in dataDir.
const pidFileName = "zookeeper_server.pid"

// usage is zkServer.sh's usage line.
const usage = "Usage: zkServer.sh [--config <conf-dir>] {start|start-foreground|stop|version|restart|status|print-cmd} [cfg]"

// kafkaStartUsage is zookeeper-server-start.sh's usage line.
const kafkaStartUsage = "USAGE: zookeeper-server-start.sh [-daemon] zookeeper.properties"

// env is the part of the environment the command reads; tests replace it.
type env struct {
	getenv func(string) string
	exe    func() (string, error)
	stdout io.Writer
	stderr io.Writer
}

func osEnv(c *ucli.Context) env {
	return env{
		getenv: os.Getenv,
		exe:    os.Executable,
		stdout: c.App.Writer,
		stderr: c.App.ErrWriter,
	}
}

// Commands returns `kzoo keeper` with its subcommands.
func Commands() []*ucli.Command {
	cfgArg := "[cfg]"
	sub := func(name, use string, action func(*ucli.Context, env, string) error) *ucli.Command {
		return &ucli.Command{
			Name:      name,
			Usage:     use,
			ArgsUsage: cfgArg,
			Action: func(c *ucli.Context) error {
				if c.NArg() > 1 {
					return usageError(c, fmt.Sprintf("too many arguments: %s", strings.Join(c.Args().Slice(), " ")))
				}
				e := osEnv(c)
				if e.stderr == nil {
					e.stderr = os.Stderr
				}
				return action(c, e, c.Args().First())
			},
		}
	}
	keeper := &ucli.Command{
		Name:  "keeper",
		Usage: "run the ZooKeeper-compatible coordinator (zkServer.sh, zookeeper-server-start.sh)",
		Description: "Start, stop and query one coordinator described by a zoo.cfg.\n" +
			"The config is [cfg] if given (a bare file name is looked up in the conf dir),\n" +
			"else $ZOOCFG in the conf dir: --config, $ZOOCFGDIR, or <binary>/../conf.\n" +
			"SERVER_JVMFLAGS and JVMFLAGS are read for -D system properties.",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "config", Usage: "conf dir holding zoo.cfg (as zkServer.sh --config)"},
		},
		Subcommands: []*ucli.Command{
			sub("start", "start the server in the background and wait for its client port", runStart),
			sub("start-foreground", "run the server in this process until SIGTERM or SIGINT", runForeground),
			sub("stop", "stop the server named by the pid file in dataDir", runStop),
			sub("restart", "stop, then start", runRestart),
			sub("status", "ask the server for its mode with srvr", runStatus),
			sub("print-cmd", "print the command start would run", runPrintCmd),
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(c *ucli.Context) error {
					_, err := fmt.Fprintln(c.App.Writer, "kzoo keeper, ZooKeeper 3.8 compatible coordinator")
					return err
				},
			},
			{
				Name:      "zookeeper-server-start",
				Usage:     "Kafka's zookeeper-server-start.sh: run in the foreground, or in the background with -daemon",
				ArgsUsage: "zookeeper.properties",
				Flags: []ucli.Flag{
					&ucli.BoolFlag{Name: "daemon", Usage: "detach and log to $LOG_DIR/zookeeper.out"},
				},
				Action: func(c *ucli.Context) error {
					if c.NArg() != 1 {
						return usageError(c, kafkaStartUsage)
					}
					e := osEnv(c)
					return runKafkaStart(c, e, c.Args().First(), c.Bool("daemon"))
				},
			},
			{
				Name:      "zookeeper-server-stop",
				Usage:     "Kafka's zookeeper-server-stop.sh: stop the server of [zookeeper.properties], or without it every server of this installation",
				ArgsUsage: "[zookeeper.properties]",
				Action: func(c *ucli.Context) error {
					if c.NArg() > 1 {
						return usageError(c, "USAGE: zookeeper-server-stop.sh [zookeeper.properties]")
					}
					e := osEnv(c)
					return runKafkaStop(c, e, c.Args().First())
				},
			},
		},
		Action: func(c *ucli.Context) error {
			if c.NArg() == 0 {
				return usageError(c, "missing command\n"+usage)
			}
			return usageError(c, fmt.Sprintf("unknown command %q\n%s", c.Args().First(), usage))
		},
	}
	return []*ucli.Command{keeper}
}

// usageError prints what is wrong and the command's usage to stderr, and
// exits 1.
func usageError(c *ucli.Context, what string) error {
	w := c.App.ErrWriter
	if w == nil {
		w = os.Stderr
	}
	fmt.Fprintln(w, what)
	tmpl := ucli.CommandHelpTemplate
	if len(c.Command.Subcommands) > 0 {
		tmpl = ucli.SubcommandHelpTemplate
	}
	ucli.HelpPrinter(w, tmpl, c.Command)
	return ucli.Exit("", 1)
}

// home is the dist home: the directory above the binary's (bin/kzoo → .).
func home(e env) (string, error) {
	exe, err := e.exe()
	if err != nil {
		return "", fmt.Errorf("keeper: locate the kzoo binary: %w", err)
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	return filepath.Dir(filepath.Dir(exe)), nil
}

// confDir is zkEnv.sh's ZOOCFGDIR: --config, $ZOOCFGDIR, else <home>/conf.
func confDir(c *ucli.Context, e env) (string, error) {
	if d := c.String("config"); d != "" {
		return d, nil
	}
	if d := e.getenv("ZOOCFGDIR"); d != "" {
		return d, nil
	}
	h, err := home(e)
	if err != nil {
		return "", err
	}
	return filepath.Join(h, "conf"), nil
}

// cfgPath resolves the config the way zkServer.sh does: no argument means
// $ZOOCFGDIR/$ZOOCFG (zoo.cfg); a bare name is looked up in the conf dir; a
// path with a directory is used as given (relative to the working dir).
func cfgPath(c *ucli.Context, e env, arg string) (string, error) {
	dir, err := confDir(c, e)
	if err != nil {
		return "", err
	}
	if arg == "" {
		name := e.getenv("ZOOCFG")
		if name == "" {
			name = "zoo.cfg"
		}
		if filepath.IsAbs(name) {
			return name, nil
		}
		return filepath.Join(dir, name), nil
	}
	if filepath.Dir(arg) == "." && !strings.HasPrefix(arg, "./") {
		return filepath.Join(dir, arg), nil
	}
	return arg, nil
}

// sysProps gathers -D options from SERVER_JVMFLAGS and JVMFLAGS (the later
// wins, as on a java command line where JVMFLAGS comes after).
func sysProps(e env) map[string]string {
	props := config.ParseJVMFlags(e.getenv("SERVER_JVMFLAGS"))
	for k, v := range config.ParseJVMFlags(e.getenv("JVMFLAGS")) {
		props[k] = v
	}
	return props
}

// load reads and validates the config; its error is one line.
// usingConfig finds and loads the command's zoo.cfg, saying which one as
// zkServer.sh does ("Using config: …" on stderr); errors are ready to return.
func usingConfig(c *ucli.Context, e env, arg string) (string, *config.Config, error) {
	path, err := cfgPath(c, e, arg)
	if err != nil {
		return "", nil, fail(err.Error())
	}
	fmt.Fprintf(e.stderr, "Using config: %s\n", path)
	cfg, err := load(e, path)
	if err != nil {
		return "", nil, fail(err.Error())
	}
	return path, cfg, nil
}

func load(e env, path string) (*config.Config, error) {
	cfg, err := config.Load(path, sysProps(e))
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(e.stderr, "WARN", w)
	}
	return cfg, nil
}

// pidFile is $ZOOPIDFILE, else dataDir/zookeeper_server.pid.
func pidFile(e env, cfg *config.Config) string {
	if p := e.getenv("ZOOPIDFILE"); p != "" {
		return p
	}
	return filepath.Join(cfg.DataDir, pidFileName)
}

// logDir is $ZOO_LOG_DIR (or Kafka's $LOG_DIR when kafka is set), else <home>/logs.
func logDir(e env, kafka bool) (string, error) {
	if d := e.getenv("ZOO_LOG_DIR"); d != "" && !kafka {
		return d, nil
	}
	if d := e.getenv("LOG_DIR"); d != "" && kafka {
		return d, nil
	}
	h, err := home(e)
	if err != nil {
		return "", err
	}
	return filepath.Join(h, "logs"), nil
}

// daemonOut is zkServer.sh's zookeeper-$USER-server-$HOSTNAME.out.
func daemonOut(e env, dir string) string {
	user := e.getenv("USER")
	if user == "" {
		user = "kzoo"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return filepath.Join(dir, fmt.Sprintf("zookeeper-%s-server-%s.out", user, host))
}

// fail prints msg to stderr and exits 1.
func fail(msg string) error {
	return ucli.Exit(msg, 1)
}
