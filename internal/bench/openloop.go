package bench

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"
)

// The open loop (`latch bench --rate N`). A closed loop of C workers offers a new login only when
// one finishes, so a slow server is offered less and its latency is mostly queueing (Little's
// law: C / throughput); a login that would have started while the server stalled is never
// counted as waiting ("coordinated omission"). The open loop offers N logins per second on a
// fixed schedule, the way independent users arrive: login i is due at start + i/N whatever
// happened to the others, and its latency runs from that moment, so time it waited — for a
// worker of the bench, for a connection, for the server — counts. Up to Concurrency logins are
// in flight; past that, the due ones wait in the bench, and that wait counts too.

// backlogLimit: a login still waiting in the bench this long after the run's end is not sent
// but counted as an error, so a server that has stopped answering cannot keep the run going.
const backlogLimit = 5 * time.Second

// keyBacklog is the error key of a login the bench never sent (see backlogLimit).
const keyBacklog = "not sent (bench backlog)"

// openLoop runs op at cfg.Rate per second for cfg.Duration and measures each from its due time.
func (r *runner) openLoop(ctx context.Context, op func(context.Context, *worker) (time.Duration, error)) (Result, error) {
	total := int(math.Round(r.cfg.Rate * r.cfg.Duration.Seconds()))
	start := time.Now()
	end := start.Add(r.cfg.Duration)
	// Operations that wait (a TOTP user's next time step) may wait past the schedule while the
	// backlog drains.
	r.deadline = end.Add(backlogLimit)
	due := make(chan time.Time, min(max(total, 1), 1<<16))
	go func() {
		defer close(due)
		for i := range total {
			t := start.Add(time.Duration(float64(i) * float64(time.Second) / r.cfg.Rate))
			if d := time.Until(t); d > 0 {
				time.Sleep(d) // an oversleep is made up at once: the next ones are already due
			}
			select {
			case due <- t:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for _, w := range r.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range due {
				if ctx.Err() != nil {
					continue // drain
				}
				w.requests++
				if time.Since(end) > backlogLimit {
					w.errs[keyBacklog]++
					continue
				}
				_, err := op(ctx, w)
				lat := time.Since(t)
				if errors.Is(err, errSkipped) {
					w.requests--
					continue
				}
				if err != nil {
					key := errorKey(err)
					w.errs[key]++
					if _, ok := w.samples[key]; !ok {
						w.samples[key] = err.Error()
					}
					continue
				}
				w.lat = append(w.lat, lat)
			}
		}()
	}
	wg.Wait()
	res := r.collect(time.Since(start))
	res.OfferedPerSecond = math.Round(float64(total)/r.cfg.Duration.Seconds()*10) / 10
	return res, ctx.Err()
}

// openLoopUsers is the user pool an open-loop run of a send-limited flow needs: every login
// sends a code, and a user may have defaultSendLimit of them in 15 minutes; half as many again
// for the uneven share of the workers.
func openLoopUsers(flow string, rate float64, duration time.Duration) int {
	switch flow {
	case FlowOTP, FlowMagicLink, FlowHosted:
		window := min(duration, 15*time.Minute)
		return int(math.Ceil(rate * window.Seconds() / defaultSendLimit * 1.5))
	case FlowTOTP:
		// Two time steps per user before the next boundary, which may be 30 s away.
		return int(math.Ceil(rate * 30 / 2 * 1.2))
	}
	return 0
}
