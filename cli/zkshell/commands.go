package zkshell

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"kzoo/coordinator/client"
	"kzoo/coordinator/jute"
)

// command is one shell command: its usage line as ZooKeeper's help
// prints it, its option letters (flags, and those taking a value), the
// number of arguments it needs (the name included), whether it needs a
// live session, and what it does.
type command struct {
	name     string
	usage    string
	flags    string
	valued   string
	minArgs  int
	needConn bool
	run      func(s *shell, p *parsedArgs) error
}

// usageError prints the command's usage line (exit 1).
type usageError struct{ usage string }

func (e *usageError) Error() string { return e.usage }

// notFoundError is an unknown command (exit 127).
type notFoundError struct{ name string }

func (e *notFoundError) Error() string { return "Command not found: Command not found " + e.name }

// msgError is a failure already worded as zkCli words it (exit 1).
type msgError struct{ msg string }

func (e *msgError) Error() string { return e.msg }

func fail(format string, args ...any) error { return &msgError{msg: fmt.Sprintf(format, args...)} }

// maxTTL is EphemeralType.TTL's largest TTL (40 bits of milliseconds).
const maxTTL = 1<<40 - 1

var commands map[string]*command

func init() {
	list := []*command{
		{name: "addWatch", usage: "addWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE",
			valued: "m", minArgs: 2, needConn: true, run: (*shell).cmdAddWatch},
		{name: "addauth", usage: "addauth scheme auth", minArgs: 2, needConn: true, run: (*shell).cmdAddAuth},
		{name: "close", usage: "close ", minArgs: 1, needConn: true, run: (*shell).cmdClose},
		{name: "config", usage: "config [-c] [-w] [-s]", flags: "cws", minArgs: 1, needConn: true, run: (*shell).cmdConfig},
		{name: "connect", usage: "connect host:port", minArgs: 1, run: (*shell).cmdConnect},
		{name: "create", usage: "create [-s] [-e] [-c] [-t ttl] path [data] [acl]", flags: "sec", valued: "t",
			minArgs: 2, needConn: true, run: (*shell).cmdCreate},
		{name: "delete", usage: "delete [-v version] path", valued: "v", minArgs: 2, needConn: true, run: (*shell).cmdDelete},
		{name: "deleteall", usage: "deleteall path [-b batch size]", valued: "b", minArgs: 2, needConn: true, run: (*shell).cmdDeleteAll},
		{name: "get", usage: "get [-s] [-w] path", flags: "sw", minArgs: 2, needConn: true, run: (*shell).cmdGet},
		{name: "getAcl", usage: "getAcl [-s] path", flags: "s", minArgs: 2, needConn: true, run: (*shell).cmdGetACL},
		{name: "getAllChildrenNumber", usage: "getAllChildrenNumber path", minArgs: 2, needConn: true, run: (*shell).cmdAllChildren},
		{name: "getEphemerals", usage: "getEphemerals path", minArgs: 1, needConn: true, run: (*shell).cmdEphemerals},
		{name: "history", usage: "history ", minArgs: 1, run: (*shell).cmdHistory},
		{name: "ls", usage: "ls [-s] [-w] [-R] path", flags: "swR", minArgs: 2, needConn: true, run: (*shell).cmdLs},
		{name: "printwatches", usage: "printwatches on|off", minArgs: 1, run: (*shell).cmdPrintWatches},
		{name: "quit", usage: "quit ", minArgs: 1, run: (*shell).cmdQuit},
		{name: "redo", usage: "redo cmdno", minArgs: 2, run: (*shell).cmdRedo},
		{name: "removewatches", usage: "removewatches path [-c|-d|-a] [-l]", flags: "cdal", minArgs: 2, needConn: true, run: (*shell).cmdRemoveWatches},
		{name: "set", usage: "set [-s] [-v version] path data", flags: "s", valued: "v", minArgs: 3, needConn: true, run: (*shell).cmdSet},
		{name: "setAcl", usage: "setAcl [-s] [-v version] [-R] path acl", flags: "sR", valued: "v", minArgs: 3, needConn: true, run: (*shell).cmdSetACL},
		{name: "stat", usage: "stat [-w] path", flags: "w", minArgs: 2, needConn: true, run: (*shell).cmdStat},
		{name: "sync", usage: "sync path", minArgs: 2, needConn: true, run: (*shell).cmdSync},
		{name: "version", usage: "version ", minArgs: 1, run: (*shell).cmdVersion},
		{name: "whoami", usage: "whoami ", minArgs: 1, needConn: true, run: (*shell).cmdWhoAmI},
	}
	commands = map[string]*command{}
	for _, c := range list {
		commands[c.name] = c
	}
}

