package config

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf16"
)

// LoadBaseline reads the fingerprints of an earlier run's findings and of
// their traces from its JSON output (files[].findings[].fingerprint and
// .traces[].fingerprint) or its SARIF log (runs[].results[]
// .partialFingerprints["drvhazard/v1"] and ["drvhazard/traces/v1"], as
// report.FingerprintKey and report.TracesFingerprintKey name them). A
// finding then counts unless the baseline holds every trace's fingerprint
// (rules.Options.Baseline).
func LoadBaseline(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 512<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var doc struct {
		Files []struct {
			Findings []struct {
				Fingerprint string `json:"fingerprint"`
				Traces      []struct {
					Fingerprint string `json:"fingerprint"`
				} `json:"traces"`
			} `json:"findings"`
		} `json:"files"`
		Runs []struct {
			Results []struct {
				PartialFingerprints map[string]string `json:"partialFingerprints"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(windowsText(data), &doc); err != nil {
		return nil, fmt.Errorf("%s: not a drvhazard JSON or SARIF file: %v", path, err)
	}
	if doc.Files == nil && doc.Runs == nil {
		return nil, fmt.Errorf("%s: not a drvhazard JSON or SARIF file (no \"files\" or \"runs\")", path)
	}
	fps := map[string]bool{}
	for _, file := range doc.Files {
		for _, fd := range file.Findings {
			if fd.Fingerprint != "" {
				fps[fd.Fingerprint] = true
			}
			for _, t := range fd.Traces {
				if t.Fingerprint != "" {
					fps[t.Fingerprint] = true
				}
			}
		}
	}
	for _, run := range doc.Runs {
		for _, r := range run.Results {
			if fp := r.PartialFingerprints["drvhazard/v1"]; fp != "" {
				fps[fp] = true
			}
			for _, fp := range strings.Split(r.PartialFingerprints["drvhazard/traces/v1"], ",") {
				if fp != "" {
					fps[fp] = true
				}
			}
		}
	}
	return fps, nil
}

// windowsText is data as UTF-8 without a byte order mark. Windows
// PowerShell 5.1 writes what `drvhazard scan > baseline.json` prints as
// UTF-16LE with a byte order mark, and Notepad may add a UTF-8 one;
// encoding/json reads neither.
func windowsText(data []byte) []byte {
	var order binary.ByteOrder
	switch {
	case bytes.HasPrefix(data, []byte{0xef, 0xbb, 0xbf}):
		return data[3:]
	case bytes.HasPrefix(data, []byte{0xff, 0xfe}):
		order = binary.LittleEndian
	case bytes.HasPrefix(data, []byte{0xfe, 0xff}):
		order = binary.BigEndian
	default:
		return data
	}
	units := make([]uint16, 0, len(data)/2-1)
	for i := 2; i+1 < len(data); i += 2 {
		units = append(units, order.Uint16(data[i:]))
	}
	return []byte(string(utf16.Decode(units)))
}
