package kit

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory is what /proc/<pid>/status says about a process's resident memory, in MiB.
type Memory struct {
	RSSMB  float64 // VmRSS: resident now
	PeakMB float64 // VmHWM: the high-water mark of VmRSS
}

// ReadMemory reads /proc/<pid>/status (pid 0 = this process). Linux only.
func ReadMemory(pid int) (Memory, error) {
	raw, err := os.ReadFile(procPath(pid, "status"))
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	for _, line := range strings.Split(string(raw), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *float64
		switch name {
		case "VmRSS":
			dst = &m.RSSMB
		case "VmHWM":
			dst = &m.PeakMB
		default:
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
		if err != nil {
			return Memory{}, fmt.Errorf("%s: %s: %w", procPath(pid, "status"), name, err)
		}
		*dst = kb / 1024
	}
	return m, nil
}

// clockTicks is USER_HZ, 100 on every Linux the Go runtime supports.
const clockTicks = 100

// ReadCPUSeconds is the user+system CPU time a process has used (pid 0 = this process).
func ReadCPUSeconds(pid int) (float64, error) {
	raw, err := os.ReadFile(procPath(pid, "stat"))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces; fields after it start past the last ')'.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: unexpected format", procPath(pid, "stat"))
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("%s: too few fields", procPath(pid, "stat"))
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%s: bad utime/stime", procPath(pid, "stat"))
	}
	return (utime + stime) / clockTicks, nil
}

func procPath(pid int, file string) string {
	if pid == 0 {
		return "/proc/self/" + file
	}
	return "/proc/" + itoa(pid) + "/" + file
}