// commandList is the command table in ZooKeeper's help order.
func commandList() []*command {
	v := make([]*command, 0, len(commands))
	for _, c := range commands {
		v = append(v, c)
	}
	sort.Slice(v, func(i, j int) bool { return v[i].name < v[j].name })
	return v
}

// processCmd runs one tokenized command and sets the exit code.
func (s *shell) processCmd(toks []string) {
	s.exitCode = exitOK
	if len(toks) == 0 {
		return
	}
	err := s.dispatch(toks)
	if err == nil {
		return
	}
	var ue *usageError
	var nf *notFoundError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(s.errOut, ue.usage)
		s.exitCode = exitError
	case errors.As(err, &nf):
		printUsage(s.errOut)
		fmt.Fprintln(s.errOut, nf.Error())
		s.exitCode = exitNotFound
	default:
		fmt.Fprintln(s.errOut, err.Error())
		s.exitCode = exitError
	}
}

func (s *shell) dispatch(toks []string) error {
	c, ok := commands[toks[0]]
	if !ok {
		return &notFoundError{name: toks[0]}
	}
	p, err := parseOpts(toks, c.flags, c.valued)
	if err != nil {
		return err
	}
	if len(p.args) < c.minArgs {
		return &usageError{usage: c.usage}
	}
	if c.needConn {
		switch s.zk.State() {
		case client.StateClosed, client.StateAuthFailed:
			fmt.Fprintln(s.out, "Not connected")
			return nil
		}
	}
	return c.run(s, p)
}

// ctx bounds one server call: the client fails it on connection loss
// well before this, so the bound only guards against a wedged server.
func (s *shell) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*s.timeout+10*time.Second)
}

// checkPath applies ZooKeeper's client-side path rules and words a
// failure as zkCli does.
func checkPath(p string, sequential bool) error {
	check := p
	if sequential {
		check += "1"
	}
	if err := client.ValidatePath(check); err != nil {
		return &msgError{msg: err.Error()}
	}
	return nil
}

// keeperError words a failed call on path as zkCli's CliWrapperException
// does ("Node does not exist: /x"); a lost connection also names the
// server address and the cause.
func keeperError(err error, path string) error {
	if path == "" {
		path = "null"
	}
	var code jute.Code
	if !errors.As(err, &code) {
		return err
	}
	switch code {
	case jute.ErrNoNode:
		return fail("Node does not exist: %s", path)
	case jute.ErrNoChildrenForEphemerals:
		return fail("Ephemerals cannot have children: %s", path)
	case jute.ErrNodeExists:
		return fail("Node already exists: %s", path)
	case jute.ErrNotEmpty:
		return fail("Node not empty: %s", path)
	case jute.ErrNotReadOnly:
		return fail("Not a read-only call: %s", path)
	case jute.ErrInvalidACL:
		return fail("Acl is not valid : %s", path)
	case jute.ErrNoAuth:
		return fail("Insufficient permission : %s", path)
	case jute.ErrBadArguments:
		return fail("Argument not valid : %s", path)
	case jute.ErrBadVersion:
		return fail("version No is not valid : %s", path)
	}
	msg := code.Error() + " for " + path
	if detail := strings.TrimPrefix(err.Error(), code.Error()); detail != "" {
		msg += " (" + strings.TrimPrefix(detail, ": ") + ")"
	}
	return fail("%s", msg)
}

