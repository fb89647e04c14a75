package kafkatools

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// configs: kafka-configs.sh of Kafka 3.x with --bootstrap-server, for the
// topics and brokers entity types.
//
// Behavior: --describe prints `Dynamic configs for topic T are:` (or `All
// configs …` with --all) then `  k=v sensitive=false synonyms={SOURCE:k=v, …}`
// per config, sorted by name; --alter applies --add-config/--delete-config
// with IncrementalAlterConfigs and prints `Completed updating config for
// topic T.`. Argument problems go to stderr with the usage, exit 1;
// failures print `Error while executing config command with args '…'` and
// the exception line on stderr, exit 1.

const (
	brokerDefaultName = "<default>"
)

func configsOpts() *optSet {
	return &optSet{opts: []*opt{
		{name: "bootstrap-server", arg: "server to connect to", desc: "The Kafka server to connect to. This is required for describing and altering broker configs."},
		{name: "command-config", arg: "command config property file", desc: "Property file containing configs to be passed to Admin Client. This is used only with --bootstrap-server option for describing and altering broker configs."},
		{name: "zookeeper", arg: "urls", desc: "DEPRECATED. The connection string for the zookeeper connection in the form host:port. Not supported by kzoo: use --bootstrap-server."},
		{name: "alter", desc: "Alter the configuration for the entity."},
		{name: "describe", desc: "List configs for the given entity."},
		{name: "all", desc: "List all configs for the given topic, broker, or broker-logger entity (includes static configuration when the entity type is brokers)"},
		{name: "entity-type", arg: "entity-type", desc: "Type of entity (topics/clients/users/brokers/broker-loggers/ips)"},
		{name: "entity-name", arg: "entity-name", desc: "Name of entity (topic name/client id/user principal name/broker id/ip)"},
		{name: "entity-default", desc: "Default entity name for clients/users/brokers/ips (applies to corresponding entity type in command line)"},
		{name: "add-config", arg: "add-config", desc: "Key Value pairs of configs to add. Square brackets can be used to group values which contain commas: 'k1=v1,k2=[v1,v2,v2],k3=v3'."},
		{name: "add-config-file", arg: "add-config-file", desc: "Path to a properties file with configs to add. See add-config for a list of valid configurations."},
		{name: "delete-config", arg: "delete-config", desc: "config keys to remove 'k1,k2'"},
		{name: "force", desc: "Suppress console prompts"},
		{name: "topic", arg: "topic", desc: "The topic's name."},
		{name: "broker", arg: "broker-id", desc: "The broker's ID."},
		{name: "broker-defaults", desc: "The config defaults for all brokers."},
		{name: "version", desc: "Display Kafka version."},
	}}
}

// configEntity is one resource the command works on.
type configEntity struct {
	typ  string // "topics" or "brokers"
	name string // brokerDefaultName for --entity-default of brokers
}

func runConfigs(e *env, args []string) int {
	s := configsOpts()
	if len(args) == 0 {
		return usageFail(e, s, "This tool helps to manipulate and describe entity config for a topic, client, user, broker or ip")
	}
	p, code := parseArgs(e, s, args, "This tool helps to manipulate and describe entity config for a topic, client, user, broker or ip")
	if p == nil {
		return code
	}
	ent, err := checkConfigsArgs(p)
	if err != nil {
		return usageFail(e, s, err.Error())
	}
	var adds map[string]string
	var dels []string
	if p.has("alter") {
		if adds, err = parseAddConfigs(p); err != nil {
			fmt.Fprintln(e.err, err)
			return 1
		}
		for _, d := range strings.Split(p.str("delete-config"), ",") {
			if d = strings.TrimSpace(d); d != "" {
				dels = append(dels, d)
			}
		}
	}
	props := map[string]string{}
	if p.has("command-config") {
		if props, err = loadProps(p.str("command-config")); err != nil {
			fmt.Fprintln(e.err, err)
			return 1
		}
	}
	fail := func(err error) int {
		fmt.Fprintf(e.err, "Error while executing config command with args '%s'\n", strings.Join(args, " "))
		fmt.Fprintln(e.err, javaException(err))
		return 1
	}
	a, err := connectAdmin(e.ctx, p.str("bootstrap-server"), props, "kafka-configs")
	if err != nil {
		if errors.Is(err, ErrUnreachable) {
			fmt.Fprintln(e.err, fmtErr("Error while executing config command : ", err))
			return 1
		}
		return fail(err)
	}
	defer a.close()
	c := &configsCmd{e: e, a: a}
	if p.has("describe") {
		err = c.describe(ent, p.has("all"))
	} else {
		err = c.alter(ent, adds, dels)
	}
	if err != nil {
		var ie *invalidConfigError
		if errors.As(err, &ie) {
			fmt.Fprintln(e.err, ie.msg)
			return 1
		}
		return fail(err)
	}
	return 0
}

// invalidConfigError is Kafka's InvalidConfigurationException raised by the
// tool itself: printed alone, without the "Error while executing" line.
type invalidConfigError struct{ msg string }

func (e *invalidConfigError) Error() string { return e.msg }

