package dumpcorr

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// Group is a set of crashes with one explanation: the finding they match
// best, or else their signature and bucket, so that a support engineer sees
// "37 crashes -> MF2001 in PreRead".
type Group struct {
	// Key is the explanation, e.g. "MF2001 PsLookupProcessByProcessId in
	// PreRead (mf_rdata.sys)", "paging-recursion, bucket 0x7f_8_foo!Bar"
	// or "bugcheck 0x50".
	Key string
	// Match is the best match of the group's first crash, nil when the
	// group is not a finding.
	Match *Match
	// Sources of the crashes, in the order given.
	Sources []string
}

// GroupCrashes groups correlations by their best match, else by signature
// and bucket, largest group first.
func GroupCrashes(cs []Correlation) []Group {
	index := map[string]int{}
	var groups []Group
	for i := range cs {
		c := &cs[i]
		key, m := groupKey(c)
		j, ok := index[key]
		if !ok {
			j = len(groups)
			index[key] = j
			groups = append(groups, Group{Key: key, Match: m})
		}
		groups[j].Sources = append(groups[j].Sources, c.Crash.Source)
	}
	sort.SliceStable(groups, func(i, j int) bool { return len(groups[i].Sources) > len(groups[j].Sources) })
	return groups
}

// GroupKey is the explanation a crash is grouped under (Group.Key); JSONL
// records carry it so that crashes correlated apart can be grouped later.
func GroupKey(c *Correlation) string {
	k, _ := groupKey(c)
	return k
}

func groupKey(c *Correlation) (string, *Match) {
	if len(c.Matches) > 0 {
		m := &c.Matches[0]
		f := m.Finding
		where := ""
		if f.Callback != nil {
			name := f.Callback.Name
			if name == "" {
				name = fmt.Sprintf("sub_%x", f.Callback.RVA)
			}
			where = " in " + name
		}
		return fmt.Sprintf("%s %s%s (%s)", f.Rule.ID, sinkName(f.Sink), where, filepath.Base(m.File)), m
	}
	var parts []string
	for _, s := range c.Signatures {
		parts = append(parts, s.Name)
	}
	switch {
	case c.Crash.BucketID != "":
		parts = append(parts, "bucket "+c.Crash.BucketID)
	case c.Crash.HasBugCheck:
		parts = append(parts, fmt.Sprintf("bugcheck %#x", c.Crash.BugCheck))
	}
	if m := c.Crash.Culprit(); m != "" && c.Crash.BucketID == "" {
		parts = append(parts, "in "+m)
	}
	if len(parts) == 0 {
		return "unrecognised", nil
	}
	return strings.Join(parts, ", "), nil
}