// version parses a -v option, -1 when absent.
func versionOpt(p *parsedArgs, usage string) (int32, error) {
	v, ok := p.opts['v']
	if !ok {
		return -1, nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, &usageError{usage: usage}
	}
	return int32(n), nil
}

func (s *shell) cmdLs(p *parsedArgs) error {
	path := p.args[1]
	if err := checkPath(path, false); err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	watch := p.has('w')
	if p.has('R') {
		paths, err := s.listSubtree(ctx, path, watch)
		if err != nil {
			return keeperError(err, path)
		}
		for _, q := range paths {
			fmt.Fprintln(s.out, q)
		}
		return nil
	}
	kids, st, err := s.zk.Children(ctx, path, watch)
	if err != nil {
		return keeperError(err, path)
	}
	sort.Strings(kids)
	fmt.Fprintln(s.out, javaList(kids))
	if p.has('s') {
		printStat(s.out, st)
	}
	return nil
}

// listSubtree lists path and every descendant breadth first, children in
// name order, as ZKUtil.listSubTreeBFS does.
func (s *shell) listSubtree(ctx context.Context, root string, watch bool) ([]string, error) {
	out := []string{root}
	for i := 0; i < len(out); i++ {
		kids, _, err := s.zk.Children(ctx, out[i], watch)
		if err != nil {
			if i > 0 && errors.Is(err, jute.ErrNoNode) {
				continue // removed while we walked
			}
			return nil, err
		}
		sort.Strings(kids)
		for _, k := range kids {
			if out[i] == "/" {
				out = append(out, "/"+k)
			} else {
				out = append(out, out[i]+"/"+k)
			}
		}
	}
	return out, nil
}

func (s *shell) cmdGet(p *parsedArgs) error {
	path := p.args[1]
	if err := checkPath(path, false); err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	data, st, err := s.zk.Get(ctx, path, p.has('w'))
	if err != nil {
		return keeperError(err, path)
	}
	fmt.Fprintln(s.out, javaString(data))
	if p.has('s') {
		printStat(s.out, st)
	}
	return nil
}

func (s *shell) cmdStat(p *parsedArgs) error {
	path := p.args[1]
	if err := checkPath(path, false); err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	st, ok, err := s.zk.Exists(ctx, path, p.has('w'))
	if err != nil {
		return keeperError(err, path)
	}
	if !ok {
		return keeperError(jute.ErrNoNode, path)
	}
	printStat(s.out, st)
	return nil
}

func (s *shell) cmdCreate(p *parsedArgs) error {
	hasE, hasS, hasC, hasT := p.has('e'), p.has('s'), p.has('c'), p.has('t')
	if hasC && (hasE || hasS) {
		return fail("-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.")
	}
	var ttl int64
	if hasT {
		var err error
		if ttl, err = strconv.ParseInt(p.opts['t'], 10, 64); err != nil {
			return fail("-t argument must be a long value")
		}
	}
	if hasT && hasE {
		return fail("TTLs cannot be used with Ephemeral znodes")
	}
	if hasT && hasC {
		return fail("TTLs cannot be used with Container znodes")
	}
	var mode int32
	switch {
	case hasE && hasS:
		mode = jute.ModeEphemeralSequential
	case hasE:
		mode = jute.ModeEphemeral
	case hasS && hasT:
		mode = jute.ModePersistentSequentialWithTTL
	case hasS:
		mode = jute.ModePersistentSequential
	case hasC:
		mode = jute.ModeContainer
	case hasT:
		mode = jute.ModePersistentWithTTL
	default:
		mode = jute.ModePersistent
	}
	if hasT && (ttl <= 0 || ttl > maxTTL) {
		return fail("ttl must be positive and cannot be larger than: %d", int64(maxTTL))
	}
	path := p.args[1]
	var data []byte
	if len(p.args) > 2 {
		data = []byte(p.args[2])
	}
	acl := jute.WorldAnyone
	if len(p.args) > 3 {
		acl = parseACL(p.args[3], s.errOut)
		if len(acl) == 0 {
			fmt.Fprintln(s.errOut, jute.ErrInvalidACL.Error())
			return keeperError(jute.ErrInvalidACL, "")
		}
	}
	if err := checkPath(path, hasS); err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	created, _, err := s.zk.Create(ctx, path, data, acl, mode, ttl)
	if err != nil {
		switch {
		case errors.Is(err, jute.ErrEphemeralOnLocalSession):
			fmt.Fprintln(s.errOut, "Unable to create ephemeral node on a local session")
		case errors.Is(err, jute.ErrInvalidACL):
			fmt.Fprintf(s.errOut, "%s for %s\n", jute.ErrInvalidACL.Error(), path)
		}
		return keeperError(err, path)
	}
	fmt.Fprintf(s.errOut, "Created %s\n", created)
	return nil
}

