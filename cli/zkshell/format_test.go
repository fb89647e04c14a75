package zkshell

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"kzoo/coordinator/jute"
)

func TestShellSplitLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"ls /", []string{"ls", "/"}},
		{"  create   /a  b  ", []string{"create", "/a", "b"}},
		{`create /e ''`, []string{"create", "/e", ""}},
		{`create /e "hello world"`, []string{"create", "/e", "hello world"}},
		{`create /e 'a b' world:anyone:r`, []string{"create", "/e", "a b", "world:anyone:r"}},
		{`set /x a"b`, []string{"set", "/x", `a"b`}},
		{"", nil},
	} {
		require.Equal(t, tc.want, splitLine(tc.in), tc.in)
	}
}

func TestShellParseOpts(t *testing.T) {
	for _, tc := range []struct {
		toks          []string
		flags, valued string
		args          []string
		opts          map[byte]string
		err           string
	}{
		{toks: []string{"ls", "-s", "-R", "/"}, flags: "swR", args: []string{"ls", "/"}, opts: map[byte]string{'s': "", 'R': ""}},
		{toks: []string{"ls", "-sw", "/a"}, flags: "swR", args: []string{"ls", "/a"}, opts: map[byte]string{'s': "", 'w': ""}},
		{toks: []string{"removewatches", "/w", "-d", "-l"}, flags: "cdal", args: []string{"removewatches", "/w"}, opts: map[byte]string{'d': "", 'l': ""}},
		{toks: []string{"set", "-v", "-1", "/a", "x"}, flags: "s", valued: "v", args: []string{"set", "/a", "x"}, opts: map[byte]string{'v': "-1"}},
		{toks: []string{"create", "-t5000", "/t"}, flags: "sec", valued: "t", args: []string{"create", "/t"}, opts: map[byte]string{'t': "5000"}},
		{toks: []string{"deleteall", "/a", "-b", "5"}, valued: "b", args: []string{"deleteall", "/a"}, opts: map[byte]string{'b': "5"}},
		{toks: []string{"set", "/a", "--", "-x"}, flags: "s", valued: "v", args: []string{"set", "/a", "-x"}, opts: map[byte]string{}},
		{toks: []string{"ls", "-x", "/"}, flags: "swR", err: "Unrecognized option: -x"},
		{toks: []string{"ls", "-sx", "/"}, flags: "swR", err: "Unrecognized option: -x"},
		{toks: []string{"delete", "-v"}, valued: "v", err: "Missing argument for option: v"},
	} {
		p, err := parseOpts(tc.toks, tc.flags, tc.valued)
		if tc.err != "" {
			require.EqualError(t, err, tc.err, "%q", tc.toks)
			continue
		}
		require.NoError(t, err, "%q", tc.toks)
		require.Equal(t, tc.args, p.args, "%q", tc.toks)
		require.Equal(t, tc.opts, p.opts, "%q", tc.toks)
	}
}

func TestShellParseACL(t *testing.T) {
	for _, tc := range []struct {
		in, errs string
		want     []jute.ACL
	}{
		{in: "world:anyone:cdrwa", want: jute.WorldAnyone},
		{in: "digest:bob:hash=:rw,ip:10.0.0.1:r", want: []jute.ACL{
			{Perms: jute.PermRead | jute.PermWrite, ID: jute.ID{Scheme: "digest", ID: "bob:hash="}},
			{Perms: jute.PermRead, ID: jute.ID{Scheme: "ip", ID: "10.0.0.1"}},
		}},
		{in: "auth::cdrwa", want: []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "auth"}}}},
		{in: "bad", want: []jute.ACL{}, errs: "bad does not have the form scheme:id:perm\n"},
		{in: "world:anyone:cdrwa,x", want: jute.WorldAnyone, errs: "x does not have the form scheme:id:perm\n"},
		{in: "world:anyone:rx", want: []jute.ACL{{Perms: jute.PermRead, ID: jute.ID{Scheme: "world", ID: "anyone"}}},
			errs: "Unknown perm type: x\n"},
	} {
		var errs bytes.Buffer
		require.Equal(t, tc.want, parseACL(tc.in, &errs), tc.in)
		require.Equal(t, tc.errs, errs.String(), tc.in)
	}
}