// javaException names a failure the way Kafka's tools print an exception:
// org.apache.kafka.common.errors.<Name>Exception: message.
func javaException(err error) string {
	var pe *protoError
	if errors.As(err, &pe) {
		if ke, ok := kerr.ErrorForCode(pe.code).(*kerr.Error); ok {
			return "org.apache.kafka.common.errors." + camel(ke.Message) + "Exception: " + pe.msg
		}
	}
	return err.Error()
}

// camel turns UNKNOWN_TOPIC_OR_PARTITION into UnknownTopicOrPartition.
func camel(s string) string {
	var b strings.Builder
	for _, w := range strings.Split(strings.ToLower(s), "_") {
		if w == "" {
			continue
		}
		r := []rune(w)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	return b.String()
}

// checkConfigsArgs is ConfigCommandOptions.checkArgs for what kzoo serves.
func checkConfigsArgs(p *parsed) ([]configEntity, error) {
	if p.has("describe") == p.has("alter") {
		return nil, usagef("Command must include exactly one action: --describe, --alter")
	}
	if p.has("zookeeper") {
		return nil, usagef("--zookeeper is not supported: kzoo's brokers serve configs over --bootstrap-server")
	}
	if !p.has("bootstrap-server") {
		return nil, usagef("One of the required --bootstrap-server or --zookeeper arguments must be specified")
	}
	var types, names []string
	types = append(types, p.all("entity-type")...)
	names = append(names, p.all("entity-name")...)
	if p.has("topic") {
		types, names = append(types, "topics"), append(names, p.str("topic"))
	}
	if p.has("broker") {
		types, names = append(types, "brokers"), append(names, p.str("broker"))
	}
	if p.has("broker-defaults") {
		types, names = append(types, "brokers"), append(names, brokerDefaultName)
	}
	if p.has("entity-default") {
		names = append(names, brokerDefaultName)
	}
	if len(types) == 0 {
		return nil, usagef("At least one entity type must be specified")
	}
	for _, t := range types {
		switch t {
		case "topics", "brokers":
		case "clients", "users", "broker-loggers", "ips":
			return nil, usagef("Entity type %s is not supported by kzoo's configs command; supported: topics, brokers", t)
		default:
			return nil, usagef("Invalid entity type %s, the entity type must be one of topics, clients, users, brokers, broker-loggers, ips", t)
		}
	}
	if len(types) > 1 || len(names) > 1 {
		return nil, usagef("Only one entity type and one entity name are supported in one command")
	}
	typ := types[0]
	if typ == "topics" && p.has("entity-default") {
		return nil, usagef("--entity-default can not be used with topics")
	}
	if p.has("alter") {
		if !p.has("add-config") && !p.has("add-config-file") && !p.has("delete-config") {
			return nil, usagef("At least one of --add-config, --add-config-file, or --delete-config must be specified with --alter")
		}
		if len(names) == 0 {
			return nil, usagef("an entity name must be specified with --alter of %s", typ)
		}
	}
	if p.has("all") && p.has("alter") {
		return nil, usagef("Option \"[all]\" can't be used with option \"[alter]\"")
	}
	if len(names) == 1 {
		if typ == "brokers" && names[0] != brokerDefaultName {
			if _, err := strconv.ParseInt(names[0], 10, 32); err != nil {
				return nil, usagef("The entity name for brokers must be a valid integer broker id, but it is: %s", names[0])
			}
		}
		return []configEntity{{typ: typ, name: names[0]}}, nil
	}
	return []configEntity{{typ: typ}}, nil
}

// parseAddConfigs reads --add-config 'k1=v1,k2=[v1,v2],k3=v3' (commas inside
// square brackets belong to the value) and --add-config-file.
func parseAddConfigs(p *parsed) (map[string]string, error) {
	out := map[string]string{}
	if p.has("add-config-file") {
		props, err := loadProps(p.str("add-config-file"))
		if err != nil {
			return nil, err
		}
		for k, v := range props {
			out[k] = v
		}
	}
	if !p.has("add-config") {
		return out, nil
	}
	for _, pair := range splitOutsideBrackets(p.str("add-config"), ',') {
		kv := splitOutsideBrackets(pair, '=')
		if len(kv) != 2 {
			return nil, errors.New("requirement failed: Invalid entity config: all configs to be added must be in the format \"key=val\".")
		}
		v := strings.NewReplacer("[", "", "]", "").Replace(kv[1])
		out[strings.TrimSpace(kv[0])] = strings.TrimSpace(v)
	}
	return out, nil
}

func splitOutsideBrackets(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			if depth > 0 {
				depth--
			}
		case sep:
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

type configsCmd struct {
	e *env
	a *adminSession
}

// entities expands a type without a name: every topic, or every broker
// followed by the cluster default.
func (c *configsCmd) entities(ents []configEntity) ([]configEntity, error) {
	if ents[0].name != "" {
		return ents, nil
	}
	md, err := c.a.metadata(c.e.ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []configEntity
	if ents[0].typ == "topics" {
		var names []string
		for _, t := range md.Topics {
			if t.Topic != nil && topicExists(t.ErrorCode) {
				names = append(names, *t.Topic)
			}
		}
		slices.Sort(names)
		for _, n := range names {
			out = append(out, configEntity{typ: "topics", name: n})
		}
		return out, nil
	}
	var ids []int32
	for _, b := range md.Brokers {
		ids = append(ids, b.NodeID)
	}
	slices.Sort(ids)
	for _, id := range ids {
		out = append(out, configEntity{typ: "brokers", name: strconv.Itoa(int(id))})
	}
	return append(out, configEntity{typ: "brokers", name: brokerDefaultName}), nil
}

// resourceType maps an entity to its DescribeConfigs resource and the
// config source that counts as "dynamic" for it.
func resourceOf(ent configEntity) (kmsg.ConfigResourceType, string, kmsg.ConfigSource) {
	if ent.typ == "topics" {
		return kmsg.ConfigResourceTypeTopic, ent.name, kmsg.ConfigSourceDynamicTopicConfig
	}
	if ent.name == brokerDefaultName {
		return kmsg.ConfigResourceTypeBroker, "", kmsg.ConfigSourceDynamicDefaultBrokerConfig
	}
	return kmsg.ConfigResourceTypeBroker, ent.name, kmsg.ConfigSourceDynamicBrokerConfig
}

// resourceConfigs is ConfigCommand.getResourceConfig: the entity's configs
// from the given source (every config with all), sorted by name.
func (c *configsCmd) resourceConfigs(ent configEntity, all bool) ([]kmsg.DescribeConfigsResponseResourceConfig, error) {
	typ, name, src := resourceOf(ent)
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms = true
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType, r.ResourceName = typ, name
	req.Resources = append(req.Resources, r)
	resp, err := c.a.request(c.e.ctx, req)
	if err != nil {
		return nil, err
	}
	var out []kmsg.DescribeConfigsResponseResourceConfig
	for _, res := range resp.(*kmsg.DescribeConfigsResponse).Resources {
		if err := errorFor(res.ErrorCode, res.ErrorMessage); err != nil {
			return nil, err
		}
		for _, cfg := range res.Configs {
			if all || cfg.Source == src {
				out = append(out, cfg)
			}
		}
	}
	slices.SortFunc(out, func(a, b kmsg.DescribeConfigsResponseResourceConfig) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (c *configsCmd) describe(ents []configEntity, all bool) error {
	ents, err := c.entities(ents)
	if err != nil {
		return err
	}
	for _, ent := range ents {
		cfgs, err := c.resourceConfigs(ent, all)
		if err != nil {
			return err
		}
		if ent.name == brokerDefaultName {
			fmt.Fprintln(c.e.out, "Default configs for brokers in the cluster are:")
		} else {
			which := "Dynamic"
			if all {
				which = "All"
			}
			fmt.Fprintf(c.e.out, "%s configs for %s %s are:\n", which, strings.TrimSuffix(ent.typ, "s"), ent.name)
		}
		for _, cfg := range cfgs {
			syn := make([]string, 0, len(cfg.ConfigSynonyms))
			for _, s := range cfg.ConfigSynonyms {
				syn = append(syn, fmt.Sprintf("%s:%s=%s", s.Source, s.Name, strOrNull(s.Value)))
			}
			fmt.Fprintf(c.e.out, "  %s=%s sensitive=%t synonyms={%s}\n", cfg.Name, strOrNull(cfg.Value), cfg.IsSensitive, strings.Join(syn, ", "))
		}
	}
	return nil
}

func (c *configsCmd) alter(ents []configEntity, adds map[string]string, dels []string) error {
	ent := ents[0]
	old, err := c.resourceConfigs(ent, false)
	if err != nil {
		return err
	}
	var invalid []string
	for _, d := range dels {
		if !slices.ContainsFunc(old, func(c kmsg.DescribeConfigsResponseResourceConfig) bool { return c.Name == d }) {
			invalid = append(invalid, d)
		}
	}
	if len(invalid) > 0 {
		return &invalidConfigError{msg: "Invalid config(s): " + strings.Join(invalid, ",")}
	}
	typ, name, _ := resourceOf(ent)
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType, r.ResourceName = typ, name
	keys := make([]string, 0, len(adds))
	for k := range adds {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		cfg.Name, cfg.Op, cfg.Value = k, kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(adds[k])
		r.Configs = append(r.Configs, cfg)
	}
	for _, d := range dels {
		cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		cfg.Name, cfg.Op = d, kmsg.IncrementalAlterConfigOpDelete
		r.Configs = append(r.Configs, cfg)
	}
	req.Resources = append(req.Resources, r)
	resp, err := c.a.request(c.e.ctx, req)
	if err != nil {
		return err
	}
	for _, res := range resp.(*kmsg.IncrementalAlterConfigsResponse).Resources {
		if err := errorFor(res.ErrorCode, res.ErrorMessage); err != nil {
			return err
		}
	}
	if ent.name == brokerDefaultName {
		fmt.Fprintln(c.e.out, "Completed updating default config for brokers in the cluster.")
	} else {
		fmt.Fprintf(c.e.out, "Completed updating config for %s %s.\n", strings.TrimSuffix(ent.typ, "s"), ent.name)
	}
	return nil
}
