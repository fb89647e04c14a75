// Package kafkatools is Kafka 3.x's command-line tools as kzoo subcommands:
// topics (kafka-topics.sh), console-producer, console-consumer, configs
// (kafka-configs.sh), producer-perf-test and consumer-perf-test. Each tool
// takes Kafka's options (parsed as joptsimple does: abbreviations, options
// and other words in any order), prints Kafka's output formats and exits
// with Kafka's codes. They speak the Kafka protocol through franz-go's kgo
// client, so they work against any Kafka-compatible cluster.
//
// Where kzoo's tools differ from Kafka's on purpose: the first connection
// waits at most 10 s (Kafka: 60 s) unless default.api.timeout.ms (admin and
// consumer tools) or max.block.ms (producer tools) says otherwise, and then
// prints one line naming the servers; --group needs a cluster that serves
// consumer groups and says so when it does not; only the default line
// reader and message formatter exist; an idempotent producer falls back to
// a plain one when the cluster does not serve InitProducerId.
//
// It owns argument parsing, output formatting and the client side of each
// tool's requests. It never reaches into a broker's or coordinator's state
// other than through the Kafka protocol, never prints a Go stack trace to a
// user, and never waits without a bound on a server that does not answer.
package kafkatools

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	ucli "github.com/urfave/cli/v2"
)

// ErrUnreachable is returned when no bootstrap server answers in time.
var ErrUnreachable = errors.New("kafkatools: bootstrap server unreachable")

// defaultWaitMs bounds how long a tool waits for its first bootstrap server
// to answer when no timeout property says otherwise.
const defaultWaitMs = 10000

// env is what a tool runs with: its context (cancelled on SIGINT/SIGTERM
// by the command wrapper), stdin and the two output streams.
type env struct {
	ctx context.Context
	in  io.Reader
	out io.Writer
	err io.Writer
}

// tool is one subcommand.
type tool struct {
	name  string
	usage string
	run   func(e *env, args []string) int
}

func tools() []tool {
	return []tool{
		{"topics", "create, delete, describe, or change a topic (kafka-topics.sh)", runTopics},
		{"console-producer", "read stdin lines and send them to a topic (kafka-console-producer.sh)", runConsoleProducer},
		{"console-consumer", "print a topic's records on stdout (kafka-console-consumer.sh)", runConsoleConsumer},
		{"configs", "describe or alter topic and broker configs (kafka-configs.sh)", runConfigs},
		{"producer-perf-test", "measure producer throughput and latency (kafka-producer-perf-test.sh)", runProducerPerf},
		{"consumer-perf-test", "measure consumer throughput (kafka-consumer-perf-test.sh)", runConsumerPerf},
	}
}

// Commands returns the Kafka tool subcommands. Each parses its own options
// (Kafka's, with Kafka's help layout); `kzoo <tool> --help` prints them.
func Commands() []*ucli.Command {
	var cmds []*ucli.Command
	for _, t := range tools() {
		cmds = append(cmds, &ucli.Command{
			Name:            t.name,
			Usage:           t.usage,
			ArgsUsage:       "[options] (see --help)",
			SkipFlagParsing: true,
			HideHelp:        true,
			Action: func(c *ucli.Context) error {
				ctx := c.Context
				if ctx == nil {
					ctx = context.Background()
				}
				in := c.App.Reader
				if in == nil {
					in = os.Stdin
				}
				out, errw := c.App.Writer, c.App.ErrWriter
				if out == nil {
					out = os.Stdout
				}
				if errw == nil {
					errw = os.Stderr
				}
				code := t.run(&env{ctx: ctx, in: in, out: out, err: errw}, c.Args().Slice())
				if code != 0 {
					return ucli.Exit("", code)
				}
				return nil
			},
		})
	}
	return cmds
}

