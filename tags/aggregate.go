package tags

import (
	"sort"
	"strings"
)

// LabelSummary is one label seen on a cluster's members.
type LabelSummary struct {
	Label         string   `json:"label"`
	Category      string   `json:"category,omitempty"`
	Sources       []string `json:"sources"`
	Tags          int      `json:"tags"`          // member tags with this label
	Confidence    int      `json:"confidence"`    // highest
	Authoritative bool     `json:"authoritative"` // any tag from the authority
	Program       string   `json:"program,omitempty"`
}

// Conflict is disagreement among sources about a cluster.
type Conflict struct {
	Kind   string   `json:"kind"`   // "category" or "label"
	Values []string `json:"values"` // the differing values, sorted
	// Sources lists "value: source" pairs, sorted.
	Sources []string `json:"sources"`
}

// ClusterAttribution is what a cluster's member tags say about it.
type ClusterAttribution struct {
	// Primary is the label that names the cluster: the strongest
	// authoritative label when there is one, else the label of highest
	// confidence (ties: more tags, then name order). Nil without tags.
	Primary    *LabelSummary  `json:"primary,omitempty"`
	Labels     []LabelSummary `json:"labels"`
	Categories []string       `json:"categories"`
	Conflicts  []Conflict     `json:"conflicts,omitempty"`
}

// Aggregate combines the tags of a cluster's members. An authoritative tag
// (OFAC) is never overridden by a weaker one: authoritative labels always
// rank first, whatever the confidence or number of other tags. Different
// categories or labels from different sources are listed as conflicts.
func Aggregate(ts []Tag) ClusterAttribution {
	type key struct{ label, cat string }
	byLabel := map[key]*LabelSummary{}
	srcSet := map[key]map[string]bool{}
	for i := range ts {
		t := &ts[i]
		k := key{strings.ToLower(strings.TrimSpace(t.Label)), t.Category}
		s, ok := byLabel[k]
		if !ok {
			s = &LabelSummary{Label: t.Label, Category: t.Category}
			byLabel[k] = s
			srcSet[k] = map[string]bool{}
		}
		s.Tags++
		if t.Confidence > s.Confidence {
			s.Confidence = t.Confidence
		}
		if t.Authoritative {
			s.Authoritative = true
		}
		if t.Program != "" && s.Program == "" {
			s.Program = t.Program
		}
		srcSet[k][t.Source] = true
	}
	var out ClusterAttribution
	for k, s := range byLabel {
		for src := range srcSet[k] {
			s.Sources = append(s.Sources, src)
		}
		sort.Strings(s.Sources)
		out.Labels = append(out.Labels, *s)
	}
	sort.Slice(out.Labels, func(i, j int) bool { return stronger(&out.Labels[i], &out.Labels[j]) })
	if len(out.Labels) > 0 {
		p := out.Labels[0]
		out.Primary = &p
	}

	// Categories, strongest first, and conflicts between sources.
	catSrc := map[string]map[string]bool{}
	labelSrc := map[string]map[string]bool{}
	labelName := map[string]string{}
	for i := range ts {
		t := &ts[i]
		if t.Category != "" {
			if catSrc[t.Category] == nil {
				catSrc[t.Category] = map[string]bool{}
			}
			catSrc[t.Category][t.Source] = true
		}
		l := strings.ToLower(strings.TrimSpace(t.Label))
		if labelSrc[l] == nil {
			labelSrc[l] = map[string]bool{}
			labelName[l] = t.Label
		}
		labelSrc[l][t.Source] = true
	}
	seen := map[string]bool{}
	for _, l := range out.Labels {
		if l.Category != "" && !seen[l.Category] {
			seen[l.Category] = true
			out.Categories = append(out.Categories, l.Category)
		}
	}
	if c := conflict("category", catSrc, nil); c != nil {
		out.Conflicts = append(out.Conflicts, *c)
	}
	if c := conflict("label", labelSrc, labelName); c != nil {
		out.Conflicts = append(out.Conflicts, *c)
	}
	// Never null in JSON: no tags, empty lists.
	if out.Labels == nil {
		out.Labels = []LabelSummary{}
	}
	if out.Categories == nil {
		out.Categories = []string{}
	}
	return out
}

// stronger orders labels: authoritative first, then confidence, then the
// number of tags, then the label.
func stronger(a, b *LabelSummary) bool {
	if a.Authoritative != b.Authoritative {
		return a.Authoritative
	}
	if a.Confidence != b.Confidence {
		return a.Confidence > b.Confidence
	}
	if a.Tags != b.Tags {
		return a.Tags > b.Tags
	}
	if a.Label != b.Label {
		return a.Label < b.Label
	}
	return a.Category < b.Category
}

// conflict reports values held by different sources; values that only one
// source gives in company of its own other values are not a conflict
// between sources.
func conflict(kind string, valSrc map[string]map[string]bool, names map[string]string) *Conflict {
	if len(valSrc) < 2 {
		return nil
	}
	all := map[string]bool{}
	for _, ss := range valSrc {
		for s := range ss {
			all[s] = true
		}
	}
	if len(all) < 2 {
		return nil
	}
	c := &Conflict{Kind: kind}
	for v, ss := range valSrc {
		name := v
		if names != nil {
			name = names[v]
		}
		c.Values = append(c.Values, name)
		for s := range ss {
			c.Sources = append(c.Sources, name+": "+s)
		}
	}
	sort.Strings(c.Values)
	sort.Strings(c.Sources)
	return c
}
