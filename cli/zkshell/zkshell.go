// Package zkshell is `kzoo zk-shell`, the bin/zkCli.sh of kzoo: ZooKeeper
// 3.8's command-line shell, interactive or one-shot, speaking to any
// ZooKeeper-compatible server through coordinator/client. It owns the
// shell's argument parsing, its command table and ZooKeeper's exact output
// formats and error words; it never reaches past the client protocol (no
// server internals, no files besides stdin/stdout/stderr).
//
// Output follows zkCli.sh: results on stdout; errors, usage lines and
// "Created /x" on stderr. Where zkCli prints connection chatter to stdout
// in one-shot mode ("Connecting to …", the SyncConnected event), the
// shell writes it to stderr so that stdout stays parseable.
//
// Deliberate differences from zkCli 3.8: option errors read
// "Unrecognized option: -x" without the Java exception class; a bad
// number (set -v abc) prints the usage line instead of a stack trace; the
// session is closed on exit, so a one-shot "create -e" node goes at once;
// version names kzoo; setquota, listquota, delquota and reconfig are not
// implemented (they are "Command not found", exit 127).
package zkshell

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"kzoo/coordinator/client"
	"kzoo/coordinator/jute"
)

// Exit codes, as ZooKeeperMain's.
const (
	exitOK       = 0
	exitError    = 1
	exitNotFound = 127
)

// mainUsage is the first line of ZooKeeper's usage text.
const mainUsage = "ZooKeeper -server host:port -client-configuration properties-file cmd args"

// Command returns the zk-shell subcommand. Its flags are zkCli's
// single-dash ones, parsed here rather than by urfave/cli because a
// one-shot command's own options (ls -R /) follow them.
func Command() *cli.Command {
	return &cli.Command{
		Name:            "zk-shell",
		Usage:           "ZooKeeper shell (bin/zkCli.sh): interactive, or one command and exit",
		UsageText:       "kzoo zk-shell [-server host:port[,host:port][/chroot]] [-timeout ms] [-r] [-waitforconnection] [cmd args...]",
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			in := c.App.Reader
			if in == nil {
				in = os.Stdin
			}
			code := Run(c.Args().Slice(), in, c.App.Writer, c.App.ErrWriter)
			if code != 0 {
				return cli.Exit("", code)
			}
			return nil
		},
	}
}

// options are zkCli's command-line options.
type options struct {
	server            string
	timeout           time.Duration
	readOnly          bool
	waitForConnection bool
	command           []string // one-shot command, empty for interactive
}

// errUsage asks for the usage text after the message.
var errUsage = errors.New("zkshell: usage")

// parseOptions reads zkCli's options: -server, -timeout, -r,
// -waitforconnection (and -client-configuration, accepted and ignored);
// the first argument not starting with "-" begins the command.
func parseOptions(args []string) (options, error) {
	o := options{server: "localhost:2181", timeout: 30 * time.Second}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := strings.TrimLeft(a, "-")
		if !strings.HasPrefix(a, "-") {
			o.command = args[i:]
			return o, nil
		}
		value := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("Error: no argument found for option %s", a)
			}
			i++
			return args[i], nil
		}
		switch name {
		case "server":
			v, err := value()
			if err != nil {
				return o, err
			}
			o.server = v
		case "timeout":
			v, err := value()
			if err != nil {
				return o, err
			}
			ms, err := strconv.Atoi(v)
			if err != nil || ms <= 0 {
				return o, fmt.Errorf("Error: -timeout %q is not a positive number of milliseconds", v)
			}
			o.timeout = time.Duration(ms) * time.Millisecond
		case "r":
			o.readOnly = true
		case "waitforconnection":
			o.waitForConnection = true
		case "client-configuration":
			if _, err := value(); err != nil {
				return o, err
			}
		case "h", "help":
			return o, errUsage
		default:
			return o, fmt.Errorf("Error: unknown option %s", a)
		}
	}
	return o, nil
}

// Run runs the shell with args (everything after "zk-shell") and returns
// the exit code: in one-shot mode 0 when the command succeeded, 1 when it
// failed, 127 for an unknown command; in interactive mode that of the
// last command. The interactive prompt is printed before every line read,
// from a terminal or a pipe alike.
func Run(args []string, in io.Reader, out, errOut io.Writer) int {
	o, err := parseOptions(args)
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(errOut, err)
		}
		printUsage(errOut)
		if errors.Is(err, errUsage) {
			return exitOK
		}
		return exitError
	}
	s := &shell{
		out: out, errOut: errOut, timeout: o.timeout, readOnly: o.readOnly,
		history: map[int]string{}, printWatches: true, interactive: len(o.command) == 0,
	}
	if s.interactive {
		fmt.Fprintf(out, "Connecting to %s\n", o.server)
	} else {
		fmt.Fprintf(errOut, "Connecting to %s\n", o.server)
	}
	if err := s.connect(o.server); err != nil {
		fmt.Fprintln(errOut, err)
		return exitError
	}
	defer func() {
		// zkCli exits without printing its session's end; so do we.
		s.printWatches = false
		s.closeSession()
	}()
	if o.waitForConnection {
		ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
		err := s.zk.WaitConnected(ctx)
		cancel()
		if err != nil {
			fmt.Fprintf(errOut, "Unable to connect to %s within %d ms: %v\n", o.server, o.timeout.Milliseconds(), err)
			return exitError
		}
	}
	if !s.interactive {
		s.runBuffered(o.command)
		return s.exitCode
	}
	fmt.Fprintln(out, "Welcome to ZooKeeper!")
	if restore := s.useEditor(in, out); restore != nil {
		defer restore()
	}
	s.loop(in)
	return s.exitCode
}

