package lift

import (
	"golang.org/x/arch/x86/x86asm"
)

// Register indexes in x86 encoding order.
const (
	rRAX = iota
	rRCX
	rRDX
	rRBX
	rRSP
	rRBP
	rRSI
	rRDI
	rR8
	rR9
	rR10
	rR11
	nRegs = 16
)

// argRegs are the Microsoft x64 integer argument registers in order.
var argRegs = [4]int{rRCX, rRDX, rR8, rR9}

// regWidth returns the width in bits of a general-purpose register.
func regWidth(r x86asm.Reg) int {
	switch {
	case r >= x86asm.RAX && r <= x86asm.R15:
		return 64
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return 32
	case r >= x86asm.AX && r <= x86asm.R15W:
		return 16
	}
	return 8
}

// xmmIndex maps X0..X15 to 0..15, or -1.
func xmmIndex(r x86asm.Reg) int {
	if r >= x86asm.X0 && r <= x86asm.X15 {
		return int(r - x86asm.X0)
	}
	return -1
}

// volatileRegs are the general registers a call may change (the Windows
// x64 ABI's volatile ones; bit r for register r).
const volatileRegs = 1<<rRAX | 1<<rRCX | 1<<rRDX | 1<<rR8 | 1<<rR9 | 1<<rR10 | 1<<rR11
