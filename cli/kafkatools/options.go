package kafkatools

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// opt is one command-line option, declared the way Kafka's tools declare
// theirs (joptsimple's accepts/withRequiredArg/describedAs/defaultsTo).
type opt struct {
	name string
	// arg names the option's argument in the help ("server to connect
	// to"); empty for a switch that takes none.
	arg string
	// typ is the argument's type word in the help: String, Integer, Long.
	typ  string
	desc string
	def  string // default value, shown in the help and returned by str
	// optionalArg: the argument may be left out (--compression-codec).
	optionalArg bool
	// nargs: argparse's nargs='+', every following argument up to the
	// next option belongs to this one (--producer-props k=v k=v).
	nargs bool
}

// optSet is a tool's options and what its help says about the tool.
type optSet struct {
	opts []*opt
}

// parsed is the outcome of parsing one command line.
type parsed struct {
	set  *optSet
	vals map[string][]string
	seen map[string]bool
	// rest holds the arguments that are not options; Kafka's tools ignore
	// them (joptsimple accepts non-option arguments by default).
	rest []string
}

// usageError is a command line that cannot run: the tool prints the
// message, then its help, on stderr and exits 1.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{msg: fmt.Sprintf(format, a...)} }

// errHelp asks for the help text on stdout and exit 0.
var errHelp = errors.New("kafkatools: help requested")

func (s *optSet) lookup(name string) (*opt, error) {
	var prefixed []*opt
	for _, o := range s.opts {
		if o.name == name {
			return o, nil
		}
		if strings.HasPrefix(o.name, name) {
			prefixed = append(prefixed, o)
		}
	}
	switch len(prefixed) {
	case 1:
		// joptsimple accepts any unambiguous abbreviation of a long option.
		return prefixed[0], nil
	case 0:
		return nil, usagef("%s is not a recognized option", name)
	default:
		names := make([]string, len(prefixed))
		for i, o := range prefixed {
			names[i] = o.name
		}
		return nil, usagef("Option '%s' is ambiguous: it could be any of %s", name, strings.Join(names, ", "))
	}
}

// parse reads args as joptsimple does: long options with one or two dashes,
// `--name value` or `--name=value`, options and other arguments in any
// order, and `--` ending the options.
func (s *optSet) parse(args []string) (*parsed, error) {
	p := &parsed{set: s, vals: map[string][]string{}, seen: map[string]bool{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			p.rest = append(p.rest, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' || a == "-" {
			p.rest = append(p.rest, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		value, hasValue := "", false
		if k, v, ok := strings.Cut(name, "="); ok {
			name, value, hasValue = k, v, true
		}
		if name == "help" || name == "h" {
			return nil, errHelp
		}
		o, err := s.lookup(name)
		if err != nil {
			return nil, err
		}
		p.seen[o.name] = true
		switch {
		case o.arg == "":
			if hasValue {
				return nil, usagef("Option %s does not take an argument", o.name)
			}
		case o.nargs:
			var vs []string
			if hasValue {
				vs = append(vs, value)
			}
			for i+1 < len(args) && !isOption(args[i+1]) {
				i++
				vs = append(vs, args[i])
			}
			if len(vs) == 0 {
				return nil, usagef("argument --%s: expected at least one argument", o.name)
			}
			p.vals[o.name] = append(p.vals[o.name], vs...)
		case hasValue:
			p.vals[o.name] = append(p.vals[o.name], value)
		case o.optionalArg:
			if i+1 < len(args) && !isOption(args[i+1]) {
				i++
				p.vals[o.name] = append(p.vals[o.name], args[i])
			}
		default:
			if i+1 >= len(args) {
				return nil, usagef("Option %s requires an argument", o.name)
			}
			i++
			p.vals[o.name] = append(p.vals[o.name], args[i])
		}
		if o.typ == "Integer" || o.typ == "Long" {
			for _, v := range p.vals[o.name] {
				if _, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
					return nil, usagef("Cannot parse argument '%s' of option %s", v, o.name)
				}
			}
		}
	}
	return p, nil
}

// isOption says whether a is an option word rather than a value: a negative
// number (--throughput -1) is a value.
func isOption(a string) bool {
	if len(a) < 2 || a[0] != '-' {
		return false
	}
	if _, err := strconv.ParseFloat(a, 64); err == nil {
		return false
	}
	return true
}

func (p *parsed) has(name string) bool { return p.seen[name] }

// str is the option's last value, else its default.
func (p *parsed) str(name string) string {
	if vs := p.vals[name]; len(vs) > 0 {
		return vs[len(vs)-1]
	}
	for _, o := range p.set.opts {
		if o.name == name {
			return o.def
		}
	}
	return ""
}

// all is every value given for a repeatable option, in order.
func (p *parsed) all(name string) []string { return p.vals[name] }

// int64 is the option's value as a number (parse has checked the syntax of
// Integer and Long options).
func (p *parsed) int64(name string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(p.str(name)), 10, 64)
	return n
}

// require fails with joptsimple's words when an option is missing.
func (p *parsed) require(names ...string) error {
	for _, n := range names {
		if !p.has(n) {
			return usagef("Missing required argument \"[%s]\"", n)
		}
	}
	return nil
}

// invalidWith fails when name is used together with any of others, with
// the words of Kafka's CommandLineUtils.checkInvalidArgs.
func (p *parsed) invalidWith(name string, others ...string) error {
	if !p.has(name) {
		return nil
	}
	for _, o := range others {
		if p.has(o) {
			return usagef("Option \"[%s]\" can't be used with option \"[%s]\"", name, o)
		}
	}
	return nil
}

// printHelp writes the option table in joptsimple's layout.
func (s *optSet) printHelp(w io.Writer) {
	const left = 41
	opts := slices.Clone(s.opts)
	slices.SortFunc(opts, func(a, b *opt) int { return strings.Compare(a.name, b.name) })
	fmt.Fprintf(w, "%-*s%s\n", left, "Option", "Description")
	fmt.Fprintf(w, "%-*s%s\n", left, "------", "-----------")
	for _, o := range opts {
		head := "--" + o.name
		if o.arg != "" {
			typ := o.typ
			if typ == "" {
				typ = "String"
			}
			if o.optionalArg {
				head += fmt.Sprintf(" [%s: %s]", typ, o.arg)
			} else {
				head += fmt.Sprintf(" <%s: %s>", typ, o.arg)
			}
		}
		desc := o.desc
		if o.def != "" {
			desc += fmt.Sprintf(" (default: %s)", o.def)
		}
		heads := wrap(head, left-2)
		descs := wrap(desc, 80-left-2)
		for i := 0; i < max(len(heads), len(descs)); i++ {
			h, d := "", ""
			if i < len(heads) {
				h = heads[i]
				if i > 0 {
					h = "  " + h
				}
			}
			if i < len(descs) {
				d = descs[i]
				if i > 0 {
					d = "  " + d
				}
			}
			fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("%-*s%s", left, h, d), " "))
		}
	}
}

// wrap breaks s into lines of at most width characters at spaces; explicit
// newlines are kept.
func wrap(s string, width int) []string {
	var out []string
	for _, para := range strings.Split(s, "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			if line != "" && len(line)+1+len(word) > width {
				out = append(out, line)
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += word
		}
		out = append(out, line)
	}
	return out
}
