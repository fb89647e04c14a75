package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const base = "dataDir=/tmp/zk\nclientPort=2181\n"

func TestConfigDefaults(t *testing.T) {
	c, err := Parse("zoo.cfg", []byte(base), nil)
	require.NoError(t, err)
	require.Equal(t, "zoo.cfg", c.Path)
	require.Equal(t, 2000, c.TickTimeMs)
	require.Equal(t, 10, c.InitLimit)
	require.Equal(t, 5, c.SyncLimit)
	require.Equal(t, "/tmp/zk", c.DataDir)
	require.Equal(t, "/tmp/zk", c.DataLogDir)
	require.Equal(t, 2181, c.ClientPort)
	require.Equal(t, "", c.ClientPortAddress)
	require.Equal(t, 60, c.MaxClientCnxns)
	require.Equal(t, 4000, c.MinSessionTimeoutMs)
	require.Equal(t, 40000, c.MaxSessionTimeoutMs)
	require.Equal(t, 3, c.SnapRetainCount)
	require.Equal(t, 0, c.PurgeIntervalHours)
	require.Empty(t, c.Servers)
	require.Equal(t, map[string]bool{"srvr": true}, c.FourLetterWords)
	require.False(t, c.AdminEnableServer)
	require.True(t, c.StandaloneEnabled)
	require.Equal(t, "", c.MetricsProviderClass)
	require.False(t, c.MetricsEnabled())
	require.Equal(t, "0.0.0.0", c.MetricsHTTPHost)
	require.Equal(t, 7000, c.MetricsHTTPPort)
	require.True(t, c.MetricsExportJVMInfo)
	require.Equal(t, 100000, c.SnapCount)
	require.Equal(t, 65536, c.PreAllocSizeKB)
	require.True(t, c.ForceSync)
	require.Equal(t, 0xfffff, c.JuteMaxBuffer)
	require.Equal(t, "", c.SuperDigest)
	require.False(t, c.ExtendedTypesEnabled)
	require.False(t, c.ReadOnlyModeEnabled)
	require.Empty(t, c.Warnings)
	require.True(t, c.Standalone())
	require.Nil(t, c.Self())
	require.Equal(t, ":2181", c.ClientAddr())
}