func TestShellFormatStatAndACL(t *testing.T) {
	defer func(l *time.Location) { time.Local = l }(time.Local)
	time.Local = time.UTC
	var b bytes.Buffer
	printStat(&b, jute.Stat{Czxid: 5, Mzxid: 0x1f, Ctime: 1795502400000, Mtime: 0, Version: 2, Cversion: -1,
		Aversion: 1, EphemeralOwner: -0x1000000000000, DataLength: 5, NumChildren: 3, Pzxid: 0x100000007})
	require.Equal(t, `cZxid = 0x5
ctime = Tue Nov 24 06:40:00 UTC 2026
mZxid = 0x1f
mtime = Thu Jan 01 00:00:00 UTC 1970
pZxid = 0x100000007
cversion = -1
dataVersion = 2
aclVersion = 1
ephemeralOwner = 0xffff000000000000
dataLength = 5
numChildren = 3
`, b.String())

	b.Reset()
	printACL(&b, []jute.ACL{jute.WorldAnyone[0], {Perms: jute.PermRead | jute.PermAdmin, ID: jute.ID{Scheme: "digest", ID: "u:h="}}})
	require.Equal(t, "'world,'anyone\n: cdrwa\n'digest,'u:h=\n: ra\n", b.String())

	require.Equal(t, "null", javaString(nil))
	require.Equal(t, "", javaString([]byte{}))
	require.Equal(t, "a\uFFFDb", javaString([]byte{'a', 0xff, 'b'}))
	require.Equal(t, "[]", javaList(nil))
	require.Equal(t, "[a, b]", javaList([]string{"a", "b"}))
}

func TestShellParseOptions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want options
		err  string
	}{
		{args: nil, want: options{server: "localhost:2181", timeout: 30 * time.Second}},
		{args: []string{"-server", "h:1,h:2/k", "-timeout", "5000", "-r", "ls", "-R", "/"},
			want: options{server: "h:1,h:2/k", timeout: 5 * time.Second, readOnly: true, command: []string{"ls", "-R", "/"}}},
		{args: []string{"--server", "h:1", "-waitforconnection", "get", "/a"},
			want: options{server: "h:1", timeout: 30 * time.Second, waitForConnection: true, command: []string{"get", "/a"}}},
		{args: []string{"-server"}, err: "Error: no argument found for option -server"},
		{args: []string{"-timeout", "x"}, err: `Error: -timeout "x" is not a positive number of milliseconds`},
		{args: []string{"-bogus", "ls", "/"}, err: "Error: unknown option -bogus"},
		{args: []string{"--help"}, err: errUsage.Error()},
	} {
		o, err := parseOptions(tc.args)
		if tc.err != "" {
			require.EqualError(t, err, tc.err, "%q", tc.args)
			continue
		}
		require.NoError(t, err, "%q", tc.args)
		require.Equal(t, tc.want, o, "%q", tc.args)
	}
}

func TestShellKeeperErrorWords(t *testing.T) {
	for _, tc := range []struct {
		err  error
		path string
		want string
	}{
		{jute.ErrNoNode, "/x", "Node does not exist: /x"},
		{jute.ErrNodeExists, "/x", "Node already exists: /x"},
		{jute.ErrBadVersion, "/x", "version No is not valid : /x"},
		{jute.ErrNotEmpty, "/x", "Node not empty: /x"},
		{jute.ErrNoAuth, "/x", "Insufficient permission : /x"},
		{jute.ErrInvalidACL, "", "Acl is not valid : null"},
		{jute.ErrNoChildrenForEphemerals, "/e/c", "Ephemerals cannot have children: /e/c"},
		{jute.ErrAuthFailed, "/zookeeper", "KeeperErrorCode = AuthFailed for /zookeeper"},
		{jute.ErrUnimplemented, "/t", "KeeperErrorCode = Unimplemented for /t"},
	} {
		require.EqualError(t, keeperError(tc.err, tc.path), tc.want)
	}
}

func TestShellClientConfigString(t *testing.T) {
	require.Equal(t, " ", clientConfigString(""))
	require.Equal(t, "100000000 127.0.0.1:2181,0.0.0.0:2182",
		clientConfigString("server.2=h2:2889:3889:participant;2182\nserver.1=h1:2888:3888:participant;127.0.0.1:2181\nversion=100000000\n"))
}

// FuzzShellParse runs arbitrary command lines through the shell's line
// tokenizer, option parser and ACL parser: none may panic, and every
// token is a substring of the line.
func FuzzShellParse(f *testing.F) {
	for _, s := range []string{"ls -R /", `create -e /a "x y" world:anyone:cdrwa`, "set -v", "setAcl /a digest:u:p:rw,ip:1.2.3.4:r",
		"removewatches /w -d -l", `create /e ''`, "deleteall /a -b5", "'unterminated", "-", "--"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		toks := splitLine(line)
		for _, tok := range toks {
			require.Contains(t, line, tok)
		}
		for _, c := range commandList() {
			p, err := parseOpts(append([]string{c.name}, toks...), c.flags, c.valued)
			if err == nil {
				require.Equal(t, c.name, p.args[0])
			}
		}
		var errs bytes.Buffer
		for _, a := range parseACL(line, &errs) {
			require.Zero(t, a.Perms&^jute.PermAll)
		}
		_ = clientConfigString(line)
	})
}
