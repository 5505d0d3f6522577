package config

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
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
	if err := json.Unmarshal(data, &doc); err != nil {
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
