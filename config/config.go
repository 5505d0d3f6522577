// Package config reads .drvhazard.yaml, the per-project configuration of a
// scan: the user's own routines for the API catalogue (wrappers around
// pageable or PASSIVE-only kernel routines) and per-rule settings. Unknown
// keys are errors, so a typo is never silently ignored.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/drvhazard/drvhazard/rules"
)

// DefaultFile is read from the current directory when no --config is given.
const DefaultFile = ".drvhazard.yaml"

// goTypeSuffix matches the Go type yaml.v3 names in its errors.
var goTypeSuffix = regexp.MustCompile(` in type [\w.\[\]*]+`)

// maxFileSize bounds a configuration file.
const maxFileSize = 1 << 20

// File is the document.
type File struct {
	// APIs adds routines to the catalogue.
	APIs []APIEntry `yaml:"apis"`
	// Rules tunes rules by id: {MF4001: {severity: error}, KD5002: {enabled: false}}.
	Rules map[string]RuleSetting `yaml:"rules"`
	// StackBudget is MF4001's budget in bytes.
	StackBudget uint32 `yaml:"stack_budget"`
	// Suppressions accept reviewed findings, each with a reason.
	Suppressions []SuppressionEntry `yaml:"suppressions"`
}

// SuppressionEntry accepts findings by fingerprint or by function.
type SuppressionEntry struct {
	Rule        string `yaml:"rule"`
	Fingerprint string `yaml:"fingerprint"`
	Function    string `yaml:"function"`
	Reason      string `yaml:"reason"`
}

// APIEntry is one routine of the user's.
type APIEntry struct {
	Name   string `yaml:"name"`
	Module string `yaml:"module"` // omitted: a function of the driver itself, by symbol name
	Class  string `yaml:"class"`
	IRQL   string `yaml:"irql"` // passive, apc or dispatch: the highest IRQL it may be called at
	Source string `yaml:"source"`
	// A pool allocator (class pool-alloc): which argument (0 = the first)
	// holds the POOL_TYPE, or POOL_FLAG_* flags when PoolFlags is set, and
	// which the tag (omitted: none).
	TypeArg   *int `yaml:"type_arg"`
	TagArg    *int `yaml:"tag_arg"`
	PoolFlags bool `yaml:"pool_flags"`
}

// RuleSetting tunes one rule.
type RuleSetting struct {
	Enabled  *bool  `yaml:"enabled"`
	Severity string `yaml:"severity"`
}

// Example is a complete configuration, for help text and tests.
const Example = `# .drvhazard.yaml
apis:
  - name: GetProcessKey          # a routine of the driver itself (by symbol name) ...
    class: pageable              # pageable | passive-only | name-query | posting | reentrant-io | pool-alloc
    irql: apc                    # passive | apc | dispatch: the highest IRQL it may be called at
    source: "wraps PsLookupProcessByProcessId"
  - name: LibReadConfig          # ... or an import, optionally of one module
    module: mylib.sys
    class: reentrant-io
    irql: passive
  - name: AllocTracked           # a pool allocator: where its pool type and tag are
    class: pool-alloc
    irql: dispatch
    type_arg: 0                  # POOL_TYPE (pool_flags: true for POOL_FLAG_* flags)
    tag_arg: 2
rules:
  MF4001: {severity: error}      # raise or lower a rule's severity
  KD5002: {enabled: false}       # or turn it off
stack_budget: 8192               # MF4001's budget in bytes (default 4096)
suppressions:                    # accepted findings stay in JSON/SARIF, marked, and do not fail the build
  - fingerprint: 3bca990f0c53ea208a6e7d8c9e352bbf
    reason: "paging reads of this volume never reach the lookup (ticket 123)"
  - function: LegacyAuditPath    # every finding whose path goes through this function ...
    rule: MF2003                 # ... of this rule only
    reason: "removed in 2.0"
`

// Load reads a configuration file. A missing file at the default path is
// not an error (ok false); any other problem is, naming the file.
func Load(path string, explicit bool) (rules.Options, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return rules.Options{}, false, nil
		}
		return rules.Options{}, false, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return rules.Options{}, false, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return rules.Options{}, false, fmt.Errorf("%s: larger than %d bytes", path, maxFileSize)
	}
	opt, err := Parse(data)
	if err != nil {
		return rules.Options{}, false, fmt.Errorf("%s: %w", path, err)
	}
	return opt, true, nil
}

