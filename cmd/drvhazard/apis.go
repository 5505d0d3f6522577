package main

import (
	"flag"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/drvhazard/drvhazard/rules"
)

const apisUsage = `Usage: drvhazard apis [--config FILE] [PATTERN]

Lists the kernel routines the rules know, one per line: the routine, its
module, the highest IRQL it may be called at, its hazard class (what the
rules do with it: 'drvhazard rules' and 'drvhazard explain'), and where that
comes from: your configuration (.drvhazard.yaml or --config), the built-in
table, Microsoft's DDI reference (the routine's page and its stated IRQL),
or a hand-kept override of a page that states no level. A class of "-" is a
routine the rules allow anywhere they look (DISPATCH_LEVEL or above).

PATTERN selects routines by name, ignoring case: a glob (Flt*Context) or a
part of the name (WaitFor).

Examples:
  drvhazard apis PsLookupProcessByProcessId
  drvhazard apis 'Flt*'
  drvhazard apis --config .drvhazard.yaml GetProcessKey
`

func runAPIs(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("apis", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configPath := fs.String("config", "", "configuration file")
	operands, err := parseInterspersed(fs, args)
	if err == flag.ErrHelp {
		fmt.Fprint(stdout, apisUsage)
		return exitOK
	}
	if err != nil || len(operands) > 1 {
		msg := "one PATTERN at most"
		if err != nil {
			msg = err.Error()
		}
		fmt.Fprintf(stderr, "drvhazard apis: %s\n\n%s", msg, apisUsage)
		return exitError
	}
	opt, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "drvhazard apis: %v\n", err)
		return exitError
	}
	cat := opt.Catalogue
	if cat == nil {
		cat = rules.NewCatalogue()
	}
	match := func(string) bool { return true }
	if len(operands) == 1 {
		p := strings.ToLower(operands[0])
		if _, err := path.Match(p, ""); err != nil {
			fmt.Fprintf(stderr, "drvhazard apis: bad pattern %q: %v\n", operands[0], err)
			return exitError
		}
		match = func(name string) bool {
			name = strings.ToLower(name)
			if strings.ContainsAny(p, "*?[") {
				ok, _ := path.Match(p, name)
				return ok
			}
			return strings.Contains(name, p)
		}
	}
	list := cat.APIs(match)
	if len(list) == 0 {
		fmt.Fprintf(stderr, "drvhazard apis: no routine matches %q\n", operands[0])
		return exitError
	}
	for _, a := range list {
		class := string(a.Class)
		if class == "" {
			class = "-"
		}
		mod := a.Module
		switch mod {
		case "":
			mod = "(any)"
		case "*":
			mod = "(kernel)"
		}
		fmt.Fprintf(stdout, "%-44s %-13s %-15s %-13s %s: %s\n", a.Name, mod, a.IRQL, class, a.Origin, a.Source)
	}
	return exitOK
}
