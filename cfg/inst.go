package cfg

import (
	"golang.org/x/arch/x86/x86asm"

	"github.com/drvhazard/drvhazard/loader"
)

// What an instruction says by itself, for the descent and for a value
// analysis (Values) alike: its operands' addresses, its kind, the code it
// points at.

// Inst is one decoded instruction at its RVA.
type Inst struct {
	x86asm.Inst
	RVA uint32
	// Probe is set on a call to a stack probe (mov eax,N ; call __chkstk ;
	// sub rsp,rax), which keeps every register but r10 and r11.
	Probe bool
	prev  uint32 // RVA of the instruction that falls through into this one, 0 if none
}

// Next is the RVA after the instruction.
func (in *Inst) Next() uint32 { return in.RVA + uint32(in.Len) }

// RelTarget returns the target of a rel8/rel32 branch or call.
func RelTarget(in *Inst) (uint32, bool) {
	if len(in.Args) == 0 {
		return 0, false
	}
	r, ok := in.Args[0].(x86asm.Rel)
	if !ok {
		return 0, false
	}
	return uint32(int64(in.Next()) + int64(r)), true
}

// RIPSlot returns the RVA of a [rip+disp] memory operand in Args[0] or,
// for two-operand instructions, Args[1].
func RIPSlot(in *Inst) (uint32, bool) {
	for _, arg := range in.Args[:2] {
		if m, ok := arg.(x86asm.Mem); ok && m.Base == x86asm.RIP && m.Index == 0 {
			return uint32(int64(in.Next()) + Disp(m)), true
		}
	}
	return 0, false
}

// Disp returns a memory operand's displacement sign-extended. In 64-bit mode
// every displacement is a signed 32-bit value, but x86asm stores some of them
// (rip-relative ones among them) zero-extended, which would send every
// backward reference 4 GiB away.
func Disp(m x86asm.Mem) int64 { return int64(int32(m.Disp)) }

// IsJcc reports a conditional branch (loops and jrcxz included).
func IsJcc(op x86asm.Op) bool {
	switch op {
	case x86asm.JA, x86asm.JAE, x86asm.JB, x86asm.JBE, x86asm.JE, x86asm.JNE, x86asm.JG, x86asm.JGE,
		x86asm.JL, x86asm.JLE, x86asm.JO, x86asm.JNO, x86asm.JP, x86asm.JNP, x86asm.JS, x86asm.JNS,
		x86asm.JRCXZ, x86asm.JECXZ, x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE:
		return true
	}
	return false
}

// WritesArg0 reports whether the instruction writes its first operand.
func WritesArg0(op x86asm.Op) bool {
	switch op {
	case x86asm.CMP, x86asm.TEST, x86asm.PUSH, x86asm.BT, x86asm.JMP, x86asm.CALL,
		x86asm.NOP, x86asm.PREFETCHW, x86asm.PREFETCHT0, x86asm.PREFETCHT1, x86asm.PREFETCHT2, x86asm.PREFETCHNTA,
		x86asm.UCOMISS, x86asm.UCOMISD, x86asm.COMISS, x86asm.COMISD:
		return false
	}
	return !IsJcc(op)
}

// isInt3 reports int3 (cc), which x86asm decodes as INT 3.
func isInt3(in *x86asm.Inst) bool { return in.Op == x86asm.INT && isImm(in.Args[0], 3) }

func isImm(a x86asm.Arg, v int64) bool {
	i, ok := a.(x86asm.Imm)
	return ok && int64(i) == v
}

// Code returns the file-backed bytes from rva to the end of the section
// that holds it, or nil when that section is not executable: every byte
// decoded comes from here, so an address computed from hostile input (a
// jump into data, a fragment in another section, past the raw data)
// decodes nothing instead of slicing the wrong section.
func Code(img *loader.Image, rva uint32) []byte {
	s := img.Section(rva)
	if s == nil || !s.Executable() {
		return nil
	}
	data := img.Data(s)
	off := rva - s.RVA
	if off >= uint32(len(data)) {
		return nil
	}
	return data[off:]
}

// ThunkImport returns the import when the code at rva is jmp [rip+IAT].
func ThunkImport(img *loader.Image, rva uint32) *loader.Import {
	code := Code(img, rva)
	if len(code) < 6 {
		return nil
	}
	in, err := x86asm.Decode(code, 64)
	if err != nil || in.Op != x86asm.JMP {
		return nil
	}
	slot, ok := RIPSlot(&Inst{Inst: in, RVA: rva})
	if !ok {
		return nil
	}
	imp, _ := img.ImportAt(slot)
	return imp
}

// IsJmpRax reports whether the code at rva is jmp rax
// (_guard_dispatch_icall_nop).
func IsJmpRax(img *loader.Image, rva uint32) bool {
	code := Code(img, rva)
	return len(code) >= 2 && code[0] == 0xff && code[1] == 0xe0
}

// RegIndex maps any width of a general-purpose register to its index, or -1.
func RegIndex(r x86asm.Reg) int {
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
