//go:build !linux

package pgtest

import (
	"fmt"
	"syscall"
)

// canFreeze says whether Freeze works here: it needs Linux's /proc.
const canFreeze = false

// procAttr runs a server program as cred (nil: as this process).
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred}
}

// signalTree signals the postmaster alone: its children cannot be listed
// here.
func signalTree(pid int, sig syscall.Signal) error {
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal postgres %d: %w", pid, err)
	}
	return nil
}
