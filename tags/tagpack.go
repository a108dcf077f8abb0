package tags

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// GraphSense TagPacks: a YAML header whose fields every tag inherits unless
// it sets them itself, and a list of tags. ActorPacks list actors that tags
// name by id in their actor field.

func parseTagPack(r io.Reader, opts Options) (*Result, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.name(), err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(opts.name(), err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &ParseError{File: opts.name(), Line: doc.Line, Msg: "TagPack: top level is not a mapping"}
	}
	top := doc.Content[0]
	header := map[string]string{}
	var tagsNode, actorsNode *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "tags":
			tagsNode = v
		case "actors":
			actorsNode = v
		default:
			if v.Kind == yaml.ScalarNode {
				header[k.Value] = v.Value
			}
		}
	}
	res := &Result{}
	if actorsNode != nil {
		if err := parseActors(actorsNode, res, opts); err != nil {
			return nil, err
		}
	}
	if tagsNode == nil {
		if actorsNode == nil {
			return nil, &ParseError{File: opts.name(), Line: top.Line, Msg: "TagPack: no tags or actors list"}
		}
		return res, nil
	}
	if tagsNode.Kind != yaml.SequenceNode {
		if tagsNode.Kind == yaml.ScalarNode && tagsNode.Tag == "!!null" {
			return res, nil
		}
		return nil, &ParseError{File: opts.name(), Line: tagsNode.Line, Elem: "tags", Msg: "TagPack: tags is not a list"}
	}
	for _, n := range tagsNode.Content {
		if n.Kind != yaml.MappingNode {
			return nil, &ParseError{File: opts.name(), Line: n.Line, Elem: "tags", Msg: "TagPack: tag is not a mapping"}
		}
		f := map[string]string{}
		for k, v := range header {
			f[k] = v
		}
		address, txHash := "", ""
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				continue
			}
			switch k.Value {
			case "address":
				address = v.Value
			case "tx_hash":
				txHash = v.Value
			default:
				f[k.Value] = v.Value
			}
		}
		where := fmt.Sprintf("line %d", n.Line)
		if address == "" {
			reason := "tag without address"
			if txHash != "" {
				reason = "transaction tag (tx_hash " + trunc(txHash, 70) + "): only address tags are imported"
			}
			res.Rejected = append(res.Rejected, Rejected{Currency: NormalizeCurrency(f["currency"]), Where: where, Reason: reason})
			continue
		}
		t := Tag{
			Address:     address,
			Currency:    f["currency"],
			Label:       f["label"],
			Source:      f["source"],
			Actor:       f["actor"],
			Date:        normDate(f["lastmod"]),
			Description: f["description"],
			Category:    tagpackCategory(f["abuse"], f["category"]),
		}
		if t.Currency == "" {
			res.Rejected = append(res.Rejected, Rejected{Address: address, Where: where, Reason: "no currency in tag or header"})
			continue
		}
		if t.Label == "" {
			t.Label = t.Actor
		}
		if t.Label == "" {
			t.Label = f["title"]
		}
		if t.Source == "" {
			t.Source = f["creator"]
		}
		if t.Source == "" {
			t.Source = f["title"]
		}
		if strings.HasPrefix(t.Source, "http://") || strings.HasPrefix(t.Source, "https://") {
			t.SourceURL = t.Source
		}
		t.Source = userSource(opts.name(), t.Source)
		if c := f["confidence"]; c != "" {
			v, err := ParseConfidence(c)
			if err != nil {
				return nil, &ParseError{File: opts.name(), Line: n.Line, Elem: "confidence", Msg: "TagPack: " + err.Error()}
			}
			t.Confidence = v
		} else {
			t.Confidence = confidenceLevels["unknown"]
		}
		res.add(t, where, &opts)
	}
	return res, nil
}

func parseActors(n *yaml.Node, res *Result, opts Options) error {
	if n.Kind != yaml.SequenceNode {
		return &ParseError{File: opts.name(), Line: n.Line, Elem: "actors", Msg: "ActorPack: actors is not a list"}
	}
	for _, a := range n.Content {
		var act struct {
			ID            string   `yaml:"id"`
			Label         string   `yaml:"label"`
			Categories    []string `yaml:"categories"`
			Jurisdictions []string `yaml:"jurisdictions"`
			URI           string   `yaml:"uri"`
		}
		if err := a.Decode(&act); err != nil {
			return &ParseError{File: opts.name(), Line: a.Line, Elem: "actors", Msg: "ActorPack: " + yamlMsg(err)}
		}
		if act.ID == "" {
			return &ParseError{File: opts.name(), Line: a.Line, Elem: "actors", Msg: "ActorPack: actor without id"}
		}
		res.Actors = append(res.Actors, Actor{ID: act.ID, Label: act.Label, Categories: act.Categories, Jurisdictions: act.Jurisdictions, URI: act.URI})
	}
	return nil
}

// tagpackCategory maps GraphSense's abuse (preferred) or entity category to
// the project's categories; unknown words pass through.
func tagpackCategory(abuse, category string) string {
	m := map[string]string{
		"ransomware":     CategoryRansomware,
		"sanction":       CategorySanctions,
		"sanctions":      CategorySanctions,
		"service_hack":   CategoryTheft,
		"hack":           CategoryTheft,
		"theft":          CategoryTheft,
		"phishing":       CategoryScam,
		"scam":           CategoryScam,
		"ponzi_scheme":   CategoryScam,
		"terrorism":      CategoryTerrorism,
		"mixing_service": CategoryMixer,
		"coinjoin":       CategoryMixer,
		"exchange":       CategoryExchange,
		"market":         CategoryDarknet,
		"miner":          CategoryMiner,
	}
	for _, w := range []string{abuse, category} {
		w = strings.ToLower(strings.TrimSpace(w))
		if w == "" {
			continue
		}
		if c, ok := m[w]; ok {
			return c
		}
		return w
	}
	return ""
}

func normDate(s string) string {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02", time.RFC3339, "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format("2006-01-02")
		}
	}
	return s
}

func yamlMsg(err error) string {
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

var lineNum = regexp.MustCompile(`line (\d+)`)

func yamlError(name string, err error) error {
	var te *yaml.TypeError
	msg := yamlMsg(err)
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	line := 0
	if m := lineNum.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	return &ParseError{File: name, Line: line, Msg: "YAML: " + msg}
}
