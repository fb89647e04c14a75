package keeper

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	ucli "github.com/urfave/cli/v2"

	"kzoo/coordinator/config"
	"kzoo/internal/proc"
)

// startTimeout bounds how long start waits for the client port.
const startTimeout = 60 * time.Second

// stopTimeout bounds how long stop waits for the process to exit.
const stopTimeout = 60 * time.Second

// ensembleSettle is how long an ensemble member must stay up to count as
// started (zkServer.sh waits one second).
const ensembleSettle = 2 * time.Second

// pollEvery is the interval of start's and stop's deadline polls.
const pollEvery = 50 * time.Millisecond

func runStart(c *ucli.Context, e env, arg string) error {
	path, cfg, err := usingConfig(c, e, arg)
	if err != nil {
		return err
	}
	dir, err := logDir(e, false)
	if err != nil {
		return fail(err.Error())
	}
	fmt.Fprint(e.stdout, "Starting zookeeper ... ")
	if err := spawn(e, cfg, path, daemonOut(e, dir)); err != nil {
		fmt.Fprintln(e.stdout, err.label)
		return fail(err.reason)
	}
	fmt.Fprintln(e.stdout, "STARTED")
	return nil
}

// spawnError carries zkServer.sh's word for the failure and its reason.
type spawnError struct{ label, reason string }

// spawn starts `kzoo keeper start-foreground <cfg>` in a new session with
// stdout and stderr in out, writes its pid file and returns once the
// client port accepts connections (an ensemble member: once it has stayed
// up for ensembleSettle), or with the reason it did not.
func spawn(e env, cfg *config.Config, path, out string) *spawnError {
	pf := pidFile(e, cfg)
	if pid, ok := livePid(pf); ok {
		return &spawnError{fmt.Sprintf("zookeeper already running as process %d.", pid), fmt.Sprintf("pid file %s names a running server", pf)}
	}
	addr := dialAddr(cfg)
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		return &spawnError{"FAILED TO START", fmt.Sprintf("client port %s is already in use by another process", addr)}
	}
	exe, err := e.exe()
	if err != nil {
		return &spawnError{"SERVER DID NOT START", fmt.Sprintf("locate the kzoo binary: %v", err)}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return &spawnError{"SERVER DID NOT START", fmt.Sprintf("config %s: %v", path, err)}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return &spawnError{"SERVER DID NOT START", fmt.Sprintf("log dir: %v", err)}
	}
	if err := os.MkdirAll(filepath.Dir(pf), 0o755); err != nil {
		return &spawnError{"FAILED TO WRITE PID", fmt.Sprintf("pid file dir: %v", err)}
	}
	// Append, not truncate: the coordinators of one installation (an
	// ensemble on one host, as make run starts) share this file, and a
	// truncating writer would overwrite the others' lines.
	logf, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return &spawnError{"SERVER DID NOT START", fmt.Sprintf("log file: %v", err)}
	}
	defer logf.Close()
	var outStart int64 // where this server's lines begin in the shared file
	if st, err := logf.Stat(); err == nil {
		outStart = st.Size()
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return &spawnError{"SERVER DID NOT START", err.Error()}
	}
	defer devnull.Close()

	cmd := exec.Command(exe, "keeper", "start-foreground", abs)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.Env = append(os.Environ(), "ZOOPIDFILE="+pf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return &spawnError{"SERVER DID NOT START", fmt.Sprintf("run %s: %v", exe, err)}
	}
	if err := writePid(pf, cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return &spawnError{"FAILED TO WRITE PID", err.Error()}
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// An ensemble member serves clients only once a quorum has formed, which
	// needs the other members: like zkServer.sh, it counts as started when it
	// is still running after ensembleSettle. A standalone server must listen.
	started := time.Now()
	deadline := started.Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case werr := <-exited:
			removePidIf(pf, cmd.Process.Pid)
			reason := lastLine(out, outStart)
			if reason == "" {
				reason = fmt.Sprintf("process exited: %v", werr)
			}
			return &spawnError{"FAILED TO START", fmt.Sprintf("%s (see %s)", reason, out)}
		case <-time.After(pollEvery):
		}
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			return nil
		}
		if !cfg.Standalone() && time.Since(started) >= ensembleSettle {
			return nil
		}
	}
	return &spawnError{"FAILED TO START", fmt.Sprintf("client port %s did not open within %s; process %d is still running (see %s)",
		addr, startTimeout, cmd.Process.Pid, out)}
}