func TestConfigKeys(t *testing.T) {
	cases := []struct {
		line  string
		check func(t *testing.T, c *Config)
	}{
		{"tickTime=3000", func(t *testing.T, c *Config) {
			require.Equal(t, 3000, c.TickTimeMs)
			require.Equal(t, 6000, c.MinSessionTimeoutMs)
			require.Equal(t, 60000, c.MaxSessionTimeoutMs)
		}},
		{"initLimit=7", func(t *testing.T, c *Config) { require.Equal(t, 7, c.InitLimit) }},
		{"syncLimit = 3 ", func(t *testing.T, c *Config) { require.Equal(t, 3, c.SyncLimit) }},
		{"dataLogDir=/var/zklog", func(t *testing.T, c *Config) { require.Equal(t, "/var/zklog", c.DataLogDir) }},
		{"clientPortAddress=127.0.0.1", func(t *testing.T, c *Config) {
			require.Equal(t, "127.0.0.1", c.ClientPortAddress)
			require.Equal(t, "127.0.0.1:2181", c.ClientAddr())
		}},
		{"clientPortAddress=::1", func(t *testing.T, c *Config) { require.Equal(t, "[::1]:2181", c.ClientAddr()) }},
		{"maxClientCnxns=0", func(t *testing.T, c *Config) { require.Equal(t, 0, c.MaxClientCnxns) }},
		{"minSessionTimeout=1000", func(t *testing.T, c *Config) { require.Equal(t, 1000, c.MinSessionTimeoutMs) }},
		{"maxSessionTimeout=90000", func(t *testing.T, c *Config) { require.Equal(t, 90000, c.MaxSessionTimeoutMs) }},
		{"autopurge.snapRetainCount=5", func(t *testing.T, c *Config) { require.Equal(t, 5, c.SnapRetainCount) }},
		{"autopurge.snapRetainCount=1", func(t *testing.T, c *Config) {
			require.Equal(t, 3, c.SnapRetainCount)
			require.Len(t, c.Warnings, 1)
			require.Contains(t, c.Warnings[0], "x.cfg:3: autopurge.snapRetainCount 1")
		}},
		{"autopurge.purgeInterval=24", func(t *testing.T, c *Config) { require.Equal(t, 24, c.PurgeIntervalHours) }},
		{"autopurge.purgeInterval=-1", func(t *testing.T, c *Config) { require.Equal(t, 0, c.PurgeIntervalHours) }},
		{"4lw.commands.whitelist=stat, ruok ,conf", func(t *testing.T, c *Config) {
			require.Equal(t, map[string]bool{"stat": true, "ruok": true, "conf": true}, c.FourLetterWords)
		}},
		{"4lw.commands.whitelist=*", func(t *testing.T, c *Config) {
			for _, w := range []string{"mntr", "srvr", "stat", "ruok", "wchs", "dump", "isro", "envi", "cons", "conf"} {
				require.True(t, c.FourLetterWords[w], w)
			}
		}},
		{"admin.enableServer=false", func(t *testing.T, c *Config) {
			require.False(t, c.AdminEnableServer)
			require.Empty(t, c.Warnings)
		}},
		{"admin.enableServer=true", func(t *testing.T, c *Config) {
			require.True(t, c.AdminEnableServer)
			require.Len(t, c.Warnings, 1)
			require.Contains(t, c.Warnings[0], "x.cfg:3: admin.enableServer=true")
		}},
		{"standaloneEnabled=false", func(t *testing.T, c *Config) { require.False(t, c.StandaloneEnabled) }},
		{"metricsProvider.className=" + PrometheusProvider, func(t *testing.T, c *Config) {
			require.True(t, c.MetricsEnabled())
		}},
		{"metricsProvider.className=com.example.Other", func(t *testing.T, c *Config) {
			require.False(t, c.MetricsEnabled())
			require.Len(t, c.Warnings, 1)
		}},
		{"metricsProvider.httpHost=127.0.0.1", func(t *testing.T, c *Config) { require.Equal(t, "127.0.0.1", c.MetricsHTTPHost) }},
		{"metricsProvider.httpPort=7001", func(t *testing.T, c *Config) { require.Equal(t, 7001, c.MetricsHTTPPort) }},
		{"metricsProvider.exportJvmInfo=false", func(t *testing.T, c *Config) { require.False(t, c.MetricsExportJVMInfo) }},
		{"snapCount=1000", func(t *testing.T, c *Config) { require.Equal(t, 1000, c.SnapCount) }},
		{"preAllocSize=1024", func(t *testing.T, c *Config) { require.Equal(t, 1024, c.PreAllocSizeKB) }},
		{"forceSync=no", func(t *testing.T, c *Config) { require.False(t, c.ForceSync) }},
		{"forceSync=yes", func(t *testing.T, c *Config) { require.True(t, c.ForceSync) }},
		{"jute.maxbuffer=0x100000", func(t *testing.T, c *Config) { require.Equal(t, 0x100000, c.JuteMaxBuffer) }},
		{"extendedTypesEnabled=true", func(t *testing.T, c *Config) { require.True(t, c.ExtendedTypesEnabled) }},
		{"DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=", func(t *testing.T, c *Config) {
			require.Equal(t, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=", c.SuperDigest)
		}},
		{"readonlymode.enabled=true", func(t *testing.T, c *Config) { require.True(t, c.ReadOnlyModeEnabled) }},
		{"# a comment=1", func(t *testing.T, c *Config) { require.Empty(t, c.Warnings) }},
		{"! a comment", func(t *testing.T, c *Config) { require.Empty(t, c.Warnings) }},
		{"tickTime 2500", func(t *testing.T, c *Config) { require.Equal(t, 2500, c.TickTimeMs) }},
		{"tickTime: 2600", func(t *testing.T, c *Config) { require.Equal(t, 2600, c.TickTimeMs) }},
		{"tickTime=\\\n  2700", func(t *testing.T, c *Config) { require.Equal(t, 2700, c.TickTimeMs) }},
		{"bogus=1", func(t *testing.T, c *Config) {
			require.Equal(t, []string{"x.cfg:3: unknown key 'bogus' ignored"}, c.Warnings)
		}},
		{"metricsProvider.exportJvmInfoX=1", func(t *testing.T, c *Config) {
			require.Equal(t, []string{"x.cfg:3: key 'metricsProvider.exportJvmInfoX' is not used by kzoo's Prometheus provider; ignored"}, c.Warnings)
		}},
		{"electionAlg=3", func(t *testing.T, c *Config) {
			require.Equal(t, []string{"x.cfg:3: key 'electionAlg' is not supported by kzoo; ignored"}, c.Warnings)
		}},
		{"clientPort=2182", func(t *testing.T, c *Config) {
			require.Equal(t, 2182, c.ClientPort)
			require.Equal(t, []string{"x.cfg:3: key 'clientPort' repeats line 2; the last value wins"}, c.Warnings)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.line, func(t *testing.T) {
			c, err := Parse("x.cfg", []byte(base+tc.line+"\n"), nil)
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		text string
		want string
	}{
		{"dataDir=/d\nclientPort=abc\n", `conf/zoo.cfg:2: clientPort: "abc" is not a number in 1..65535`},
		{"dataDir=/d\nclientPort=70000\n", `conf/zoo.cfg:2: clientPort: "70000" is not a number in 1..65535`},
		{"clientPort=2181\n", `conf/zoo.cfg: dataDir: is missing (it is required)`},
		{"dataDir=/d\n", `conf/zoo.cfg: clientPort: is missing`},
		{"dataDir=\nclientPort=1\n", `conf/zoo.cfg:1: dataDir: is empty`},
		{base + "dataLogDir=\n", `conf/zoo.cfg:3: dataLogDir: is empty`},
		{base + "tickTime=0\n", `conf/zoo.cfg:3: tickTime: 0 must be greater than 0`},
		{base + "tickTime=2s\n", `conf/zoo.cfg:3: tickTime: "2s" is not a number`},
		{base + "initLimit=-1\n", `conf/zoo.cfg:3: initLimit: -1 must be greater than 0`},
		{base + "syncLimit=x\n", `conf/zoo.cfg:3: syncLimit: "x" is not a number`},
		{base + "maxClientCnxns=-1\n", `conf/zoo.cfg:3: maxClientCnxns: -1 must not be negative`},
		{base + "minSessionTimeout=x\n", `conf/zoo.cfg:3: minSessionTimeout: "x" is not a number`},
		{base + "maxSessionTimeout=x\n", `conf/zoo.cfg:3: maxSessionTimeout: "x" is not a number`},
		{base + "minSessionTimeout=50000\n", `conf/zoo.cfg:3: minSessionTimeout: minSessionTimeout 50000 must not be larger than maxSessionTimeout 40000`},
		{base + "maxSessionTimeout=1000\n", `conf/zoo.cfg:3: maxSessionTimeout: minSessionTimeout 4000 must not be larger`},
		{base + "autopurge.snapRetainCount=x\n", `conf/zoo.cfg:3: autopurge.snapRetainCount: "x" is not a number`},
		{base + "autopurge.purgeInterval=1h\n", `conf/zoo.cfg:3: autopurge.purgeInterval: "1h" is not a number`},
		{base + "4lw.commands.whitelist=stat,ruokay\n", `conf/zoo.cfg:3: 4lw.commands.whitelist: "ruokay" is not a four-letter word`},
		{base + "admin.enableServer=maybe\n", `conf/zoo.cfg:3: admin.enableServer: "maybe" is not true or false`},
		{base + "standaloneEnabled=1\n", `conf/zoo.cfg:3: standaloneEnabled: "1" is not true or false`},
		{base + "metricsProvider.httpPort=0\n", `conf/zoo.cfg:3: metricsProvider.httpPort: "0" is not a number in 1..65535`},
		{base + "metricsProvider.exportJvmInfo=x\n", `conf/zoo.cfg:3: metricsProvider.exportJvmInfo: "x" is not true or false`},
		{base + "snapCount=1\n", `conf/zoo.cfg:3: snapCount: 1 must be at least 2`},
		{base + "preAllocSize=big\n", `conf/zoo.cfg:3: preAllocSize: "big" is not a number`},
		{base + "forceSync=maybe\n", `conf/zoo.cfg:3: forceSync: "maybe" is not true or false`},
		{base + "jute.maxbuffer=lots\n", `conf/zoo.cfg:3: jute.maxbuffer: "lots" is not a number`},
		{base + "jute.maxbuffer=-5\n", `conf/zoo.cfg:3: jute.maxbuffer: -5 must be greater than 0`},
		{base + "extendedTypesEnabled=on\n", `conf/zoo.cfg:3: extendedTypesEnabled: "on" is not true or false`},
		{base + "DigestAuthenticationProvider.superDigest=nocolon\n", `conf/zoo.cfg:3: DigestAuthenticationProvider.superDigest: "nocolon" is not user:base64`},
		{"dataDir=/d\nclientPortAddress=127.0.0.1\nserver.1=h:1:2;5\nserver.2=i:1:2;5\n", `conf/zoo.cfg:2: clientPortAddress: is set but clientPort is not`},
		{base + "server.x=h:1:2\n", `conf/zoo.cfg:3: server.x: server id "x" is not a number`},
		{base + "server.1=h:1\n", `conf/zoo.cfg:3: server.1: "h:1": expected host:quorumPort:electionPort`},
		{base + "server.1=h:1:2:3:4\n", `conf/zoo.cfg:3: server.1: "h:1:2:3:4": expected`},
		{base + "server.1=:1:2\n", `conf/zoo.cfg:3: server.1: ":1:2" has no host`},
		{base + "server.1=h:q:2\n", `conf/zoo.cfg:3: server.1: quorum port "q" is not a number`},
		{base + "server.1=h:1:0\n", `conf/zoo.cfg:3: server.1: election port 0 is not in 1..65535`},
		{base + "server.1=h:1:2:witness\n", `conf/zoo.cfg:3: server.1: peer type "witness" is not participant or observer`},
		{base + "server.1=h:1:2;a:b:c\n", `conf/zoo.cfg:3: server.1: client part "a:b:c": expected [clientAddr:]clientPort`},
		{base + "server.1=h:1:2;x\n", `conf/zoo.cfg:3: server.1: client port "x" is not a number`},
		{base + "server.1=h:1:2;3;4\n", `conf/zoo.cfg:3: server.1: "h:1:2;3;4" has more than one ';'`},
		{base + "server.1=a:1:2|b:1:2\n", `conf/zoo.cfg:3: server.1: "a:1:2|b:1:2": multiple addresses`},
		{base + "server.1=[::1:1:2\n", `conf/zoo.cfg:3: server.1: "[::1:1:2": expected`},
		{base + "server.1=h:1:2\nserver.2=i:1:2\nserver.1=j:1:2\n", `conf/zoo.cfg:5: server.1: server id 1 is already used on line 3`},
		{base + "server.1=h:1:2\nserver.2=h:3:1\n", `conf/zoo.cfg:4: server.2: h:1 is already used by server.1 on line 3`},
		{base + "server.1=h:1:1\n", `conf/zoo.cfg:3: server.1: port 1 is used twice on this line`},
		{base + "server.1=h:1:2;2\n", `conf/zoo.cfg:3: server.1: port 2 is used twice on this line`},
		{base + "server.1=h:1:2:observer\n", `conf/zoo.cfg:3: server.1: observers without participants`},
		{base + "standaloneEnabled=false\nserver.1=h:1:2:observer\n", `conf/zoo.cfg:4: server.1: standaloneEnabled=false needs at least one participant`},
		{base + "server.1=h:1:2\nserver.2=i:1:2:observer\n", `conf/zoo.cfg:4: server.2: observers need standaloneEnabled=false`},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			_, err := Parse("conf/zoo.cfg", []byte(tc.text), nil)
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrInvalid))
			require.Contains(t, err.Error(), tc.want)
			require.True(t, strings.HasPrefix(err.Error(), tc.want[:strings.Index(tc.want, ":")+1]))
		})
	}
}

