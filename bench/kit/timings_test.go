package kit

import (
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]float64{50: 50, 95: 95, 99: 99, 100: 100, 0: 1} {
		if got := Percentile(ds, p); got != want {
			t.Errorf("p%v = %v ms, want %v", p, got, want)
		}
	}
	if got := Percentile(nil, 99); got != 0 {
		t.Errorf("empty p99 = %v", got)
	}
	var tm *Timings
	tm.Add("x", time.Second) // a nil collection records nothing and does not panic
	if s := tm.Summary("x"); s.Count != 0 {
		t.Errorf("nil summary = %+v", s)
	}
}