// Parse turns a configuration document into analysis options.
func Parse(data []byte) (rules.Options, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		// "line 3: field enabld not found in type config.RuleSetting": the
		// Go type means nothing to the user.
		msg := goTypeSuffix.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")
		return rules.Options{}, errors.New(msg)
	}
	var opt rules.Options
	var extra []rules.API
	for i, a := range f.APIs {
		api, err := a.api()
		if err != nil {
			return rules.Options{}, fmt.Errorf("apis[%d] (%s): %w", i, a.Name, err)
		}
		extra = append(extra, api)
	}
	opt.Catalogue = rules.NewCatalogue(extra...)
	opt.Budget = f.StackBudget
	for i, e := range f.Suppressions {
		if e.Reason == "" {
			return rules.Options{}, fmt.Errorf("suppressions[%d]: reason is required", i)
		}
		if e.Fingerprint == "" && e.Function == "" {
			return rules.Options{}, fmt.Errorf("suppressions[%d]: give a fingerprint or a function", i)
		}
		if e.Rule != "" && rules.ByID(e.Rule) == nil {
			return rules.Options{}, fmt.Errorf("suppressions[%d]: unknown rule %q", i, e.Rule)
		}
		opt.Suppress = append(opt.Suppress, rules.Suppress{Rule: e.Rule, Fingerprint: e.Fingerprint, Function: e.Function, Reason: e.Reason})
	}

	ids := make([]string, 0, len(f.Rules))
	for id := range f.Rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	overrides := map[string]RuleSetting{}
	for _, id := range ids {
		r := rules.ByID(id)
		if r == nil {
			return rules.Options{}, fmt.Errorf("rules: unknown rule %q ('drvhazard rules' lists them)", id)
		}
		overrides[r.ID] = f.Rules[id]
	}
	for _, r := range rules.All() {
		s, ok := overrides[r.ID]
		if !ok {
			opt.Rules = append(opt.Rules, r)
			continue
		}
		if s.Enabled != nil && !*s.Enabled {
			continue
		}
		if s.Severity != "" {
			sev, err := rules.ParseSeverity(s.Severity)
			if err != nil {
				return rules.Options{}, fmt.Errorf("rules: %s: %w", r.ID, err)
			}
			c := *r
			c.Severity = sev
			opt.Rules = append(opt.Rules, &c)
			continue
		}
		opt.Rules = append(opt.Rules, r)
	}
	return opt, nil
}

var irqls = map[string]rules.IRQL{"passive": rules.Passive, "apc": rules.APC, "dispatch": rules.Dispatch}

func (a APIEntry) api() (rules.API, error) {
	if a.Name == "" {
		return rules.API{}, errors.New("name is required")
	}
	var class rules.Class
	var names []string
	for _, c := range rules.Classes {
		names = append(names, string(c))
		if string(c) == a.Class {
			class = c
		}
	}
	if class == "" {
		return rules.API{}, fmt.Errorf("class %q is not one of: %s", a.Class, strings.Join(names, ", "))
	}
	irql, ok := irqls[a.IRQL]
	if !ok {
		return rules.API{}, fmt.Errorf("irql %q is not one of: passive, apc, dispatch", a.IRQL)
	}
	src := a.Source
	if src == "" {
		src = "the project's .drvhazard.yaml"
	}
	api := rules.API{Module: strings.ToLower(a.Module), Name: a.Name, Class: class, IRQL: irql, Source: src}
	switch {
	case class != rules.ClassPoolAlloc && (a.TypeArg != nil || a.TagArg != nil || a.PoolFlags):
		return rules.API{}, errors.New("type_arg, tag_arg and pool_flags are for class pool-alloc")
	case class != rules.ClassPoolAlloc:
	case a.TypeArg == nil:
		return rules.API{}, errors.New("class pool-alloc needs type_arg: the argument (0 = the first) holding the pool type")
	case *a.TypeArg < 0 || *a.TypeArg > 15 || a.TagArg != nil && (*a.TagArg < 0 || *a.TagArg > 15):
		return rules.API{}, errors.New("type_arg and tag_arg are argument positions, 0 to 15")
	default:
		api.TypeArg, api.TagArg, api.Flags = *a.TypeArg, -1, a.PoolFlags
		if a.TagArg != nil {
			api.TagArg = *a.TagArg
		}
	}
	return api, nil
}