// useEditor switches to the line editor when stdin and stdout are both a
// terminal, and returns what restores the terminal (nil when it stays a
// plain line reader). Ctrl-C then restores the terminal before exiting.
func (s *shell) useEditor(in io.Reader, out io.Writer) func() {
	fin, ok1 := in.(*os.File)
	fout, ok2 := out.(*os.File)
	if !ok1 || !ok2 || !isCharDevice(fout) || !isCharDevice(fin) {
		return nil
	}
	restore, err := makeRaw(fin)
	if err != nil {
		return nil
	}
	s.ed = newEditor(fin, out)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			restore()
			fmt.Fprintln(out)
			os.Exit(130)
		case <-done:
		}
	}()
	return func() {
		close(done)
		signal.Stop(sigs)
		restore()
	}
}

// isCharDevice reports whether f is a terminal (a character device).
func isCharDevice(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// shell is one run of the shell. Everything it prints is printed from
// the goroutine running loop (or Run), so output never interleaves.
type shell struct {
	out, errOut  io.Writer
	host         string // the connect string as given, shown in the prompt
	timeout      time.Duration
	readOnly     bool
	zk           *client.Client
	events       <-chan client.Event // nil once the client's channel closed
	history      map[int]string
	count        int
	printWatches bool
	interactive  bool
	ed           *editor // line editor on a terminal, nil for plain input
	exitCode     int
	quit         bool
}

// connect opens a session to a connect string (replacing the current
// one) without waiting for it: commands wait for the connection.
func (s *shell) connect(host string) error {
	servers, chroot, err := client.ParseConnectString(host)
	if err != nil {
		return err
	}
	s.closeSession()
	zk, err := client.Connect(client.Options{
		Servers: servers, Chroot: chroot, SessionTimeout: s.timeout, CanBeReadOnly: s.readOnly,
	})
	if err != nil {
		return err
	}
	s.host, s.zk, s.events = host, zk, zk.Events()
	return nil
}

// closeSession closes the current session and prints its last events.
func (s *shell) closeSession() {
	if s.zk == nil {
		return
	}
	_ = s.zk.Close()
	s.drainEvents()
}

// loop reads commands line by line until EOF or quit, printing watch
// events as they come in between. A line is read only after its prompt
// is shown, so typeahead lands on the right line.
func (s *shell) loop(in io.Reader) {
	next := s.lineSource(in)
	lines := make(chan string)
	want := make(chan struct{}, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(lines)
		for {
			select {
			case <-want:
			case <-stop:
				return
			}
			line, err := next()
			if err != nil {
				return
			}
			select {
			case lines <- line:
			case <-stop:
				return
			}
		}
	}()
	s.printPrompt()
	want <- struct{}{}
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				return
			}
			s.drainEvents()
			s.executeLine(line)
			s.drainEvents()
			if s.quit {
				return
			}
			s.printPrompt()
			want <- struct{}{}
		case ev, ok := <-s.events:
			if !ok {
				s.events = nil
				continue
			}
			s.printEvent(ev)
		}
	}
}

// lineSource returns the function that reads the next line: the line
// editor's on a terminal, else a plain line scanner.
func (s *shell) lineSource(in io.Reader) func() (string, error) {
	if s.ed != nil {
		return s.ed.readLine
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), jute.MaxBufferDefault+4096)
	return func() (string, error) {
		if sc.Scan() {
			return sc.Text(), nil
		}
		if err := sc.Err(); err != nil {
			return "", err
		}
		return "", io.EOF
	}
}

func (s *shell) printPrompt() {
	p := fmt.Sprintf("[zk: %s(%s) %d] ", s.host, s.zk.State(), s.count)
	if s.ed != nil {
		s.ed.begin(p)
		return
	}
	io.WriteString(s.out, p)
}

// drainEvents prints the events already delivered, without waiting.
func (s *shell) drainEvents() {
	for s.events != nil {
		select {
		case ev, ok := <-s.events:
			if !ok {
				s.events = nil
				return
			}
			s.printEvent(ev)
		default:
			return
		}
	}
}

// printEvent prints an event as ZooKeeperMain's watcher does. In one-shot
// mode session state changes go to stderr.
func (s *shell) printEvent(ev client.Event) {
	if !s.printWatches {
		return
	}
	w := s.out
	if !s.interactive && ev.Type == jute.EventNone {
		w = s.errOut
	}
	print := func() { fmt.Fprintf(w, "\nWATCHER::\n\n%s\n", ev) }
	if s.ed != nil {
		s.ed.interrupt(print)
		return
	}
	print()
}

// executeLine runs one interactive line and records it in the history.
func (s *shell) executeLine(line string) {
	if strings.TrimSpace(line) == "" {
		return
	}
	s.history[s.count] = line
	s.runBuffered(splitLine(line))
	s.count++
}

// runBuffered runs one command with its output held back until the
// events delivered before its answer have been printed, so that output
// reads in the order things happened (a watch fired by a command prints
// before that command's result, as in zkCli).
func (s *shell) runBuffered(toks []string) {
	out, errOut := s.out, s.errOut
	var bo, be bytes.Buffer
	s.out, s.errOut = &bo, &be
	s.processCmd(toks)
	s.out, s.errOut = out, errOut
	s.drainEvents()
	_, _ = out.Write(bo.Bytes())
	_, _ = errOut.Write(be.Bytes())
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, mainUsage)
	for _, c := range commandList() {
		fmt.Fprintf(w, "\t%s\n", c.usage)
	}
}
