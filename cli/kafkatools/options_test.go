package kafkatools

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestOptionsParse(t *testing.T) {
	s := &optSet{opts: []*opt{
		{name: "bootstrap-server", arg: "server"},
		{name: "broker-list", arg: "list"},
		{name: "topic", arg: "topic"},
		{name: "sync"},
		{name: "codec", arg: "c", optionalArg: true},
		{name: "props", arg: "k=v", nargs: true},
		{name: "throughput", arg: "n", typ: "Long"},
	}}
	p, err := s.parse([]string{"stray", "-topic", "t", "--sync", "--boot=h:1", "--codec", "--props", "a=1", "b=2", "--throughput", "-1", "--", "--after"})
	require.NoError(t, err)
	require.Equal(t, "t", p.str("topic"))
	require.Equal(t, "h:1", p.str("bootstrap-server"), "unique abbreviation")
	require.True(t, p.has("sync"))
	require.True(t, p.has("codec"))
	require.Equal(t, "", p.str("codec"))
	require.Equal(t, []string{"a=1", "b=2"}, p.all("props"))
	require.Equal(t, int64(-1), p.int64("throughput"), "a negative number is a value")
	require.Equal(t, []string{"stray", "--after"}, p.rest)

	_, err = s.parse([]string{"--b", "x"})
	var ue *usageError
	require.ErrorAs(t, err, &ue)
	require.Contains(t, ue.msg, "is ambiguous")

	_, err = s.parse([]string{"--sync=yes"})
	require.ErrorAs(t, err, &ue)
	require.Equal(t, "Option sync does not take an argument", ue.msg)

	_, err = s.parse([]string{"--topic", "t", "--help"})
	require.True(t, errors.Is(err, errHelp))
}

func TestOptionsHelpLayout(t *testing.T) {
	var b bytes.Buffer
	topicsOpts().printHelp(&b)
	lines := strings.Split(b.String(), "\n")
	require.Equal(t, "Option                                   Description", lines[0])
	require.Equal(t, "------                                   -----------", lines[1])
	require.Equal(t, "--alter                                  Alter the number of partitions,", lines[2])
	for _, l := range lines {
		if !strings.Contains(strings.TrimSpace(l), " ") {
			continue // one word longer than the column stays whole
		}
		require.LessOrEqual(t, len(l), 80, l)
	}
}

// TestConfigsDescribeSynonymsFormat checks the exact line layout against a
// DescribeConfigs answer shaped as Kafka's ZooKeeper-mode broker sends it.
func TestConfigsDescribeSynonymsFormat(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	c.ControlKey(32, func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.DescribeConfigsRequest)
		resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
		res := kmsg.NewDescribeConfigsResponseResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "t"
		add := func(name, value string, src kmsg.ConfigSource, syn ...[3]string) {
			cfg := kmsg.NewDescribeConfigsResponseResourceConfig()
			cfg.Name, cfg.Value, cfg.Source = name, kmsg.StringPtr(value), src
			for _, s := range syn {
				sy := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
				sy.Name, sy.Value = s[0], kmsg.StringPtr(s[1])
				switch s[2] {
				case "dyn":
					sy.Source = kmsg.ConfigSourceDynamicTopicConfig
				case "static":
					sy.Source = kmsg.ConfigSourceStaticBrokerConfig
				default:
					sy.Source = kmsg.ConfigSourceDefaultConfig
				}
				cfg.ConfigSynonyms = append(cfg.ConfigSynonyms, sy)
			}
			res.Configs = append(res.Configs, cfg)
		}
		add("segment.bytes", "1073741824", kmsg.ConfigSourceStaticBrokerConfig, [3]string{"log.segment.bytes", "1073741824", "static"}, [3]string{"log.segment.bytes", "1073741824", "default"})
		add("retention.ms", "1000", kmsg.ConfigSourceDynamicTopicConfig, [3]string{"retention.ms", "1000", "dyn"})
		add("cleanup.policy", "compact", kmsg.ConfigSourceDynamicTopicConfig, [3]string{"cleanup.policy", "compact", "dyn"}, [3]string{"log.cleanup.policy", "delete", "default"})
		add("flush.ms", "9223372036854775807", kmsg.ConfigSourceDefaultConfig, [3]string{"log.flush.interval.ms", "9223372036854775807", "default"})
		resp.Resources = append(resp.Resources, res)
		return resp, nil, true
	})
	bs := strings.Join(c.ListenAddrs(), ",")

	r := runTool(t, "", "configs", "--bootstrap-server", bs, "--entity-type", "topics", "--entity-name", "t", "--describe")
	require.Equal(t, 0, r.code, r.err)
	require.Equal(t, "Dynamic configs for topic t are:\n"+
		"  cleanup.policy=compact sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact, DEFAULT_CONFIG:log.cleanup.policy=delete}\n"+
		"  retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000}\n", r.out)

	// kafka-topics shows every non-default config, static broker ones too.
	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--describe", "--topic", "t")
	require.Equal(t, 0, r.code, r.out)
	require.Contains(t, r.out, "\tConfigs: cleanup.policy=compact,retention.ms=1000,segment.bytes=1073741824\n")
}

func FuzzOptionsParse(f *testing.F) {
	f.Add("--topic\x00t\x00--partitions\x003\x00--config\x00a=b")
	f.Add("-b\x00--\x00x")
	f.Add("--producer-props\x00a=1\x00b=2\x00--throughput\x00-1")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		for _, s := range []*optSet{topicsOpts(), consoleConsumerOpts(), producerPerfOpts()} {
			p, err := s.parse(args)
			if err != nil {
				continue
			}
			for _, o := range s.opts {
				if o.typ == "Integer" || o.typ == "Long" {
					_ = p.int64(o.name)
				}
				_ = p.str(o.name)
			}
		}
	})
}

func FuzzConsoleLineReader(f *testing.F) {
	f.Add("h1:x,h2:y\tk\tv", true, true, "")
	f.Add("k:v", true, false, "NULL")
	f.Add("plain", false, false, "")
	f.Fuzz(func(t *testing.T, line string, parseKey, parseHeaders bool, null string) {
		props := map[string]string{"parse.key": "false", "parse.headers": "false"}
		if parseKey {
			props["parse.key"] = "true"
		}
		if parseHeaders {
			props["parse.headers"] = "true"
		}
		if null != "" {
			props["null.marker"] = null
		}
		r := newLineReader(props)
		rec, err := r.record("t", line)
		if err != nil {
			require.Contains(t, err.Error(), "line number 1")
			return
		}
		if !parseKey && !parseHeaders && null == "" {
			require.Equal(t, line, string(rec.Value))
			require.Nil(t, rec.Key)
		}
		if parseKey && !parseHeaders && null == "" {
			require.Equal(t, line, string(rec.Key)+"\t"+string(rec.Value))
		}
	})
}
