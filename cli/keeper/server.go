package keeper

import (
	"kzoo/coordinator/config"
	"kzoo/coordinator/server"
)

// newCoordinator builds the server for cfg: standalone, or a member of the
// ensemble its server.N lines and myid describe.
func newCoordinator(cfg *config.Config) (coordinator, error) {
	return server.New(server.Options{Config: cfg})
}
