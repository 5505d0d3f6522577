package main

import (
	"fmt"
	"sync"
	"testing"

	"github.com/drvhazard/drvhazard/rules"
)

// TestSchedulerOrderAndBudget: results come back in item order whatever
// order the workers finish in, failures found while collecting keep their
// place, and the bytes of files started but not yet emitted, but the one
// whose turn it is, never pass the budget.
func TestSchedulerOrderAndBudget(t *testing.T) {
	sizes := []int64{10, 10, 40, 10, 0, 10, 25, 5, 5, 5, 30}
	const budget = 25
	items := make([]scanItem[*rules.Result], len(sizes))
	for i, n := range sizes {
		items[i] = scanItem[*rules.Result]{file: file{path: fmt.Sprintf("f%02d", i), size: n}}
	}
	items[4].started, items[4].done, items[4].value = true, true, &rules.Result{Path: items[4].path}
	s := newScheduler(items, budget)

	var mu sync.Mutex
	worst := int64(0)
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := s.take(); i >= 0; i = s.take() {
				s.mu.Lock()
				pending := s.pending
				if c := s.cursor; c < len(s.items) && s.items[c].started {
					pending -= s.items[c].size
				}
				s.mu.Unlock()
				mu.Lock()
				if pending > budget {
					worst = max(worst, pending)
				}
				mu.Unlock()
				s.finish(i, &rules.Result{Path: items[i].path})
			}
		}()
	}
	for i := range sizes {
		r, ok := s.next()
		if want := fmt.Sprintf("f%02d", i); !ok || r.Path != want {
			t.Fatalf("result %d is %v, want %s", i, r, want)
		}
	}
	if r, ok := s.next(); ok {
		t.Errorf("a result after the last: %v", r.Path)
	}
	wg.Wait()
	if worst != 0 {
		t.Errorf("%d bytes pending, over the budget of %d", worst, budget)
	}
}
