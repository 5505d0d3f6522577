package main

import "golang.org/x/sys/windows"

// enableANSI asks the console behind fd to interpret ANSI escape sequences
// (ENABLE_VIRTUAL_TERMINAL_PROCESSING, Windows 10 1511 and later). A
// console that does not by default (conhost) would print colour codes as
// text; one that refuses stays without colour.
func enableANSI(fd int) bool {
	h := windows.Handle(fd)
	var mode uint32
	if err := windows.GetConsoleMode(h, &mode); err != nil {
		return false
	}
	if mode&windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING != 0 {
		return true
	}
	return windows.SetConsoleMode(h, mode|windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING) == nil
}
