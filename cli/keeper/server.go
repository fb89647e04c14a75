package keeper

import (
	"fmt"

	"kzoo/coordinator/config"
	"kzoo/coordinator/server"
)

// newCoordinator builds the server for cfg. coordinator/server runs one
// standalone server; a config with an ensemble (server.N lines, not
// standalone) is refused rather than run as something it is not.
func newCoordinator(cfg *config.Config) (coordinator, error) {
	if !cfg.Standalone() {
		return nil, fmt.Errorf("server.%d: ensembles (%d server lines) are not supported by this build; run standalone (no server.N lines)",
			cfg.MyID, len(cfg.Servers))
	}
	return server.New(server.Options{Config: cfg})
}
