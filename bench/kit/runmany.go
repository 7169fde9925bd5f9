package kit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// RunMany runs fn for 0..n-1 on c goroutines; it returns the successes, failures and errors.
func RunMany(ctx context.Context, n, c int, fn func(context.Context, int) error) (ok, failed int, errs []error) {
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(c, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				err := fn(ctx, i)
				mu.Lock()
				if err != nil {
					failed++
					errs = append(errs, err)
				} else {
					ok++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if rest := n - ok - failed; rest > 0 {
		failed += rest
		errs = append(errs, fmt.Errorf("%d not run: %w", rest, context.Cause(ctx)))
	}
	return ok, failed, errs
}