// dialAddr is the address to reach the client port on this machine.
func dialAddr(cfg *config.Config) string {
	host, port, _ := net.SplitHostPort(cfg.ClientAddr())
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// lastLine returns the last non-blank line written to a file from offset
// on, or "". Lines of other processes appending to the same file may
// interleave; the reason a server gives for exiting is its last line.
func lastLine(path string, offset int64) string {
	data, err := os.ReadFile(path)
	if err != nil || offset > int64(len(data)) {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(data[offset:])), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// writePid writes pid to path atomically.
func writePid(path string, pid int) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("pid file %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("pid file %s: %w", path, err)
	}
	return nil
}

// readPid reads a pid file; ok is false when it is missing or unreadable.
func readPid(path string) (int, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// livePid returns the pid in the pid file when that process is alive and
// is a kzoo keeper (a stale pid reused by another program does not count).
func livePid(path string) (int, bool) {
	pid, ok := readPid(path)
	if !ok || !isKeeper(pid) {
		return 0, false
	}
	return pid, true
}

// isKeeper reports whether pid is a live `kzoo keeper`; where /proc is
// not available it trusts the pid file.
func isKeeper(pid int) bool {
	return proc.Runs(pid, func(args []string) bool { return slices.Contains(args, "keeper") })
}

// removePidIf removes the pid file when it still names pid.
func removePidIf(path string, pid int) {
	if got, ok := readPid(path); ok && got == pid {
		_ = os.Remove(path)
	}
}

// stopPid sends SIGTERM to the keeper in the pid file and waits for it to
// exit. found is false when there is no pid file.
func stopPid(pf string) (found bool, err error) {
	pid, ok := readPid(pf)
	if !ok {
		if _, statErr := os.Stat(pf); statErr != nil {
			return false, nil
		}
		_ = os.Remove(pf)
		return true, nil
	}
	if !isKeeper(pid) {
		_ = os.Remove(pf) // stale: the process is gone (or the pid was reused)
		return true, nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return true, fmt.Errorf("signal process %d from %s: %w", pid, pf, err)
	}
	deadline := time.Now().Add(stopTimeout)
	for proc.Alive(pid) {
		if time.Now().After(deadline) {
			return true, fmt.Errorf("process %d from %s is still running after %s", pid, pf, stopTimeout)
		}
		time.Sleep(pollEvery) // deadline poll of another process's exit
	}
	removePidIf(pf, pid)
	return true, nil
}

func runStop(c *ucli.Context, e env, arg string) error {
	_, cfg, err := usingConfig(c, e, arg)
	if err != nil {
		return err
	}
	pf := pidFile(e, cfg)
	fmt.Fprint(e.stdout, "Stopping zookeeper ... ")
	found, err := stopPid(pf)
	if !found {
		fmt.Fprintf(e.stdout, "no zookeeper to stop (could not find file %s)\n", pf)
		return nil
	}
	if err != nil {
		fmt.Fprintln(e.stdout, "FAILED")
		return fail(err.Error())
	}
	fmt.Fprintln(e.stdout, "STOPPED")
	return nil
}

func runRestart(c *ucli.Context, e env, arg string) error {
	if err := runStop(c, e, arg); err != nil {
		return err
	}
	return runStart(c, e, arg)
}

func runPrintCmd(c *ucli.Context, e env, arg string) error {
	path, err := cfgPath(c, e, arg)
	if err != nil {
		return fail(err.Error())
	}
	fmt.Fprintf(e.stderr, "Using config: %s\n", path)
	exe, err := e.exe()
	if err != nil {
		return fail(err.Error())
	}
	dir, err := logDir(e, false)
	if err != nil {
		return fail(err.Error())
	}
	fmt.Fprintf(e.stdout, "%q keeper start-foreground %q > %q 2>&1 < /dev/null\n", exe, path, daemonOut(e, dir))
	return nil
}

// runKafkaStart is zookeeper-server-start.sh: the config path is taken as
// given; -daemon detaches with output in $LOG_DIR/zookeeper.out and, like
// Kafka's script, prints nothing when all is well.
func runKafkaStart(c *ucli.Context, e env, path string, daemon bool) error {
	if !daemon {
		return runForeground(c, e, path)
	}
	cfg, err := load(e, path)
	if err != nil {
		return fail(err.Error())
	}
	dir, err := logDir(e, true)
	if err != nil {
		return fail(err.Error())
	}
	if serr := spawn(e, cfg, path, filepath.Join(dir, "zookeeper.out")); serr != nil {
		return fail(fmt.Sprintf("%s (%s)", strings.TrimSuffix(serr.label, "."), serr.reason))
	}
	return nil
}

// runKafkaStop is zookeeper-server-stop.sh, by pid file instead of by
// process name: with a config it stops the server whose pid file is in
// that config's dataDir; without one it stops every keeper of this
// installation (each registers in <home>/logs), as Kafka's script stops
// every ZooKeeper on the machine. Either way "No zookeeper server to stop"
// and exit 1 when there was none.
func runKafkaStop(c *ucli.Context, e env, path string) error {
	var pidFiles []string
	if path != "" {
		cfg, err := config.Load(path, sysProps(e))
		if err != nil {
			return fail(err.Error())
		}
		pidFiles = []string{pidFile(e, cfg)}
	} else {
		h, err := home(e)
		if err != nil {
			return fail(err.Error())
		}
		pidFiles, _ = filepath.Glob(filepath.Join(h, "logs", "zookeeper-server-*.pid"))
	}
	stopped := 0
	var errs []string
	for _, pf := range pidFiles {
		if _, ok := livePid(pf); !ok {
			if path == "" {
				_ = os.Remove(pf) // a registry entry left by a killed server
			}
			continue
		}
		if _, err := stopPid(pf); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		stopped++
	}
	if len(errs) > 0 {
		return fail(strings.Join(errs, "; "))
	}
	if stopped == 0 {
		return fail("No zookeeper server to stop")
	}
	return nil
}

// srvrMode asks the server at addr for `srvr` and returns its Mode line.
func srvrMode(addr string, timeout time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrNotRunning, addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte("srvr")); err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrNotRunning, addr, err)
	}
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "Mode:") {
			return strings.TrimSpace(line), nil
		}
	}
	return "", fmt.Errorf("%w: %s answered srvr without a Mode line", ErrNotRunning, addr)
}

func runStatus(c *ucli.Context, e env, arg string) error {
	_, cfg, err := usingConfig(c, e, arg)
	if err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(cfg.ClientAddr())
	shown := host
	if shown == "" {
		shown = "localhost"
	}
	fmt.Fprintf(e.stdout, "Client port found: %s. Client address: %s. Client SSL: false.\n", port, shown)
	mode, err := srvrMode(dialAddr(cfg), 5*time.Second)
	if err != nil {
		// zkServer.sh says this on stdout.
		fmt.Fprintln(e.stdout, "Error contacting service. It is probably not running.")
		return fail("")
	}
	fmt.Fprintln(e.stdout, mode)
	return nil
}