func (s *shell) cmdSet(p *parsedArgs) error {
	path := p.args[1]
	version, err := versionOpt(p, commands["set"].usage)
	if err != nil {
		return err
	}
	if err := checkPath(path, false); err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	st, err := s.zk.Set(ctx, path, []byte(p.args[2]), version)
	if err != nil {
		return keeperError(err, path)
	}
	if p.has('s') {
		printStat(s.out, st)
	}
	return nil
}

func (s *shell) cmdDelete(p *parsedArgs) error {
	path := p.args[1]
	version, err := versionOpt(p, commands["delete"].usage)
	if err != nil {
		return err
	}
	if err := checkPath(path, false); err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.zk.Delete(ctx, path, version); err != nil {
		return keeperError(err, path)
	}
	return nil
}

// cmdDeleteAll deletes path and its subtree, deepest first, in multi
// batches of -b operations (1000 by default) as ZKUtil.deleteRecursive.
func (s *shell) cmdDeleteAll(p *parsedArgs) error {
	path := p.args[1]
	batch := 1000
	if v, ok := p.opts['b']; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return &usageError{usage: commands["deleteall"].usage}
		}
		batch = n
	}
	if err := checkPath(path, false); err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	paths, err := s.listSubtree(ctx, path, false)
	if err != nil {
		return keeperError(err, path)
	}
	for end := len(paths); end > 0; end -= batch {
		start := max(end-batch, 0)
		ops := make([]jute.MultiOp, 0, end-start)
		for i := end - 1; i >= start; i-- {
			ops = append(ops, jute.MultiOp{Type: jute.OpDelete, Req: &jute.DeleteRequest{Path: paths[i], Version: -1}})
		}
		if _, err := s.zk.Multi(ctx, ops...); err != nil {
			var code jute.Code
			if errors.As(err, &code) && code != jute.ErrConnectionLoss && code != jute.ErrSessionExpired {
				return fail("Failed to delete some node(s) in the subtree!")
			}
			return keeperError(err, path)
		}
	}
	return nil
}

func (s *shell) cmdGetACL(p *parsedArgs) error {
	path := p.args[1]
	if err := checkPath(path, false); err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	acl, st, err := s.zk.GetACL(ctx, path)
	if err != nil {
		return keeperError(err, path)
	}
	printACL(s.out, acl)
	if p.has('s') {
		printStat(s.out, st)
	}
	return nil
}

