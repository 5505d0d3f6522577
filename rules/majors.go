package rules

import "fmt"

// Major function codes (wdm.h IRP_MJ_*, fltKernel.h for the non-IRP codes).
const (
	mjCreate                 = 0x00
	mjRead                   = 0x03
	mjWrite                  = 0x04
	mjMaxIRP                 = 0x1b
	mjVolumeDismount         = 0xec // lowest non-IRP code
	mjReleaseForCcFlush      = 0xfa
	mjAcquireForModWrite     = 0xfd
	mjOperationEnd           = 0x80
	flagSkipPagingIO         = 0x1 // FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO
	contextEnd               = 0xffff
	operationRegistrationLen = 0x20
	contextRegistrationLen   = 0x38
)

var majorNames = map[uint8]string{
	0x00: "IRP_MJ_CREATE", 0x01: "IRP_MJ_CREATE_NAMED_PIPE", 0x02: "IRP_MJ_CLOSE", 0x03: "IRP_MJ_READ",
	0x04: "IRP_MJ_WRITE", 0x05: "IRP_MJ_QUERY_INFORMATION", 0x06: "IRP_MJ_SET_INFORMATION", 0x07: "IRP_MJ_QUERY_EA",
	0x08: "IRP_MJ_SET_EA", 0x09: "IRP_MJ_FLUSH_BUFFERS", 0x0a: "IRP_MJ_QUERY_VOLUME_INFORMATION",
	0x0b: "IRP_MJ_SET_VOLUME_INFORMATION", 0x0c: "IRP_MJ_DIRECTORY_CONTROL", 0x0d: "IRP_MJ_FILE_SYSTEM_CONTROL",
	0x0e: "IRP_MJ_DEVICE_CONTROL", 0x0f: "IRP_MJ_INTERNAL_DEVICE_CONTROL", 0x10: "IRP_MJ_SHUTDOWN",
	0x11: "IRP_MJ_LOCK_CONTROL", 0x12: "IRP_MJ_CLEANUP", 0x13: "IRP_MJ_CREATE_MAILSLOT", 0x14: "IRP_MJ_QUERY_SECURITY",
	0x15: "IRP_MJ_SET_SECURITY", 0x16: "IRP_MJ_POWER", 0x17: "IRP_MJ_SYSTEM_CONTROL", 0x18: "IRP_MJ_DEVICE_CHANGE",
	0x19: "IRP_MJ_QUERY_QUOTA", 0x1a: "IRP_MJ_SET_QUOTA", 0x1b: "IRP_MJ_PNP",
	0xff: "IRP_MJ_ACQUIRE_FOR_SECTION_SYNCHRONIZATION", 0xfe: "IRP_MJ_RELEASE_FOR_SECTION_SYNCHRONIZATION",
	0xfd: "IRP_MJ_ACQUIRE_FOR_MOD_WRITE", 0xfc: "IRP_MJ_RELEASE_FOR_MOD_WRITE", 0xfb: "IRP_MJ_ACQUIRE_FOR_CC_FLUSH",
	0xfa: "IRP_MJ_RELEASE_FOR_CC_FLUSH", 0xf9: "IRP_MJ_QUERY_OPEN", 0xf3: "IRP_MJ_FAST_IO_CHECK_IF_POSSIBLE",
	0xf2: "IRP_MJ_NETWORK_QUERY_OPEN", 0xf1: "IRP_MJ_MDL_READ", 0xf0: "IRP_MJ_MDL_READ_COMPLETE",
	0xef: "IRP_MJ_PREPARE_MDL_WRITE", 0xee: "IRP_MJ_MDL_WRITE_COMPLETE", 0xed: "IRP_MJ_VOLUME_MOUNT",
	0xec: "IRP_MJ_VOLUME_DISMOUNT",
}

// MajorName names a major function code; unknown codes print in hex.
func MajorName(m uint8) string {
	if n, ok := majorNames[m]; ok {
		return n
	}
	return fmt.Sprintf("IRP_MJ_%#02x", m)
}

func validMajor(m uint8) bool {
	_, ok := majorNames[m]
	return ok
}

// carriesPagingIO reports whether IRP-based operations with this major can
// be paging I/O: only reads and writes are.
func carriesPagingIO(m uint8) bool { return m == mjRead || m == mjWrite }

// onMmCcPath reports the FsFilter callbacks the memory and cache managers
// issue while they hold file-system resources (0xFD..0xFA), for which
// SKIP_PAGING_IO does not apply.
func onMmCcPath(m uint8) bool { return m >= mjReleaseForCcFlush && m <= mjAcquireForModWrite }
