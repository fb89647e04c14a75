// Package storagetool is `kzoo storage` (kafka-storage.sh): random-uuid,
// and format/info of the log directories a KRaft-mode server.properties
// names. It writes only meta.properties; KRaft's metadata log itself is not
// part of kzoo yet, so a formatted directory still cannot start a KRaft
// broker, and the broker says so.
package storagetool

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"kzoo/broker/config"
	"kzoo/broker/meta"
)

// ErrLegacyConfig is format's refusal of a ZooKeeper-mode config.
var ErrLegacyConfig = errors.New("The kafka configuration file appears to be for a legacy cluster. Formatting is only supported for clusters in KRaft mode.")

// RandomUUID is Kafka's Uuid.randomUuid().toString(): 16 random bytes in
// unpadded base64url, never all zeros and never starting with '-'.
func RandomUUID() string {
	for {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			panic(fmt.Sprintf("storagetool: no randomness: %v", err))
		}
		s := base64.RawURLEncoding.EncodeToString(b[:])
		if b != [16]byte{} && !strings.HasPrefix(s, "-") {
			return s
		}
	}
}

// ParseUUID checks a cluster id the way Kafka's Uuid.fromString does.
func ParseUUID(s string) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 16 {
		return fmt.Errorf("Cluster ID string %s does not appear to be a valid UUID: Input string with prefix `%.22s` is too short to be decoded as a base64 UUID", s, s)
	}
	return nil
}

// Commands returns `storage` with its subcommands.
func Commands() []*ucli.Command {
	cfgFlag := &ucli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "The Kafka configuration file to use.", Required: true}
	return []*ucli.Command{{
		Name:  "storage",
		Usage: "The Kafka storage tool (kafka-storage.sh)",
		Subcommands: []*ucli.Command{
			{
				Name:  "random-uuid",
				Usage: "Print a random UUID.",
				Action: func(c *ucli.Context) error {
					fmt.Fprintln(c.App.Writer, RandomUUID())
					return nil
				},
			},
			{
				Name:  "format",
				Usage: "Format the Kafka log directories on this node.",
				Flags: []ucli.Flag{cfgFlag,
					&ucli.StringFlag{Name: "cluster-id", Aliases: []string{"t"}, Usage: "The cluster ID to use.", Required: true},
					&ucli.BoolFlag{Name: "ignore-formatted", Aliases: []string{"g"}, Usage: "When this option is passed, the format command will skip over already formatted directories rather than failing."},
				},
				Action: func(c *ucli.Context) error {
					err := Format(c.App.Writer, c.String("config"), c.String("cluster-id"), c.Bool("ignore-formatted"), time.Now())
					if err != nil {
						return ucli.Exit(err.Error(), 1)
					}
					return nil
				},
			},
			{
				Name:  "info",
				Usage: "Get information about the Kafka log directories on this node.",
				Flags: []ucli.Flag{cfgFlag},
				Action: func(c *ucli.Context) error {
					if err := Info(c.App.Writer, c.String("config")); err != nil {
						return ucli.Exit(err.Error(), 1)
					}
					return nil
				},
			},
		},
	}}
}

// Format writes meta.properties (version 1, node.id, cluster.id) into every
// log directory of a KRaft-mode config, as kafka-storage.sh format does.
func Format(out io.Writer, path, clusterID string, ignoreFormatted bool, now time.Time) error {
	cfg, err := config.Load(path, nil)
	if err != nil {
		return err
	}
	if !cfg.KRaft {
		return ErrLegacyConfig
	}
	if err := ParseUUID(clusterID); err != nil {
		return err
	}
	nodeID := cfg.Values["node.id"]
	var todo []string
	for _, d := range cfg.LogDirs {
		m, err := meta.Read(d)
		if err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
		if m != nil {
			if !ignoreFormatted {
				return fmt.Errorf("Log directory %s is already formatted. Use --ignore-formatted to ignore this directory and format the others.", d)
			}
			continue
		}
		todo = append(todo, d)
	}
	if len(todo) == 0 {
		return errors.New("All of the log directories are already formatted.")
	}
	for _, d := range todo {
		if err := mkdirAll(d); err != nil {
			return fmt.Errorf("Unable to create storage directory %s: %w", d, err)
		}
		if err := meta.Write(d, now, [2]string{"node.id", nodeID}, [2]string{"version", "1"}, [2]string{"cluster.id", clusterID}); err != nil {
			return err
		}
		fmt.Fprintf(out, "Formatting %s\n", d)
	}
	return nil
}

// Info prints what kafka-storage.sh info prints: the log directories found
// and the metadata in their meta.properties, or the problems.
func Info(out io.Writer, path string) error {
	cfg, err := config.Load(path, nil)
	if err != nil {
		return err
	}
	var found, problems []string
	var metas []map[string]string
	for _, d := range cfg.LogDirs {
		if !isDir(d) {
			problems = append(problems, fmt.Sprintf("%s does not exist", d))
			continue
		}
		m, err := meta.Read(d)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", d, err))
			continue
		}
		found = append(found, d)
		if m == nil {
			problems = append(problems, fmt.Sprintf("%s is not formatted.", d))
			continue
		}
		metas = append(metas, m)
	}
	if len(found) > 0 {
		fmt.Fprintf(out, "Found log director%s:\n", plural(len(found), "y", "ies"))
		for _, d := range found {
			fmt.Fprintf(out, "  %s\n", d)
		}
		fmt.Fprintln(out)
	}
	if len(metas) > 0 {
		m := metas[0]
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+m[k])
		}
		fmt.Fprintf(out, "Found metadata: {%s}\n", strings.Join(kv, ", "))
		for _, o := range metas[1:] {
			if o["cluster.id"] != m["cluster.id"] {
				problems = append(problems, fmt.Sprintf("Metadata for log directories disagree on cluster.id: %s and %s", m["cluster.id"], o["cluster.id"]))
			}
		}
		fmt.Fprintln(out)
	}
	if len(problems) > 0 {
		fmt.Fprintf(out, "Found problem%s:\n", plural(len(problems), "", "s"))
		for _, p := range problems {
			fmt.Fprintf(out, "  %s\n", p)
		}
		fmt.Fprintln(out)
		return errors.New("")
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
