//go:build !windows

package main

// enableANSI: terminals other than Windows consoles interpret ANSI escape
// sequences as they are.
func enableANSI(int) bool { return true }
