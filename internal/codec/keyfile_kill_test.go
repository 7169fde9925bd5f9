package codec

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
)

// The helper process of TestKeyFileSurvivesAKillAtEveryStep: it creates or rotates the key file
// named by the environment and, at the hook point named there, says so and waits to be killed.
func TestKeyFileHelperProcess(t *testing.T) {
	path, op, stopAt := os.Getenv("CODEC_KILL_HELPER_FILE"), os.Getenv("CODEC_KILL_HELPER_OP"), os.Getenv("CODEC_KILL_HELPER_AT")
	if path == "" {
		return // not a helper: nothing to do
	}
	keyFileHook = func(point string) {
		if point == stopAt {
			fmt.Printf("at %s\n", point)
			select {} // killed here
		}
	}
	var err error
	switch op {
	case "create":
		_, err = EnsureKeyFile(path, "k1")
	case "rotate":
		err = RotateKeyFile(path, "k2")
	}
	fmt.Printf("done %v\n", err)
}

// TestKeyFileSurvivesAKillAtEveryStep kills a process creating or rotating the key file at every
// point where it could crash (SIGKILL: no deferred clean-up runs). Afterwards the key file is
// absent or whole after a creation, and after a rotation it still holds the old key (with or
// without the new one): the only key is never lost, and the next start or rotation works.
func TestKeyFileSurvivesAKillAtEveryStep(t *testing.T) {
	run := func(t *testing.T, path, op, at string) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestKeyFileHelperProcess$")
		cmd.Env = append(os.Environ(), "CODEC_KILL_HELPER_FILE="+path, "CODEC_KILL_HELPER_OP="+op, "CODEC_KILL_HELPER_AT="+at)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if strings.TrimSpace(line) != "at "+at {
			_ = cmd.Wait()
			t.Fatalf("%s: the helper never reached %s: %q", op, at, line)
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
	}

	for _, at := range []string{"write:before-sync", "create:before-link", "create:before-dir-sync"} {
		t.Run("create/"+at, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys", "codec.keys")
			run(t, path, "create", at)
			if _, err := os.Stat(path); err == nil {
				if _, err := ReadKeyFile(path); err != nil {
					t.Fatalf("a killed creation left a key file that does not read: %v", err)
				}
			}
			created, err := EnsureKeyFile(path, "k1")
			if err != nil {
				t.Fatalf("the next start after a killed creation: %v", err)
			}
			if want := at == "write:before-sync" || at == "create:before-link"; created != want {
				t.Fatalf("the next start created=%v, want %v (killed at %s)", created, want, at)
			}
			if _, err := ReadKeyFile(path); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, at := range []string{"write:before-sync", "rotate:before-rename", "rotate:before-dir-sync"} {
		t.Run("rotate/"+at, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "codec.keys")
			if _, err := EnsureKeyFile(path, "k1"); err != nil {
				t.Fatal(err)
			}
			before, err := ReadKeyFile(path)
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := New(before).Encode([]*commonpb.Payload{{Data: []byte("bill under k1")}})
			if err != nil {
				t.Fatal(err)
			}
			run(t, path, "rotate", at)
			after, err := ReadKeyFile(path)
			if err != nil {
				t.Fatalf("a killed rotation left the key file unreadable: %v", err)
			}
			if out, err := New(after).Decode(sealed); err != nil || string(out[0].Data) != "bill under k1" {
				t.Fatalf("a killed rotation lost the old key (keys %v): %v", after.IDs(), err)
			}
			want := "k1"
			if at == "rotate:before-dir-sync" {
				want = "k2,k1"
			}
			if got := strings.Join(after.IDs(), ","); got != want {
				t.Fatalf("keys after a kill at %s: %s, want %s", at, got, want)
			}
			if want == "k1" {
				if err := RotateKeyFile(path, "k2"); err != nil {
					t.Fatalf("rotating again after the kill: %v", err)
				}
			}
		})
	}
}
