package zkshell

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"kzoo/coordinator/jute"
)

// argPattern and quotedPattern split a command line as ZooKeeperMain
// does: a token is a run of non-blanks not starting with a quote, or a
// "double" or 'single' quoted string whose quotes are dropped.
var (
	argPattern    = regexp.MustCompile(`\s*([^"'\s]\S*|"[^"]*"|'[^']*')\s*`)
	quotedPattern = regexp.MustCompile(`^(['"])(.*)(['"])$`)
)

// splitLine tokenizes one shell line.
func splitLine(line string) []string {
	var out []string
	for _, m := range argPattern.FindAllStringSubmatch(line, -1) {
		tok := m[1]
		if q := quotedPattern.FindStringSubmatch(tok); q != nil && q[1] == q[3] {
			tok = q[2]
		}
		out = append(out, tok)
	}
	return out
}

// javaDate renders milliseconds since the epoch as java.util.Date's
// toString does, in the local zone: "Tue Nov 24 06:40:00 UTC 2026".
func javaDate(ms int64) string {
	return time.UnixMilli(ms).Format("Mon Jan 02 15:04:05 MST 2006")
}

// hex renders a long as Long.toHexString does (two's complement).
func hex(v int64) string { return fmt.Sprintf("0x%x", uint64(v)) }

// printStat writes a Stat as ZooKeeper's StatPrinter does.
func printStat(w io.Writer, s jute.Stat) {
	fmt.Fprintf(w, "cZxid = %s\n", hex(s.Czxid))
	fmt.Fprintf(w, "ctime = %s\n", javaDate(s.Ctime))
	fmt.Fprintf(w, "mZxid = %s\n", hex(s.Mzxid))
	fmt.Fprintf(w, "mtime = %s\n", javaDate(s.Mtime))
	fmt.Fprintf(w, "pZxid = %s\n", hex(s.Pzxid))
	fmt.Fprintf(w, "cversion = %d\n", s.Cversion)
	fmt.Fprintf(w, "dataVersion = %d\n", s.Version)
	fmt.Fprintf(w, "aclVersion = %d\n", s.Aversion)
	fmt.Fprintf(w, "ephemeralOwner = %s\n", hex(s.EphemeralOwner))
	fmt.Fprintf(w, "dataLength = %d\n", s.DataLength)
	fmt.Fprintf(w, "numChildren = %d\n", s.NumChildren)
}

// permString renders permissions in ZooKeeper's order: c d r w a.
func permString(p int32) string {
	var b strings.Builder
	for _, x := range []struct {
		bit int32
		c   byte
	}{{jute.PermCreate, 'c'}, {jute.PermDelete, 'd'}, {jute.PermRead, 'r'}, {jute.PermWrite, 'w'}, {jute.PermAdmin, 'a'}} {
		if p&x.bit != 0 {
			b.WriteByte(x.c)
		}
	}
	return b.String()
}

// printACL writes each entry as "'scheme,'id\n: perms".
func printACL(w io.Writer, acl []jute.ACL) {
	for _, a := range acl {
		fmt.Fprintf(w, "'%s,'%s\n: %s\n", a.ID.Scheme, a.ID.ID, permString(a.Perms))
	}
}

// parseACL reads "scheme:id:perm[,scheme:id:perm...]" as ZooKeeper's
// AclParser does: the id runs from the first to the last colon; a
// malformed entry or unknown permission letter is reported on errOut and
// skipped, so the result may be empty.
func parseACL(s string, errOut io.Writer) []jute.ACL {
	acl := []jute.ACL{}
	for _, a := range strings.Split(s, ",") {
		first, last := strings.IndexByte(a, ':'), strings.LastIndexByte(a, ':')
		if first < 0 || first == last {
			fmt.Fprintf(errOut, "%s does not have the form scheme:id:perm\n", a)
			continue
		}
		acl = append(acl, jute.ACL{
			ID:    jute.ID{Scheme: a[:first], ID: a[first+1 : last]},
			Perms: parsePerms(a[last+1:], errOut),
		})
	}
	return acl
}

func parsePerms(s string, errOut io.Writer) int32 {
	var p int32
	for _, c := range s {
		switch c {
		case 'r':
			p |= jute.PermRead
		case 'w':
			p |= jute.PermWrite
		case 'c':
			p |= jute.PermCreate
		case 'd':
			p |= jute.PermDelete
		case 'a':
			p |= jute.PermAdmin
		default:
			fmt.Fprintf(errOut, "Unknown perm type: %c\n", c)
		}
	}
	return p
}

// javaString renders znode data as new String(data, UTF_8) does: "null"
// for null data, malformed bytes as U+FFFD.
func javaString(b []byte) string {
	if b == nil {
		return "null"
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// javaList renders strings as java.util.List's toString: "[a, b]".
func javaList(v []string) string { return "[" + strings.Join(v, ", ") + "]" }

// parsedArgs is a command line after option parsing: the command name
// and positional arguments in args, options in opts.
type parsedArgs struct {
	args []string
	opts map[byte]string
}

func (p *parsedArgs) has(o byte) bool { _, ok := p.opts[o]; return ok }

// parseOpts parses a command's tokens the way commons-cli's PosixParser
// does for zkCli: options may come anywhere, "-sw" bursts into -s -w, an
// option that takes a value takes the rest of its token or the next one,
// "--" ends options.
func parseOpts(toks []string, flags, valued string) (*parsedArgs, error) {
	p := &parsedArgs{opts: map[byte]string{}}
	if len(toks) == 0 {
		return p, nil
	}
	p.args = append(p.args, toks[0])
	for i := 1; i < len(toks); i++ {
		t := toks[i]
		if t == "--" {
			p.args = append(p.args, toks[i+1:]...)
			break
		}
		if len(t) < 2 || t[0] != '-' {
			p.args = append(p.args, t)
			continue
		}
		for j := 1; j < len(t); j++ {
			c := t[j]
			switch {
			case strings.IndexByte(flags, c) >= 0:
				p.opts[c] = ""
			case strings.IndexByte(valued, c) >= 0:
				if j+1 < len(t) {
					p.opts[c] = t[j+1:]
				} else if i+1 < len(toks) {
					i++
					p.opts[c] = toks[i]
				} else {
					return nil, fmt.Errorf("Missing argument for option: %c", c)
				}
				j = len(t)
			default:
				if j == 1 {
					return nil, fmt.Errorf("Unrecognized option: %s", t)
				}
				return nil, fmt.Errorf("Unrecognized option: -%c", c)
			}
		}
	}
	return p, nil
}