func TestConfigServerLines(t *testing.T) {
	text := base + "server.1=zk1:2888:3888\n" +
		"server.2=zk2:2888:3888:participant;0.0.0.0:2182\n" +
		"server.3=[fe80::1]:2888:3888:observer;2183\n" +
		"server.4=zk4:2888:3888:PARTICIPANT\n" +
		"server.5=zk5:2888:3888\n"
	c, err := Parse("zoo.cfg", []byte(text), nil)
	require.NoError(t, err)
	require.Equal(t, []Server{
		{ID: 1, Host: "zk1", QuorumPort: 2888, ElectionPort: 3888, Line: 3},
		{ID: 2, Host: "zk2", QuorumPort: 2888, ElectionPort: 3888, ClientAddr: "0.0.0.0", ClientPort: 2182, Line: 4},
		{ID: 3, Host: "fe80::1", QuorumPort: 2888, ElectionPort: 3888, Observer: true, ClientPort: 2183, Line: 5},
		{ID: 4, Host: "zk4", QuorumPort: 2888, ElectionPort: 3888, Line: 6},
		{ID: 5, Host: "zk5", QuorumPort: 2888, ElectionPort: 3888, Line: 7},
	}, c.Servers)
	require.False(t, c.Standalone())
	require.Nil(t, c.Self()) // MyID not read by Parse
	require.Contains(t, c.Warnings, "zoo.cfg:7: an even number of servers tolerates no more failures than one fewer")

	c, err = Parse("zoo.cfg", []byte(base+"server.1=h:1:2\nserver.2=h:3:4\n"), nil)
	require.NoError(t, err)
	require.Contains(t, c.Warnings, "zoo.cfg:4: no server failure will be tolerated: you need at least 3 servers")
}

