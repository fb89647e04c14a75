package server

import (
	"context"
	"strconv"

	"kzoo/broker/config"
	"kzoo/broker/controller"
)

// startController runs this broker's controller (election race, and the
// controller itself while it holds /controller) until Stop.
func (s *Server) startController() error {
	s.sender = newSender(s)
	s.ctrl = controller.New(controller.Config{
		BrokerID:              s.cfg.BrokerID,
		ZK:                    s.zk,
		Send:                  s.sender,
		InterBrokerListener:   s.cfg.InterBrokerListenerName,
		Logf:                  s.logf,
		UncleanLeaderElection: s.cfg.UncleanLeaderElection,
		TopicDeletionDisabled: !s.cfg.DeleteTopicEnable,
		AutoLeaderRebalance:   s.cfg.AutoLeaderRebalance,

		LeaderImbalanceCheckIntervalMs:     s.cfg.LeaderImbalanceCheckIntervalSeconds * 1000,
		LeaderImbalancePerBrokerPercentage: imbalancePct(s.cfg),
	})
	s.h.SetController(s.ctrl)
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan struct{})
	s.ctrlStop = func() { cancel(); <-done }
	go func() {
		defer close(done)
		if err := s.ctrl.Run(ctx); err != nil && ctx.Err() == nil {
			s.logf("controller stopped: %v", err)
		}
	}()
	return nil
}

func (s *Server) stopController() {
	if s.ctrlStop != nil {
		s.ctrlStop()
		s.ctrlStop = nil
	}
	if s.sender != nil {
		s.sender.closeAll()
	}
}

func imbalancePct(cfg *config.Config) int {
	n, err := strconv.Atoi(cfg.Values["leader.imbalance.per.broker.percentage"])
	if err != nil {
		return 10
	}
	return n
}
