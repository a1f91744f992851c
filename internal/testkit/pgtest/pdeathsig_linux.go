package pgtest

import "syscall"

// setParentDeathSignal makes the kernel SIGKILL the child when the thread
// that started it exits. A killed postmaster's backends notice and exit.
func setParentDeathSignal(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGKILL
}