func (s *shell) cmdSetACL(p *parsedArgs) error {
	path := p.args[1]
	version, err := versionOpt(p, commands["setAcl"].usage)
	if err != nil {
		return err
	}
	acl := parseACL(p.args[2], s.errOut)
	if err := checkPath(path, false); err != nil {
		return err
	}
	if len(acl) == 0 {
		return keeperError(jute.ErrInvalidACL, "")
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if p.has('R') {
		paths, err := s.listSubtree(ctx, path, false)
		if err != nil {
			return keeperError(err, path)
		}
		for _, q := range paths {
			if _, err := s.zk.SetACL(ctx, q, acl, version); err != nil && !errors.Is(err, jute.ErrNoNode) {
				return keeperError(err, q)
			}
		}
		return nil
	}
	st, err := s.zk.SetACL(ctx, path, acl, version)
	if err != nil {
		return keeperError(err, path)
	}
	if p.has('s') {
		printStat(s.out, st)
	}
	return nil
}

// cmdAddAuth adds credentials. Like zkCli it does not report a refused
// credential itself: the session's AuthFailed event does.
func (s *shell) cmdAddAuth(p *parsedArgs) error {
	var auth []byte
	if len(p.args) > 2 {
		auth = []byte(p.args[2])
	}
	ctx, cancel := s.ctx()
	defer cancel()
	err := s.zk.AddAuth(ctx, p.args[1], auth)
	if err != nil && !errors.Is(err, jute.ErrAuthFailed) {
		return keeperError(err, "")
	}
	return nil
}

func (s *shell) cmdSync(p *parsedArgs) error {
	path := p.args[1]
	if err := checkPath(path, false); err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if _, err := s.zk.Sync(ctx, path); err != nil {
		var code jute.Code
		if errors.As(err, &code) {
			fmt.Fprintf(s.out, "Sync has failed. rc=%d\n", int32(code))
			return &msgError{msg: keeperError(err, path).Error()}
		}
		return err
	}
	fmt.Fprintln(s.out, "Sync is OK")
	return nil
}

func (s *shell) cmdEphemerals(p *parsedArgs) error {
	path := "/"
	if len(p.args) > 1 {
		path = p.args[1]
	}
	if err := checkPath(path, false); err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	eph, err := s.zk.GetEphemerals(ctx, path)
	if err != nil {
		return keeperError(err, path)
	}
	fmt.Fprintln(s.out, javaList(eph))
	return nil
}

func (s *shell) cmdAllChildren(p *parsedArgs) error {
	path := p.args[1]
	if err := checkPath(path, false); err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	n, err := s.zk.GetAllChildrenNumber(ctx, path)
	if err != nil {
		return keeperError(err, path)
	}
	fmt.Fprintln(s.out, n)
	return nil
}

func (s *shell) cmdAddWatch(p *parsedArgs) error {
	mode := jute.AddWatchPersistentRecursive
	if m, ok := p.opts['m']; ok {
		switch strings.ToUpper(m) {
		case "PERSISTENT":
			mode = jute.AddWatchPersistent
		case "PERSISTENT_RECURSIVE":
		default:
			return &usageError{usage: commands["addWatch"].usage}
		}
	}
	path := p.args[1]
	if err := checkPath(path, false); err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.zk.AddWatch(ctx, path, mode); err != nil {
		return keeperError(err, path)
	}
	return nil
}

func (s *shell) cmdRemoveWatches(p *parsedArgs) error {
	path := p.args[1]
	typ := jute.WatcherAny
	switch {
	case p.has('c'):
		typ = jute.WatcherChildren
	case p.has('d'):
		typ = jute.WatcherData
	}
	if err := checkPath(path, false); err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.zk.RemoveWatches(ctx, path, typ, p.has('l')); err != nil {
		var code jute.Code
		if errors.As(err, &code) && code == jute.ErrNoWatcher {
			return fail("%s for %s", code.Error(), path)
		}
		return keeperError(err, path)
	}
	return nil
}

func (s *shell) cmdWhoAmI(p *parsedArgs) error {
	ctx, cancel := s.ctx()
	defer cancel()
	who, err := s.zk.WhoAmI(ctx)
	if err != nil {
		return keeperError(err, "")
	}
	fmt.Fprintln(s.out, "Auth scheme: User")
	for _, c := range who {
		fmt.Fprintf(s.out, "%s: %s\n", c.AuthScheme, c.User)
	}
	return nil
}

func (s *shell) cmdHistory(p *parsedArgs) error {
	for i := s.count - 10; i <= s.count; i++ {
		if i < 0 {
			continue
		}
		if line, ok := s.history[i]; ok {
			fmt.Fprintf(s.out, "%d - %s\n", i, line)
		}
	}
	return nil
}

// cmdRedo runs history entry N again; the history records it under the
// current number as the command it ran.
func (s *shell) cmdRedo(p *parsedArgs) error {
	n, err := strconv.ParseInt(p.args[1], 0, 32)
	if err != nil {
		return &usageError{usage: commands["redo"].usage}
	}
	i := int(n)
	line, ok := s.history[i]
	if i < 0 || i >= s.count || !ok {
		return fail("Command index out of range")
	}
	toks := splitLine(line)
	if len(toks) > 0 && toks[0] == "redo" {
		return fail("No redoing redos")
	}
	s.history[s.count] = line
	s.processCmd(toks)
	return nil
}

func (s *shell) cmdPrintWatches(p *parsedArgs) error {
	if len(p.args) == 1 {
		state := "off"
		if s.printWatches {
			state = "on"
		}
		fmt.Fprintf(s.out, "printwatches is %s\n", state)
		return nil
	}
	s.printWatches = p.args[1] == "on"
	return nil
}

func (s *shell) cmdConnect(p *parsedArgs) error {
	host := s.host
	if len(p.args) > 1 {
		host = p.args[1]
	}
	return s.connect(host)
}

func (s *shell) cmdClose(p *parsedArgs) error {
	s.closeSession()
	return nil
}

func (s *shell) cmdQuit(p *parsedArgs) error {
	s.quit = true
	return nil
}

func (s *shell) cmdVersion(p *parsedArgs) error {
	fmt.Fprintln(s.out, "ZooKeeper CLI version: kzoo (ZooKeeper 3.8 compatible)")
	return nil
}

// configNode is where a server publishes its dynamic ensemble config.
const configNode = "/zookeeper/config"

// cmdConfig prints the ensemble config (-c: only "version
// host:port,..." of the client addresses), as zkCli's config.
func (s *shell) cmdConfig(p *parsedArgs) error {
	ctx, cancel := s.ctx()
	defer cancel()
	data, st, err := s.zk.Get(ctx, configNode, p.has('w'))
	if err != nil {
		return keeperError(err, configNode)
	}
	if p.has('c') {
		fmt.Fprintln(s.out, clientConfigString(string(data)))
	} else {
		fmt.Fprintln(s.out, javaString(data))
	}
	if p.has('s') {
		printStat(s.out, st)
	}
	return nil
}

// clientConfigString reduces a dynamic config ("server.1=h:2888:3888;2181",
// "version=100000000") to "version h:port,h:port" as ConfigUtils does: a
// client port without an address listens on every address (0.0.0.0).
func clientConfigString(cfg string) string {
	version := ""
	type srv struct{ id, addr string }
	var servers []srv
	for _, line := range strings.Split(cfg, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "version" {
			version = v
		}
		if !strings.HasPrefix(k, "server.") {
			continue
		}
		_, client, ok := strings.Cut(v, ";")
		addr := ""
		if ok {
			client = strings.TrimSpace(client)
			if strings.Contains(client, ":") {
				addr = client
			} else {
				addr = "0.0.0.0:" + client
			}
		}
		servers = append(servers, srv{id: k, addr: addr})
	}
	sort.Slice(servers, func(i, j int) bool { return servers[i].id < servers[j].id })
	addrs := make([]string, 0, len(servers))
	for _, x := range servers {
		addrs = append(addrs, x.addr)
	}
	return version + " " + strings.Join(addrs, ",")
}