// usageFail prints a command-line problem and the help on stderr, the way
// Kafka's CommandLineUtils.printUsageAndExit does, and returns exit code 1.
func usageFail(e *env, s *optSet, msg string) int {
	fmt.Fprintln(e.err, msg)
	s.printHelp(e.err)
	return 1
}

// parseArgs parses args and handles --help, --version (for the tools that
// have it) and usage errors. It returns nil and the exit code when the tool
// must stop.
func parseArgs(e *env, s *optSet, args []string, about string) (*parsed, int) {
	p, err := s.parse(args)
	if errors.Is(err, errHelp) {
		fmt.Fprintln(e.out, about)
		s.printHelp(e.out)
		return nil, 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return nil, usageFail(e, s, ue.msg)
	}
	if err != nil {
		fmt.Fprintln(e.err, err)
		return nil, 1
	}
	if p.has("version") {
		fmt.Fprintln(e.out, kafkaVersion)
		return nil, 0
	}
	return p, 0
}

// loadProps reads a Java properties file (key=value or key: value lines,
// # and ! comments), as the tools' --command-config, --producer.config and
// --consumer.config files are.
func loadProps(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading properties file %s: %w", path, err)
	}
	defer f.Close()
	props := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			props[line] = ""
			continue
		}
		props[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading properties file %s: %w", path, err)
	}
	return props, nil
}

// parseKVs reads k=v words (--property, --producer-property, --producer-props)
// into props; a word without '=' is an error naming it.
func parseKVs(props map[string]string, words []string, what string) error {
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("Invalid %s '%s': expected key=value", what, w)
		}
		props[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return nil
}

// splitServers turns a bootstrap list into addresses, checking each is
// host:port as Kafka's ClientUtils.parseAndValidateAddresses does.
func splitServers(list string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		i := strings.LastIndexByte(s, ':')
		if i <= 0 || i == len(s)-1 {
			return nil, fmt.Errorf("Invalid url in bootstrap.servers: %s", s)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("No resolvable bootstrap urls given in bootstrap.servers")
	}
	return out, nil
}

// propMs reads a millisecond property, or def when it is absent or bad.
func propMs(props map[string]string, def int, keys ...string) int {
	for _, k := range keys {
		if v, ok := props[k]; ok {
			var n int
			if _, err := fmt.Sscanf(v, "%d", &n); err == nil && n > 0 {
				return n
			}
		}
	}
	return def
}

// commonOpts maps the client properties every tool understands onto kgo.
func commonOpts(servers []string, props map[string]string, clientID string) ([]kgo.Opt, error) {
	if sp, ok := props["security.protocol"]; ok && !strings.EqualFold(sp, "PLAINTEXT") {
		return nil, fmt.Errorf("security.protocol=%s is not supported; only PLAINTEXT is", sp)
	}
	if id := props["client.id"]; id != "" {
		clientID = id
	}
	opts := []kgo.Opt{kgo.SeedBrokers(servers...), kgo.ClientID(clientID)}
	if ms := propMs(props, 0, "request.timeout.ms"); ms > 0 {
		opts = append(opts, kgo.RequestTimeoutOverhead(time.Duration(ms)*time.Millisecond))
	}
	return opts, nil
}

// waitReachable pings until a bootstrap server answers an ApiVersions
// request or waitMs passes; then it names the servers it could not reach.
func waitReachable(ctx context.Context, cl *kgo.Client, servers []string, waitMs int) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(waitMs)*time.Millisecond)
	defer cancel()
	var last error
	for {
		err := cl.Ping(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: cannot connect to %s within %d ms (%v)", ErrUnreachable, strings.Join(servers, ","), waitMs, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// unreachableMsg is the one line a tool prints for ErrUnreachable.
func unreachableMsg(err error) string {
	return strings.TrimPrefix(err.Error(), ErrUnreachable.Error()+": ")
}

// kafkaVersion is the Kafka release whose tools these follow.
const kafkaVersion = "3.2.1 (kzoo)"
