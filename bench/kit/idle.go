package kit

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// The simulator's requests run under this pprof label, so a CPU profile of the bench process
// tells the cloud's share (the simulator answering polls and sockets) from Temporal's.
const (
	simLabelKey   = "rimflow-bench"
	simLabelValue = "cloudsim"
)

// simGauge sits in front of the simulator: it labels every request for the profiler and counts
// the long polls being held right now (the simulator counts open sockets itself).
type simGauge struct {
	next     http.Handler
	pollPath string
	held     atomic.Int64
}

func newSimGauge(next http.Handler, pollPath string) *simGauge {
	return &simGauge{next: next, pollPath: pollPath}
}

func (g *simGauge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == g.pollPath {
		g.held.Add(1)
		defer g.held.Add(-1)
	}
	pprof.Do(r.Context(), pprof.Labels(simLabelKey, simLabelValue), func(context.Context) {
		g.next.ServeHTTP(w, r)
	})
}

// PollsHeld is the number of long polls the simulator is holding now (watchers past their
// socket's silence wait on a poll instead).
func (e *Env) PollsHeld() int { return int(e.gauge.held.Load()) }

// IdleCPU is the CPU a quiet stretch cost, in cores (CPU seconds per wall second).
type IdleCPU struct {
	Seconds float64 `json:"seconds"`
	// ServerCores is the bench process less the simulator: Temporal (frontend, history, matching,
	// SQLite) and the idle ERP clients.
	ServerCores float64 `json:"serverCores"`
	// SimulatorCores is the simulator's share of the bench process (the cloud's side of sockets and
	// polls), from a CPU profile of the window; ProfileSamples is how many samples that rests on.
	SimulatorCores float64 `json:"simulatorCores"`
	WorkerCores    float64 `json:"workerCores"`
	ProfileSamples int     `json:"profileSamples"`
	// Polls and Handshakes are the simulator's counts over the window (long polls answered or
	// started; socket keep-alive frames).
	Polls      int `json:"polls"`
	Handshakes int `json:"handshakes"`
}

// Cores is what rimflow's side spent: server plus worker, without the simulator.
func (c IdleCPU) Cores() float64 { return c.ServerCores + c.WorkerCores }

// MeasureIdle measures the CPU of this process (split into simulator and the rest by a CPU
// profile) and of the worker processes over d. Nothing else should run meanwhile. A CPU profile
// already running in this process (-cpuprofile) leaves the split out (SimulatorCores 0).
func (e *Env) MeasureIdle(ctx context.Context, d time.Duration, workers ...*Worker) (IdleCPU, error) {
	var prof bytes.Buffer
	profiling := pprof.StartCPUProfile(&prof) == nil
	stats0 := e.Sim.Stats()
	self0, err := ReadCPUSeconds(0)
	if err != nil {
		return IdleCPU{}, err
	}
	w0 := make([]float64, len(workers))
	for i, w := range workers {
		if w0[i], err = w.CPUSeconds(); err != nil {
			return IdleCPU{}, err
		}
	}
	began := time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	took := time.Since(began).Seconds()
	self1, _ := ReadCPUSeconds(0)
	var worker float64
	for i, w := range workers {
		c, err := w.CPUSeconds()
		if err != nil {
			return IdleCPU{}, err
		}
		worker += c - w0[i]
	}
	stats1 := e.Sim.Stats()
	if profiling {
		pprof.StopCPUProfile()
	}
	if err := ctx.Err(); err != nil {
		return IdleCPU{}, err
	}
	out := IdleCPU{Seconds: took, WorkerCores: worker / took,
		Polls: stats1.Polls - stats0.Polls, Handshakes: stats1.Handshakes - stats0.Handshakes}
	self := (self1 - self0) / took
	out.ServerCores = self
	if profiling {
		simNs, allNs, samples, err := labelledCPU(prof.Bytes(), simLabelKey, simLabelValue)
		if err != nil {
			return out, fmt.Errorf("reading the window's CPU profile: %w", err)
		}
		out.ProfileSamples = samples
		if allNs > 0 {
			out.SimulatorCores = self * float64(simNs) / float64(allNs)
			out.ServerCores = self - out.SimulatorCores
		}
	}
	return out, nil
}

