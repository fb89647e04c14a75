package server

import (
	"context"

	"kzoo/broker/controller"
)

// startController runs this broker's controller (election race, and the
// controller itself while it holds /controller) until Stop.
func (s *Server) startController() error {
	s.ctrl = controller.New(controller.Config{
		BrokerID:              s.cfg.BrokerID,
		ZK:                    s.zk,
		InterBrokerListener:   s.cfg.InterBrokerListenerName,
		Logf:                  s.logf,
		UncleanLeaderElection: s.cfg.UncleanLeaderElection,
		TopicDeletionDisabled: !s.cfg.DeleteTopicEnable,
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
}
