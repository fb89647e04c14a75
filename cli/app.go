// Package cli assembles the kzoo command line: one urfave/cli App whose
// subcommands come from the packages under cli/. It owns flag parsing and
// exit codes, never server state.
package cli

import (
	ucli "github.com/urfave/cli/v2"

	"kzoo/cli/brokercmd"
	"kzoo/cli/groupstool"
	"kzoo/cli/kafkatools"
	"kzoo/cli/keeper"
	"kzoo/cli/storagetool"
	"kzoo/cli/zkbench"
	"kzoo/cli/zkshell"
)

// App returns the kzoo application with every subcommand registered.
func App() *ucli.App {
	app := &ucli.App{
		Name:                 "kzoo",
		Usage:                "Apache Kafka in ZooKeeper mode, with its coordinator, in one binary",
		EnableBashCompletion: true,
		Commands:             commands(),
	}
	return app
}

// commands lists the subcommands, one line per package.
func commands() []*ucli.Command {
	var cmds []*ucli.Command
	cmds = append(cmds, keeper.Commands()...)
	cmds = append(cmds, zkshell.Command())
	cmds = append(cmds, zkbench.Command())
	cmds = append(cmds, brokercmd.Commands()...)
	cmds = append(cmds, kafkatools.Commands()...)
	cmds = append(cmds, storagetool.Commands()...)
	cmds = append(cmds, groupstool.Commands()...)
	return cmds
}
