package storetest

import (
	"errors"
	"sync"
)

// tally counts how n concurrent calls ended: ok returned nil, refused returned an error the test
// expects for the losers, other holds the rest.
type tally struct {
	ok, refused int
	other       []error
}

// concurrently runs fn(0) … fn(n-1) at once and tallies their errors; refused tells the losers'
// expected error (nil: every error is unexpected).
func concurrently(n int, refused func(error) bool, fn func(i int) error) tally {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var t tally
	for i := range n {
		wg.Go(func() {
			err := fn(i)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				t.ok++
			case refused != nil && refused(err):
				t.refused++
			default:
				t.other = append(t.other, err)
			}
		})
	}
	wg.Wait()
	return t
}

// is returns a refused function matching target with errors.Is.
func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}
