package config

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// LoadBaseline reads the fingerprints of an earlier run's findings from its
// JSON output (files[].findings[].fingerprint) or its SARIF log
// (runs[].results[].partialFingerprints["drvhazard/v1"]). Only findings
// not in the baseline then count.
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
		}
	}
	for _, run := range doc.Runs {
		for _, r := range run.Results {
			if fp := r.PartialFingerprints["drvhazard/v1"]; fp != "" {
				fps[fp] = true
			}
		}
	}
	return fps, nil
}
