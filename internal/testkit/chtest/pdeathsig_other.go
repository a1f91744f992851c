//go:build unix && !linux

package chtest

import "syscall"

// setParentDeathSignal does nothing where the OS has no parent-death signal.
func setParentDeathSignal(attr *syscall.SysProcAttr) {}