// labelledCPU reads a gzipped pprof CPU profile and returns the CPU nanoseconds of the samples
// labelled key=value, of all samples, and the number of samples. Only the few fields it needs of
// profile.proto are decoded: Profile{sample_type=1, sample=2, string_table=6},
// Sample{value=2, label=3}, Label{key=1, str=2}, ValueType{type=1}.
func labelledCPU(gz []byte, key, value string) (labelled, all int64, samples int, err error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return 0, 0, 0, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return 0, 0, 0, err
	}
	type sample struct {
		values []int64
		labels [][2]int64 // key, str indexes
	}
	var (
		types   []int64 // sample_type's type index, per value column
		strs    []string
		samps   []sample
		walkErr error
	)
	walk(raw, func(num protowire.Number, typ protowire.Type, b []byte) {
		switch num {
		case 1: // sample_type
			walk(b, func(n protowire.Number, t protowire.Type, v []byte) {
				if n == 1 {
					x, _ := protowire.ConsumeVarint(v)
					types = append(types, int64(x))
				}
			}, &walkErr)
		case 2: // sample
			var s sample
			walk(b, func(n protowire.Number, t protowire.Type, v []byte) {
				switch {
				case n == 2 && t == protowire.BytesType: // packed values
					for len(v) > 0 {
						x, m := protowire.ConsumeVarint(v)
						if m < 0 {
							walkErr = errors.New("bad packed value")
							return
						}
						s.values = append(s.values, int64(x))
						v = v[m:]
					}
				case n == 2 && t == protowire.VarintType:
					x, _ := protowire.ConsumeVarint(v)
					s.values = append(s.values, int64(x))
				case n == 3:
					var l [2]int64
					walk(v, func(ln protowire.Number, lt protowire.Type, lv []byte) {
						if lt != protowire.VarintType || (ln != 1 && ln != 2) {
							return
						}
						x, _ := protowire.ConsumeVarint(lv)
						l[ln-1] = int64(x)
					}, &walkErr)
					s.labels = append(s.labels, l)
				}
			}, &walkErr)
			samps = append(samps, s)
		case 6: // string_table
			strs = append(strs, string(b))
		}
	}, &walkErr)
	if walkErr != nil {
		return 0, 0, 0, walkErr
	}
	col, countCol := -1, -1
	for i, t := range types {
		if t >= 0 && int(t) < len(strs) {
			switch strs[t] {
			case "cpu":
				col = i
			case "samples":
				countCol = i
			}
		}
	}
	if col < 0 {
		return 0, 0, 0, errors.New("no cpu column in the profile")
	}
	str := func(i int64) string {
		if i < 0 || int(i) >= len(strs) {
			return ""
		}
		return strs[i]
	}
	for _, s := range samps {
		if col >= len(s.values) {
			continue
		}
		if countCol >= 0 && countCol < len(s.values) {
			samples += int(s.values[countCol]) // a record aggregates the samples of one stack
		}
		all += s.values[col]
		for _, l := range s.labels {
			if str(l[0]) == key && str(l[1]) == value {
				labelled += s.values[col]
				break
			}
		}
	}
	return labelled, all, samples, nil
}

// walk calls fn for every field of one protobuf message: b is the varint's bytes or the
// length-delimited payload. A malformed message sets *errp (when given) and stops.
func walk(msg []byte, fn func(protowire.Number, protowire.Type, []byte), errp ...*error) {
	fail := func() {
		if len(errp) > 0 && *errp[0] == nil {
			*errp[0] = errors.New("malformed profile")
		}
	}
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			fail()
			return
		}
		msg = msg[n:]
		var v []byte
		switch typ {
		case protowire.VarintType:
			_, m := protowire.ConsumeVarint(msg)
			if m < 0 {
				fail()
				return
			}
			v, msg = msg[:m], msg[m:]
		case protowire.BytesType:
			b, m := protowire.ConsumeBytes(msg)
			if m < 0 {
				fail()
				return
			}
			v, msg = b, msg[m:]
		default:
			m := protowire.ConsumeFieldValue(num, typ, msg)
			if m < 0 {
				fail()
				return
			}
			msg = msg[m:]
			continue
		}
		fn(num, typ, v)
	}
}