func TestConfigSingleServerLineStandalone(t *testing.T) {
	c, err := Parse("zoo.cfg", []byte("dataDir=/d\nserver.1=127.0.0.1:2888:3888;127.0.0.1:2191\n"), nil)
	require.NoError(t, err)
	require.True(t, c.Standalone())
	require.Nil(t, c.Self())
	require.Equal(t, "127.0.0.1:2191", c.ClientAddr())
	require.Contains(t, c.Warnings, "zoo.cfg:2: only one server line: running standalone")

	c, err = Parse("zoo.cfg", []byte(base+"standaloneEnabled=false\nserver.1=h:1:2\n"), nil)
	require.NoError(t, err)
	require.False(t, c.Standalone())
}

func TestConfigSysProps(t *testing.T) {
	props := ParseJVMFlags(`-Xmx1g -Dzookeeper.DigestAuthenticationProvider.superDigest=super:abc= ` +
		`-Dzookeeper.extendedTypesEnabled=true -Dreadonlymode.enabled=TRUE -Djute.maxbuffer=0x200000 ` +
		`-Dzookeeper.snapCount=500 -Dzookeeper.forceSync=no -Dother.prop=1 -Dflag "-Dq=a b" -D`)
	require.Equal(t, map[string]string{
		"zookeeper.DigestAuthenticationProvider.superDigest": "super:abc=",
		"zookeeper.extendedTypesEnabled":                     "true",
		"readonlymode.enabled":                               "TRUE",
		"jute.maxbuffer":                                     "0x200000",
		"zookeeper.snapCount":                                "500",
		"zookeeper.forceSync":                                "no",
		"other.prop":                                         "1",
		"flag":                                               "",
		"q":                                                  "a b",
	}, props)
	c, err := Parse("zoo.cfg", []byte(base), props)
	require.NoError(t, err)
	require.Equal(t, "super:abc=", c.SuperDigest)
	require.True(t, c.ExtendedTypesEnabled)
	require.True(t, c.ReadOnlyModeEnabled)
	require.Equal(t, 0x200000, c.JuteMaxBuffer)
	require.Equal(t, 500, c.SnapCount)
	require.False(t, c.ForceSync)

	// The file wins over the flag, as ZooKeeper's file-to-property mapping does.
	c, err = Parse("zoo.cfg", []byte(base+"snapCount=700\n"), props)
	require.NoError(t, err)
	require.Equal(t, 700, c.SnapCount)

	_, err = Parse("zoo.cfg", []byte(base), map[string]string{"jute.maxbuffer": "big"})
	require.EqualError(t, err, `SERVER_JVMFLAGS: -Djute.maxbuffer: "big" is not a number`)
	_, err = Parse("zoo.cfg", []byte(base), map[string]string{"zookeeper.extendedTypesEnabled": "yes please"})
	require.EqualError(t, err, `SERVER_JVMFLAGS: -Dzookeeper.extendedTypesEnabled: "yes please" is not true or false`)
}

