// Command zk-bench runs the zk-bench load generator on its own, for
// comparing ensembles before (or without) the kzoo binary; `kzoo zk-bench`
// is the same command.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"kzoo/cli/zkbench"
)

func main() {
	cmd := zkbench.Command()
	app := &cli.App{
		Name:   cmd.Name,
		Usage:  cmd.Usage,
		Flags:  cmd.Flags,
		Action: cmd.Action,
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
