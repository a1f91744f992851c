package pgtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHelperOrphanedServer is run as a child process by
// TestServerDiesWithItsProcess: it starts a server, prints its pid and
// directory, and waits to be killed.
func TestHelperOrphanedServer(t *testing.T) {
	if os.Getenv("PGTEST_HELPER_ORPHAN") != "1" {
		t.Skip("helper process only")
	}
	s, err := Start(context.Background(), Options{})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Printf("SERVER %d %s\n", s.Pid(), s.Dir())
	time.Sleep(time.Minute)
	s.Stop()
}

func TestServerDiesWithItsProcess(t *testing.T) {
	RequireAvailable(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperOrphanedServer$", "-test.v")
	cmd.Env = append(os.Environ(), "PGTEST_HELPER_ORPHAN=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	var dir string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "ERROR") {
			t.Fatal(line)
		}
		if _, err := fmt.Sscanf(line, "SERVER %d %s", &pid, &dir); err == nil {
			break
		}
	}
	if pid == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("helper did not report a server")
	}
	defer os.RemoveAll(dir)
	// Kill the helper as a timeout or crash would: no Stop runs.
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for {
		// The orphans are reparented to init, which may reap them late;
		// zombies count as gone.
		if live := liveGroupMembers(pid); len(live) == 0 {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(-pid, syscall.SIGKILL)
			t.Fatalf("postgres (pid %d) outlived the process that started it: live %v", pid, liveGroupMembers(pid))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// liveGroupMembers returns the pids of processes in process group pgid that
// are not zombies, from /proc.
func liveGroupMembers(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var live []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces.
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			live = append(live, pid)
		}
	}
	return live
}
