package kit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/pprof"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/pprof/profile"

	"rimflow/devstack/harness"
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
func (e *Env) MeasureIdle(ctx context.Context, d time.Duration, workers ...*harness.Worker) (IdleCPU, error) {
	var prof bytes.Buffer
	profiling := pprof.StartCPUProfile(&prof) == nil
	stats0 := e.Sim.Stats()
	self0, err := harness.ReadCPUSeconds(0)
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
	self1, _ := harness.ReadCPUSeconds(0)
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

// labelledCPU reads a (gzipped) pprof CPU profile and returns the CPU nanoseconds of the samples
// labelled key=value, of all samples, and the number of samples.
func labelledCPU(data []byte, key, value string) (labelled, all int64, samples int, err error) {
	p, err := profile.ParseData(data)
	if err != nil {
		return 0, 0, 0, err
	}
	col, countCol := -1, -1
	for i, t := range p.SampleType {
		switch t.Type {
		case "cpu":
			col = i
		case "samples":
			countCol = i
		}
	}
	if col < 0 {
		return 0, 0, 0, errors.New("no cpu column in the profile")
	}
	for _, s := range p.Sample {
		if countCol >= 0 {
			samples += int(s.Value[countCol]) // a record aggregates the samples of one stack
		}
		all += s.Value[col]
		if slices.Contains(s.Label[key], value) {
			labelled += s.Value[col]
		}
	}
	return labelled, all, samples, nil
}