func writeEnsemble(t *testing.T, myid string) string {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	require.NoError(t, os.MkdirAll(data, 0o755))
	if myid != "" {
		require.NoError(t, os.WriteFile(filepath.Join(data, "myid"), []byte(myid), 0o644))
	}
	cfg := filepath.Join(dir, "zoo.cfg")
	text := "dataDir=" + data + "\n" +
		"server.1=127.0.0.1:2888:3888;2181\n" +
		"server.2=127.0.0.1:2889:3889;127.0.0.1:2182\n" +
		"server.3=127.0.0.1:2890:3890;2183\n"
	require.NoError(t, os.WriteFile(cfg, []byte(text), 0o644))
	return cfg
}

func TestConfigLoadMyID(t *testing.T) {
	c, err := Load(writeEnsemble(t, "2\n"), nil)
	require.NoError(t, err)
	require.Equal(t, int64(2), c.MyID)
	require.Equal(t, int64(2), c.Self().ID)
	require.Equal(t, "127.0.0.1:2182", c.ClientAddr())

	c, err = Load(writeEnsemble(t, "1"), nil)
	require.NoError(t, err)
	require.Equal(t, ":2181", c.ClientAddr())

	cfg := writeEnsemble(t, "7")
	_, err = Load(cfg, nil)
	require.ErrorIs(t, err, ErrInvalid)
	require.Contains(t, err.Error(), "myid:1: myid: 7 has no server.7 line in "+cfg)

	_, err = Load(writeEnsemble(t, "two"), nil)
	require.ErrorContains(t, err, `myid:1: myid: "two" is not a number`)

	_, err = Load(writeEnsemble(t, ""), nil)
	require.ErrorContains(t, err, "server.N lines need a myid file in dataDir")

	_, err = Load(filepath.Join(t.TempDir(), "nope.cfg"), nil)
	require.ErrorContains(t, err, "nope.cfg")
}

