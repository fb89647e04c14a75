// Package groupstool is Kafka's kafka-consumer-groups.sh as the kzoo
// subcommand `consumer-groups`: --list, --describe --group G (Kafka's
// columns), --delete --group G and --reset-offsets --group G --topic T
// (--to-earliest | --to-latest | --to-offset N) with --execute or
// --dry-run. It speaks the Kafka protocol through franz-go's kadm client.
//
// It owns argument checking and output formatting only; it never reaches
// into a broker's state other than through the Kafka protocol and never
// waits without a bound on a server that does not answer.
package groupstool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	ucli "github.com/urfave/cli/v2"
)

// ErrUsage is returned for a command line Kafka's tool would refuse.
var ErrUsage = errors.New("groupstool: bad command line")

// timeout bounds every command's conversation with the cluster.
const timeout = 30 * time.Second

// Commands returns `consumer-groups`.
func Commands() []*ucli.Command {
	return []*ucli.Command{{
		Name:  "consumer-groups",
		Usage: "List, describe, delete consumer groups and reset their offsets (kafka-consumer-groups.sh)",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "bootstrap-server", Usage: "REQUIRED: The server(s) to connect to."},
			&ucli.BoolFlag{Name: "list", Usage: "List all consumer groups."},
			&ucli.BoolFlag{Name: "describe", Usage: "Describe consumer group and list offset lag (number of messages not yet processed) related to given group."},
			&ucli.BoolFlag{Name: "delete", Usage: "Pass in groups to delete topic partition offsets and ownership information over the entire consumer group."},
			&ucli.BoolFlag{Name: "reset-offsets", Usage: "Reset offsets of consumer group."},
			&ucli.StringSliceFlag{Name: "group", Usage: "The consumer group we wish to act on."},
			&ucli.StringSliceFlag{Name: "topic", Usage: "The topic whose consumer group information should be deleted or topic whose should be included in the reset offset process (topic or topic:partitions)."},
			&ucli.BoolFlag{Name: "all-topics", Usage: "Consider all topics assigned to a group in the `reset-offsets` process."},
			&ucli.BoolFlag{Name: "to-earliest", Usage: "Reset offsets to earliest offset."},
			&ucli.BoolFlag{Name: "to-latest", Usage: "Reset offsets to latest offset."},
			&ucli.StringFlag{Name: "to-offset", Usage: "Reset offsets to a specific offset."},
			&ucli.BoolFlag{Name: "execute", Usage: "Execute operation."},
			&ucli.BoolFlag{Name: "dry-run", Usage: "Only show results without executing changes on Consumer Groups."},
		},
		Action: func(c *ucli.Context) error {
			ctx, cancel := context.WithTimeout(c.Context, timeout)
			defer cancel()
			err := Run(ctx, c.App.Writer, c.App.ErrWriter, Options{
				Bootstrap: c.String("bootstrap-server"), List: c.Bool("list"), Describe: c.Bool("describe"), Delete: c.Bool("delete"),
				Reset: c.Bool("reset-offsets"), Groups: c.StringSlice("group"), Topics: c.StringSlice("topic"), AllTopics: c.Bool("all-topics"),
				ToEarliest: c.Bool("to-earliest"), ToLatest: c.Bool("to-latest"), ToOffset: c.String("to-offset"), HasToOffset: c.IsSet("to-offset"),
				Execute: c.Bool("execute"), DryRun: c.Bool("dry-run"),
			})
			if err != nil {
				return ucli.Exit(err.Error(), 1)
			}
			return nil
		},
	}}
}

// Options is one command line.
type Options struct {
	Bootstrap                       string
	List, Describe, Delete, Reset   bool
	Groups, Topics                  []string
	AllTopics, ToEarliest, ToLatest bool
	ToOffset                        string
	HasToOffset                     bool
	Execute, DryRun                 bool
}

