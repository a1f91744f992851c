package chtest

import "syscall"

// setParentDeathSignal makes the kernel SIGKILL the child when the thread
// that started it exits. ClickHouse is one process, so nothing is left behind.
func setParentDeathSignal(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGKILL
}
