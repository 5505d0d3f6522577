package cfg

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

// regIndex maps any width of a general-purpose register to its index, or -1.
func regIndex(r x86asm.Reg) int {
	switch {
	case r >= x86asm.RAX && r <= x86asm.R15:
		return int(r - x86asm.RAX)
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return int(r - x86asm.EAX)
	case r >= x86asm.AX && r <= x86asm.R15W:
		return int(r - x86asm.AX)
	case r >= x86asm.AL && r <= x86asm.BL:
		return int(r - x86asm.AL)
	case r >= x86asm.AH && r <= x86asm.BH:
		return int(r - x86asm.AH)
	case r >= x86asm.SPB && r <= x86asm.R15B:
		return int(r-x86asm.SPB) + 4
	}
	return -1
}

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

// writesArg0 reports whether the instruction writes its first operand.
func writesArg0(op x86asm.Op) bool {
	switch op {
	case x86asm.CMP, x86asm.TEST, x86asm.PUSH, x86asm.BT, x86asm.JMP, x86asm.CALL,
		x86asm.NOP, x86asm.PREFETCHW, x86asm.PREFETCHT0, x86asm.PREFETCHT1, x86asm.PREFETCHT2, x86asm.PREFETCHNTA,
		x86asm.UCOMISS, x86asm.UCOMISD, x86asm.COMISS, x86asm.COMISD:
		return false
	}
	return !isJcc(op)
}

// volatileRegs are the general registers a call may change (the Windows
// x64 ABI's volatile ones; bit r for register r).
const volatileRegs = 1<<rRAX | 1<<rRCX | 1<<rRDX | 1<<rR8 | 1<<rR9 | 1<<rR10 | 1<<rR11

// disp returns a memory operand's displacement sign-extended. In 64-bit mode
// every displacement is a signed 32-bit value, but x86asm stores some of them
// (rip-relative ones among them) zero-extended, which would send every
// backward reference 4 GiB away.
func disp(m x86asm.Mem) int64 { return int64(int32(m.Disp)) }
