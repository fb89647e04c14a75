// Package clock is the wall clock the controller runs on in a broker
// (controller.Clock); tests and simulations inject their own. It owns
// timers and nothing else.
package clock

import (
	"context"
	"time"
)

// Wall implements controller.Clock with the time package.
type Wall struct{}

// After receives once ms milliseconds have passed.
func (Wall) After(ms int64) <-chan struct{} {
	ch := make(chan struct{})
	time.AfterFunc(time.Duration(ms)*time.Millisecond, func() { close(ch) })
	return ch
}

// Ticker receives every ms milliseconds until stop is called.
func (Wall) Ticker(ms int64) (<-chan struct{}, func()) {
	t := time.NewTicker(time.Duration(ms) * time.Millisecond)
	ch := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-t.C:
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
	}()
	return ch, func() { t.Stop(); close(done) }
}

// WithTimeout is context.WithTimeout for ms milliseconds.
func (Wall) WithTimeout(ctx context.Context, ms int64) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
}