func TestConfigLoadSelfClientPort(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "myid"), []byte("1"), 0o644))
	write := func(text string) string {
		p := filepath.Join(dir, "zoo.cfg")
		require.NoError(t, os.WriteFile(p, []byte("dataDir="+dir+"\n"+text), 0o644))
		return p
	}
	three := "server.2=b:1:2\nserver.3=c:1:2\n"

	_, err := Load(write("server.1=a:1:2\nserver.2=b:1:2;5\nserver.3=c:1:2\n"), nil)
	require.ErrorContains(t, err, "zoo.cfg:2: server.1: no client port")

	_, err = Load(write("clientPort=9\nserver.1=a:1:2;8\n"+three), nil)
	require.ErrorContains(t, err, "zoo.cfg:3: server.1: client port 8 differs from clientPort=9")

	_, err = Load(write("clientPort=2\nserver.1=a:1:2\n"+three), nil)
	require.ErrorContains(t, err, "zoo.cfg:3: server.1: client port 2 is also this server's quorum or election port")

	c, err := Load(write("clientPort=3\nclientPortAddress=127.0.0.1\nserver.1=a:1:2\n"+three), nil)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:3", c.ClientAddr())
}

func FuzzConfigParse(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte(base + "server.1=h:1:2:observer;a:3\nserver.2=[::1]:4:5;6\n"))
	f.Add([]byte("tickTime=\\\n2000\n# x\n!y\n4lw.commands.whitelist=*\njute.maxbuffer=0x10\n"))
	f.Add([]byte("dataDir /d\nclientPort:1\nminSessionTimeout=10\nmaxSessionTimeout=5\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.cfg", data, nil)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalid)
			require.True(t, strings.HasPrefix(err.Error(), "fuzz.cfg"), err.Error())
			return
		}
		require.NotEmpty(t, c.DataDir)
		require.Positive(t, c.TickTimeMs)
		require.LessOrEqual(t, c.MinSessionTimeoutMs, c.MaxSessionTimeoutMs)
		require.GreaterOrEqual(t, c.SnapRetainCount, 3)
		_ = c.ClientAddr()
		if c.Standalone() {
			require.Positive(t, c.ClientPort)
		}
	})
}

// TestConfigDeploySamples parses every zoo.cfg-style file shipped in deploy/,
// so a sample can never fail to start.
func TestConfigDeploySamples(t *testing.T) {
	files, err := filepath.Glob("../../deploy/conf/*.cfg")
	require.NoError(t, err)
	files = append(files, "../../deploy/config/zookeeper.properties")
	require.GreaterOrEqual(t, len(files), 6)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		c, err := Parse(f, data, nil)
		require.NoError(t, err, f)
		require.Empty(t, c.Warnings, f)
		require.NotZero(t, c.ClientPort, f)
		if len(c.Servers) > 0 {
			require.Len(t, c.Servers, 3, f)
			require.False(t, c.Standalone(), f)
		}
	}
}
