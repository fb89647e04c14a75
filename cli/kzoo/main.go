// Command kzoo is the single binary of kzoo: the ZooKeeper-compatible
// coordinator, the Kafka broker and every command-line tool, as subcommands.
package main

import (
	"fmt"
	"os"

	"kzoo/cli"
)

func main() {
	if err := cli.App().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