// Run executes one command line, printing as Kafka's tool does.
func Run(ctx context.Context, out, errw io.Writer, o Options) error {
	actions := 0
	for _, b := range []bool{o.List, o.Describe, o.Delete, o.Reset} {
		if b {
			actions++
		}
	}
	if actions != 1 {
		return fmt.Errorf("%w: Command must include exactly one action: --list, --describe, --delete, --reset-offsets", ErrUsage)
	}
	if o.Bootstrap == "" {
		return fmt.Errorf("%w: Missing required argument \"[bootstrap-server]\"", ErrUsage)
	}
	if !o.List && len(o.Groups) == 0 {
		return fmt.Errorf("%w: Option [group] is required", ErrUsage)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(o.Bootstrap, ",")...), kgo.ClientID("kzoo-consumer-groups"))
	if err != nil {
		return fmt.Errorf("bootstrap servers %s: %w", o.Bootstrap, err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	switch {
	case o.List:
		return list(ctx, out, adm)
	case o.Describe:
		return describe(ctx, out, adm, o.Groups)
	case o.Delete:
		return del(ctx, out, adm, o.Groups)
	default:
		return reset(ctx, out, errw, adm, o)
	}
}

func list(ctx context.Context, out io.Writer, adm *kadm.Client) error {
	l, err := adm.ListGroups(ctx)
	if err != nil {
		return fmt.Errorf("Error: Executing consumer group command failed due to %v", err)
	}
	for _, g := range l.Sorted() {
		fmt.Fprintln(out, g.Group)
	}
	return nil
}

type row struct {
	topic                 string
	partition             int32
	current, end, lag     string
	consumer, host, clnID string
}

func describe(ctx context.Context, out io.Writer, adm *kadm.Client, groups []string) error {
	described, err := adm.DescribeGroups(ctx, groups...)
	if err != nil {
		return fmt.Errorf("Error: Executing consumer group command failed due to %v", err)
	}
	for _, g := range groups {
		d := described[g]
		if d.Err != nil {
			return fmt.Errorf("Error: Executing consumer group command failed due to %v", d.Err)
		}
		if d.State == "Dead" {
			return fmt.Errorf("Error: Consumer group '%s' does not exist.", g)
		}
		offs, err := adm.FetchOffsets(ctx, g)
		if err != nil {
			return fmt.Errorf("Error: Executing consumer group command failed due to %v", err)
		}
		owner := map[string]map[int32]kadm.DescribedGroupMember{}
		topicSet := map[string]bool{}
		for _, m := range d.Members {
			if ca, ok := m.Assigned.AsConsumer(); ok {
				for _, t := range ca.Topics {
					topicSet[t.Topic] = true
					for _, p := range t.Partitions {
						if owner[t.Topic] == nil {
							owner[t.Topic] = map[int32]kadm.DescribedGroupMember{}
						}
						owner[t.Topic][p] = m
					}
				}
			}
		}
		offs.Each(func(o kadm.OffsetResponse) { topicSet[o.Topic] = true })
		var topics []string
		for t := range topicSet {
			topics = append(topics, t)
		}
		ends := kadm.ListedOffsets{}
		if len(topics) > 0 {
			if ends, err = adm.ListEndOffsets(ctx, topics...); err != nil {
				return fmt.Errorf("Error: Executing consumer group command failed due to %v", err)
			}
		}
		var rows []row
		seen := map[string]map[int32]bool{}
		add := func(t string, p int32) {
			if seen[t] == nil {
				seen[t] = map[int32]bool{}
			}
			if seen[t][p] {
				return
			}
			seen[t][p] = true
			r := row{topic: t, partition: p, current: "-", end: "-", lag: "-", consumer: "-", host: "-", clnID: "-"}
			var cur, end int64 = -1, -1
			if o, ok := offs.Lookup(t, p); ok && o.Err == nil && o.At >= 0 {
				cur = o.At
				r.current = strconv.FormatInt(cur, 10)
			}
			if e, ok := ends.Lookup(t, p); ok && e.Err == nil {
				end = e.Offset
				r.end = strconv.FormatInt(end, 10)
			}
			if cur >= 0 && end >= 0 {
				r.lag = strconv.FormatInt(max(end-cur, 0), 10)
			}
			if m, ok := owner[t][p]; ok {
				r.consumer, r.host, r.clnID = m.MemberID, m.ClientHost, m.ClientID
			}
			rows = append(rows, r)
		}
		for t, ps := range owner {
			for p := range ps {
				add(t, p)
			}
		}
		offs.Each(func(o kadm.OffsetResponse) { add(o.Topic, o.Partition) })
		sort.Slice(rows, func(i, j int) bool {
			if rows[i].topic != rows[j].topic {
				return rows[i].topic < rows[j].topic
			}
			return rows[i].partition < rows[j].partition
		})
		if len(d.Members) == 0 {
			fmt.Fprintf(out, "\nConsumer group '%s' has no active members.\n", g)
		}
		wg, wt, wc, wh := len("GROUP"), len("TOPIC"), len("CONSUMER-ID"), len("HOST")
		wg = max(wg, len(g))
		for _, r := range rows {
			wt, wc, wh = max(wt, len(r.topic)), max(wc, len(r.consumer)), max(wh, len(r.host))
		}
		format := fmt.Sprintf("%%-%ds %%-%ds %%-10s %%-15s %%-15s %%-15s %%-%ds %%-%ds %%s\n", wg, wt, wc, wh)
		fmt.Fprintln(out)
		fmt.Fprintf(out, format, "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID")
		for _, r := range rows {
			fmt.Fprintf(out, format, g, r.topic, strconv.Itoa(int(r.partition)), r.current, r.end, r.lag, r.consumer, r.host, r.clnID)
		}
	}
	return nil
}

func del(ctx context.Context, out io.Writer, adm *kadm.Client, groups []string) error {
	res, err := adm.DeleteGroups(ctx, groups...)
	if err != nil {
		return fmt.Errorf("Error: Executing consumer group command failed due to %v", err)
	}
	var ok, failed []string
	for _, g := range groups {
		if e := res[g].Err; e != nil {
			failed = append(failed, fmt.Sprintf("Error: Deletion of group '%s' failed due to %v", g, e))
		} else {
			ok = append(ok, g)
		}
	}
	if len(failed) == 0 {
		fmt.Fprintf(out, "Deletion of requested consumer groups ('%s') was successful.\n", strings.Join(ok, "', '"))
		return nil
	}
	if len(ok) > 0 {
		fmt.Fprintf(out, "These consumer groups were deleted successfully: '%s'\n", strings.Join(ok, "', '"))
	}
	return errors.New(strings.Join(failed, "\n"))
}

// parseTopics reads --topic values: "t" or "t:0,1,2".
func parseTopics(vals []string) (map[string][]int32, error) {
	out := map[string][]int32{}
	for _, v := range vals {
		name, parts, has := strings.Cut(v, ":")
		out[name] = nil
		if !has {
			continue
		}
		for _, s := range strings.Split(parts, ",") {
			n, err := strconv.ParseInt(s, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("%w: --topic %s: bad partition %q", ErrUsage, v, s)
			}
			out[name] = append(out[name], int32(n))
		}
	}
	return out, nil
}

func reset(ctx context.Context, out, errw io.Writer, adm *kadm.Client, o Options) error {
	n := 0
	for _, b := range []bool{o.ToEarliest, o.ToLatest, o.HasToOffset} {
		if b {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("%w: Option [reset-offsets] takes exactly one of these options: --to-earliest, --to-latest, --to-offset", ErrUsage)
	}
	if len(o.Topics) == 0 && !o.AllTopics {
		return fmt.Errorf("%w: Option [reset-offsets] takes one of these options: --all-topics, --topic", ErrUsage)
	}
	if o.Execute && o.DryRun {
		return fmt.Errorf("%w: Option [reset-offsets] only accepts one of [execute, dry-run]", ErrUsage)
	}
	var target int64
	if o.HasToOffset {
		v, err := strconv.ParseInt(o.ToOffset, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: --to-offset %q is not a number", ErrUsage, o.ToOffset)
		}
		target = v
	}
	if !o.Execute && !o.DryRun {
		fmt.Fprintln(errw, "WARN: No action will be performed as the --execute option is missing. "+
			"In a future major release, the default behavior of this command will be to prompt the user before executing the reset rather than doing a dry run. "+
			"You should add the --dry-run option explicitly if you are scripting this command and want to keep the current default behavior without prompting.")
	}
	sel, err := parseTopics(o.Topics)
	if err != nil {
		return err
	}
	for _, g := range o.Groups {
		d, err := adm.DescribeGroups(ctx, g)
		if err != nil {
			return fmt.Errorf("Error: Executing consumer group command failed due to %v", err)
		}
		if st := d[g].State; st != "Empty" && st != "Dead" {
			return fmt.Errorf("Error: Assignments can only be reset if the group '%s' is inactive, but the current state is %s.", g, st)
		}
		if o.AllTopics {
			offs, err := adm.FetchOffsets(ctx, g)
			if err != nil {
				return fmt.Errorf("Error: Executing consumer group command failed due to %v", err)
			}
			offs.Each(func(r kadm.OffsetResponse) { sel[r.Topic] = append(sel[r.Topic], r.Partition) })
		}
		var topics []string
		for t := range sel {
			topics = append(topics, t)
		}
		starts, err := adm.ListStartOffsets(ctx, topics...)
		if err != nil {
			return fmt.Errorf("Error: Executing consumer group command failed due to %v", err)
		}
		ends, err := adm.ListEndOffsets(ctx, topics...)
		if err != nil {
			return fmt.Errorf("Error: Executing consumer group command failed due to %v", err)
		}
		next := kadm.Offsets{}
		for _, t := range topics {
			ps := sel[t]
			if len(ps) == 0 {
				for p, lo := range ends[t] {
					if lo.Err != nil {
						return fmt.Errorf("Error: Executing consumer group command failed due to %v", lo.Err)
					}
					ps = append(ps, p)
				}
			}
			if len(ps) == 0 {
				return fmt.Errorf("Error: Executing consumer group command failed due to topic %s does not exist", t)
			}
			for _, p := range ps {
				s, okS := starts.Lookup(t, p)
				e, okE := ends.Lookup(t, p)
				if !okS || !okE || s.Err != nil || e.Err != nil {
					return fmt.Errorf("Error: Executing consumer group command failed due to partition %s-%d not found", t, p)
				}
				var at int64
				switch {
				case o.ToEarliest:
					at = s.Offset
				case o.ToLatest:
					at = e.Offset
				default:
					at = min(max(target, s.Offset), e.Offset) // Kafka clamps to the log's range
				}
				next.Add(kadm.Offset{Topic: t, Partition: p, At: at, LeaderEpoch: -1})
			}
		}
		if o.Execute {
			res, err := adm.CommitOffsets(ctx, g, next)
			if err != nil {
				return fmt.Errorf("Error: Executing consumer group command failed due to %v", err)
			}
			if err := res.Error(); err != nil {
				return fmt.Errorf("Error: Executing consumer group command failed due to %v", err)
			}
		}
		fmt.Fprintf(out, "\n%-30s %-30s %-10s %-15s\n", "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET")
		for _, off := range next.Sorted() {
			fmt.Fprintf(out, "%-30s %-30s %-10s %-15s\n", g, off.Topic, strconv.Itoa(int(off.Partition)), strconv.FormatInt(off.At, 10))
		}
	}
	return nil
}
