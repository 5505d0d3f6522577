package rules

import (
	"strings"

	"github.com/drvhazard/drvhazard/loader"
)

// Kind is the kind of driver, judged from the frameworks it imports.
type Kind string

// Driver kinds. A driver can be several; the most specific wins, in this order.
const (
	KindMinifilter Kind = "minifilter" // calls FLTMGR.SYS!FltRegisterFilter
	KindKMDF       Kind = "kmdf"       // binds to WDF (WDFLDR.SYS)
	KindNDIS       Kind = "ndis"       // imports NDIS.SYS
	KindWFP        Kind = "wfp"        // imports fwpkclnt.sys (Windows Filtering Platform callouts)
	KindWDM        Kind = "wdm"        // a plain kernel driver
	KindNative     Kind = "native"     // not linked as a driver (subsystem is not native)
)

// subsystemNative is IMAGE_SUBSYSTEM_NATIVE.
const subsystemNative = 1

// DriverKind classifies img by its imports.
func DriverKind(img *loader.Image) Kind {
	mods := map[string]bool{}
	minifilter := false
	for i := range img.Imports {
		imp := &img.Imports[i]
		m := strings.ToLower(imp.Module)
		mods[m] = true
		if m == "fltmgr.sys" && imp.Name == "FltRegisterFilter" {
			minifilter = true
		}
	}
	switch {
	case minifilter:
		return KindMinifilter
	case mods["wdfldr.sys"]:
		return KindKMDF
	case mods["ndis.sys"]:
		return KindNDIS
	case mods["fwpkclnt.sys"]:
		return KindWFP
	case img.Subsystem != subsystemNative:
		return KindNative
	}
	return KindWDM
}
