package harness

import "testing"

func TestProcReadsThisProcess(t *testing.T) {
	m, err := ReadMemory(0)
	if err != nil {
		t.Fatal(err)
	}
	if m.RSSMB <= 0 || m.PeakMB < m.RSSMB {
		t.Errorf("memory = %+v: want 0 < RSS ≤ peak", m)
	}
	buf := make([]byte, 0, 1<<20)
	for i := 0; i < 2_000_000; i++ { // burn a little CPU so the counter is non-zero
		buf = append(buf[:0], byte(i))
	}
	if cpu, err := ReadCPUSeconds(0); err != nil || cpu < 0 {
		t.Errorf("cpu = %v, %v", cpu, err)
	}
	if _, err := ReadMemory(-1); err == nil {
		t.Errorf("a process that does not exist read without error")
	}
}
