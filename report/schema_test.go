package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/state"
)

// schemaLoader resolves the absolute schema URLs of the STIX schemas and
// their extensions to the staged copies (formats/README.md, point 1).
type schemaLoader struct{ formats string }

func (l schemaLoader) Load(url string) (any, error) {
	var p string
	for _, pre := range []string{
		"http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/",
		"https://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/",
		"https://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/master/schemas/",
		"http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/master/schemas/",
	} {
		if rest, ok := strings.CutPrefix(url, pre); ok {
			p = filepath.Join(l.formats, "stix2.1", "schemas", filepath.FromSlash(rest))
		}
	}
	if rest, ok := strings.CutPrefix(url, "file://"); ok {
		p = rest
	}
	if p == "" {
		return nil, fmt.Errorf("schema %s is not staged", url)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return jsonschema.UnmarshalJSON(f)
}

type validator struct {
	t       *testing.T
	formats string
	c       *jsonschema.Compiler
	cache   map[string]*jsonschema.Schema
	// failures collects the failures instead of failing the test (for
	// the tests that check the validator rejects bad documents).
	failures *[]string
}

func (v *validator) errf(format string, args ...any) {
	v.t.Helper()
	if v.failures != nil {
		*v.failures = append(*v.failures, fmt.Sprintf(format, args...))
		return
	}
	v.t.Errorf(format, args...)
}

func newValidator(t *testing.T) *validator {
	formats := testchain.SharedFile(t, "formats")
	c := jsonschema.NewCompiler()
	c.UseLoader(schemaLoader{formats})
	return &validator{t: t, formats: formats, c: c, cache: map[string]*jsonschema.Schema{}}
}

func (v *validator) schema(loc string) *jsonschema.Schema {
	v.t.Helper()
	if s, ok := v.cache[loc]; ok {
		return s
	}
	if !strings.Contains(loc, "://") {
		loc = "file://" + filepath.Join(v.formats, filepath.FromSlash(loc))
	}
	s, err := v.c.Compile(loc)
	if err != nil {
		v.t.Fatalf("compile %s: %v", loc, err)
	}
	v.cache[loc] = s
	return s
}

func (v *validator) check(loc string, doc any, what string) {
	v.t.Helper()
	if err := v.schema(loc).Validate(doc); err != nil {
		v.errf("%s against %s: %v", what, filepath.Base(loc), err)
	}
}

const stixBase = "http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/"

// validateSTIX checks a bundle object by object (formats/README.md,
// point 2: the bundle envelope loosely, each object against its type's
// schema and its extensions' schemas).
func (v *validator) validateSTIX(data []byte) map[string]int {
	v.t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		v.t.Fatal(err)
	}
	b := doc.(map[string]any)
	if b["type"] != "bundle" || !strings.HasPrefix(b["id"].(string), "bundle--") {
		v.t.Fatalf("envelope: type %v id %v", b["type"], b["id"])
	}
	v.check(stixBase+"common/identifier.json", b["id"], "bundle id")
	counts := map[string]int{}
	for _, o := range b["objects"].([]any) {
		obj := o.(map[string]any)
		typ := obj["type"].(string)
		what := fmt.Sprintf("%s %s", typ, obj["id"])
		counts[typ]++
		switch typ {
		case "marking-definition":
			v.check(stixBase+"common/marking-definition.json", obj, what)
			v.check("oasis-stix-common-objects/extension-definition-specifications/tlp-2.0/extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d.json", obj, what)
		case "incident":
			v.check(stixBase+"sdos/incident.json", obj, what)
			v.check("oasis-stix-common-objects/extension-definition-specifications/incident-ef7/extension-definition--ef765651-680c-498d-9894-99799f2fa126.json", obj, what)
		case "impact":
			v.check("oasis-stix-common-objects/extension-definition-specifications/incident-ef7/impact/extension-definition--7cc33dd6-f6a1-489b-98ea-522d351d71b9.json", obj, what)
		case "file":
			v.check(stixBase+"observables/file.json", obj, what)
		case "cryptocurrency-wallet", "cryptocurrency-transaction":
			v.check("stix-crypto-extensions/muchdogesec/automodel_generated/schemas/scos/"+typ+".json", obj, what)
		case "relationship":
			v.check(stixBase+"sros/relationship.json", obj, what)
		case "extension-definition":
			v.check(stixBase+"common/extension-definition.json", obj, what)
		default:
			v.check(stixBase+"sdos/"+typ+".json", obj, what)
		}
		if typ != "marking-definition" && typ != "extension-definition" {
			refs, _ := obj["object_marking_refs"].([]any)
			if len(refs) != 1 {
				v.errf("%s: marking refs %v", what, refs)
			}
		}
	}
	return counts
}

// validateMISP checks each event against the PyMISP lax schema (wrapped
// as {"Event": …}, README point 5) and each object against its template.
func (v *validator) validateMISP(data []byte) {
	v.t.Helper()
	var types struct {
		Result struct {
			SaneDefaults map[string]struct {
				DefaultCategory string `json:"default_category"`
			} `json:"sane_defaults"`
			CategoryTypeMappings map[string][]string `json:"category_type_mappings"`
		} `json:"result"`
	}
	readJSON(v.t, filepath.Join(v.formats, "misp/pymisp/pymisp/data/describeTypes.json"), &types)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		v.t.Fatal(err)
	}
	for i, e := range doc.([]any) {
		v.check("misp/pymisp/pymisp/data/schema-lax.json", e, fmt.Sprintf("event %d", i))
	}
	var evs []MISPEvent
	if err := json.Unmarshal(data, &evs); err != nil {
		v.errf("MISP events: %v", err)
		return
	}
	checkAttr := func(a mispAttr, where string) {
		ok := false
		for _, t := range types.Result.CategoryTypeMappings[a.Category] {
			ok = ok || t == a.Type
		}
		if !ok {
			v.errf("%s: type %s not allowed in category %s", where, a.Type, a.Category)
		}
	}
	for _, ev := range evs {
		for _, a := range ev.Event.Attribute {
			checkAttr(a, "event attribute "+a.Comment)
		}
		tlps := 0
		for _, t := range ev.Event.Tag {
			if strings.HasPrefix(t.Name, "tlp:") {
				tlps++
				v.checkTaxonomy(t.Name)
			}
		}
		if tlps != 1 {
			v.errf("event %s: %d tlp tags", ev.Event.Info, tlps)
		}
		for _, o := range ev.Event.Object {
			var tpl struct {
				UUID          string   `json:"uuid"`
				Version       int      `json:"version"`
				RequiredOneOf []string `json:"requiredOneOf"`
				Required      []string `json:"required"`
				Attributes    map[string]struct {
					Type       string   `json:"misp-attribute"`
					Multiple   bool     `json:"multiple"`
					ValuesList []string `json:"values_list"`
				} `json:"attributes"`
			}
			readJSON(v.t, filepath.Join(v.formats, "misp/misp-objects/objects", o.Name, "definition.json"), &tpl)
			where := o.Name + " " + o.UUID
			if o.TemplateUUID != tpl.UUID || o.TemplateVersion != fmt.Sprint(tpl.Version) {
				v.errf("%s: template %s v%s, want %s v%d", where, o.TemplateUUID, o.TemplateVersion, tpl.UUID, tpl.Version)
			}
			rels := map[string]int{}
			for _, a := range o.Attribute {
				spec, ok := tpl.Attributes[a.ObjectRelation]
				switch {
				case !ok:
					v.errf("%s: relation %q not in the template", where, a.ObjectRelation)
				case spec.Type != a.Type:
					v.errf("%s: %s has type %s, template says %s", where, a.ObjectRelation, a.Type, spec.Type)
				case len(spec.ValuesList) > 0 && !oneOf(a.Value, spec.ValuesList):
					v.errf("%s: %s = %q not in the template's values", where, a.ObjectRelation, a.Value)
				}
				rels[a.ObjectRelation]++
				if rels[a.ObjectRelation] > 1 && !spec.Multiple {
					v.errf("%s: %s repeated", where, a.ObjectRelation)
				}
				checkAttr(a, where+" "+a.ObjectRelation)
			}
			one := len(tpl.RequiredOneOf) == 0
			for _, r := range tpl.RequiredOneOf {
				one = one || rels[r] > 0
			}
			if !one {
				v.errf("%s: none of %v", where, tpl.RequiredOneOf)
			}
			for _, r := range tpl.Required {
				if rels[r] == 0 {
					v.errf("%s: required %s missing", where, r)
				}
			}
		}
	}
}

func (v *validator) checkTaxonomy(tag string) {
	var tax struct {
		Predicates []struct {
			Value string `json:"value"`
		} `json:"predicates"`
	}
	readJSON(v.t, filepath.Join(v.formats, "misp/misp-taxonomies/tlp/machinetag.json"), &tax)
	p := strings.TrimPrefix(tag, "tlp:")
	for _, x := range tax.Predicates {
		if x.Value == p {
			return
		}
	}
	v.errf("tag %s is not in the MISP tlp taxonomy", tag)
}

// validateTagPack checks a TagPack against GraphSense's field-spec schema
// (README point 7): mandatory fields (a tag's may come from the header),
// no unknown fields, types, and confidence/concept taxonomies.
func (v *validator) validateTagPack(data []byte) int {
	v.t.Helper()
	var schema map[string]map[string]struct {
		Type      string `yaml:"type"`
		Mandatory bool   `yaml:"mandatory"`
		Taxonomy  string `yaml:"taxonomy"`
	}
	b, err := os.ReadFile(filepath.Join(v.formats, "graphsense/src/graphsenselib/tagpack/conf/tagpack_schema.yaml"))
	if err != nil {
		v.t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &schema); err != nil {
		v.t.Fatal(err)
	}
	conf := map[string]bool{}
	f, _ := os.Open(filepath.Join(v.formats, "graphsense/src/graphsenselib/tagpack/db/confidence.csv"))
	rows, _ := csv.NewReader(f).ReadAll()
	f.Close()
	for _, r := range rows[1:] {
		conf[r[0]] = true
	}
	var concepts map[string]any
	b, _ = os.ReadFile(filepath.Join(v.formats, "graphsense/src/graphsenselib/tagpack/db/concepts.yaml"))
	if err := yaml.Unmarshal(b, &concepts); err != nil {
		v.t.Fatal(err)
	}
	var pack map[string]any
	if err := yaml.Unmarshal(data, &pack); err != nil {
		v.t.Fatal(err)
	}
	header, tagSpec := schema["header"], schema["tag"]
	for k, s := range header {
		if _, ok := pack[k]; s.Mandatory && !ok {
			v.errf("header: mandatory %s missing", k)
		}
	}
	for k := range pack {
		if _, ok := header[k]; !ok {
			if _, ok := tagSpec[k]; !ok {
				v.errf("header: unknown field %s", k)
			}
		}
	}
	ts := pack["tags"].([]any)
	for i, x := range ts {
		tag := x.(map[string]any)
		for k, s := range tagSpec {
			val, ok := tag[k]
			if !ok {
				val, ok = pack[k]
			}
			if s.Mandatory && !ok {
				v.errf("tag %d: mandatory %s missing", i, k)
			}
			if !ok {
				continue
			}
			switch s.Type {
			case "text":
				if _, isStr := val.(string); !isStr {
					v.errf("tag %d: %s = %v is not text", i, k, val)
				}
			case "boolean":
				if _, isB := val.(bool); !isB {
					v.errf("tag %d: %s is not boolean", i, k)
				}
			}
			switch s.Taxonomy {
			case "confidence":
				if !conf[fmt.Sprint(val)] {
					v.errf("tag %d: confidence %v not in confidence.csv", i, val)
				}
			case "concept":
				if _, ok := concepts[fmt.Sprint(val)]; !ok {
					v.errf("tag %d: %s %v not a concept", i, k, val)
				}
			}
		}
		for k := range tag {
			if _, ok := tagSpec[k]; !ok {
				v.errf("tag %d: unknown field %s", i, k)
			}
		}
		if c, ok := tag["context"].(string); ok && !json.Valid([]byte(c)) {
			v.errf("tag %d: context is not JSON: %s", i, c)
		}
	}
	return len(ts)
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// The official examples pass the validator as set up here (so a failure
// of our exports is ours, not the loader's).
func TestValidatorAcceptsOfficialExamples(t *testing.T) {
	v := newValidator(t)
	b, err := os.ReadFile(filepath.Join(v.formats, "oasis-stix-common-objects/extension-definition-specifications/incident-ef7/examples/incident_ransom.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	for _, o := range doc.(map[string]any)["objects"].([]any) {
		obj := o.(map[string]any)
		switch obj["type"] {
		case "incident":
			v.check("oasis-stix-common-objects/extension-definition-specifications/incident-ef7/extension-definition--ef765651-680c-498d-9894-99799f2fa126.json", obj, "official incident")
		case "impact":
			v.check("oasis-stix-common-objects/extension-definition-specifications/incident-ef7/impact/extension-definition--7cc33dd6-f6a1-489b-98ea-522d351d71b9.json", obj, "official impact")
		}
	}
	// And it rejects a broken monetary impact (a ransom payment without
	// a variety), so the checks above can fail.
	bad := map[string]any{"type": "impact", "spec_version": "2.1", "id": "impact--0c9511ac-e14b-4f48-9d49-54bfc93c9b34",
		"created": "2023-05-02T20:00:00.000Z", "modified": "2023-05-02T20:00:00.000Z", "impact_category": "monetary",
		"extensions": map[string]any{extImpact: map[string]any{"extension_type": "new-sdo"}, "monetary-ext": map[string]any{"currency": "btc"}}}
	if err := v.schema("oasis-stix-common-objects/extension-definition-specifications/incident-ef7/impact/extension-definition--7cc33dd6-f6a1-489b-98ea-522d351d71b9.json").Validate(bad); err == nil {
		t.Error("impact without variety accepted")
	}
}

// submitSome files reports for several real payments of the world.
func submitSome(t *testing.T, f *fixture, n int, tlp string) []*Filed {
	t.Helper()
	var out []*Filed
	for i := 0; i < n; i++ {
		r := f.reportOf(t, f.pay[i*3])
		r.TLP = tlp
		r.Attack.Actor = "actor-" + f.pay[i*3].Campaign
		r.Payment.ThirdPartyPayer = "Insurer AG"
		r.Demand.NoteSHA256 = fmt.Sprintf("%064x", i+1)
		fl, err := f.svc.Submit(context.Background(), SubmitRequest{Report: r, Actor: "analyst"})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fl)
	}
	return out
}

// facts is what a round trip must keep.
func facts(r *Report) string {
	var b strings.Builder
	if r.Demand != nil {
		fmt.Fprintf(&b, "note=%s ", r.Demand.NoteSHA256)
	}
	fmt.Fprintf(&b, "outcome=%s le=%v %v ", outcomeString(r.Outcome), r.LawEnforcement.Engaged, r.LawEnforcement.Agencies)
	fmt.Fprintf(&b, "tlp=%s family=%s sector=%s jur=%s role=%s ", r.TLP, r.Attack.Family, r.Organisation.Sector, r.Organisation.Jurisdiction, r.Reporter.Role)
	when := func(s string) string {
		t, err := ParseWhen(s)
		if err != nil {
			return s
		}
		return t.Format(time.RFC3339)
	}
	fmt.Fprintf(&b, "actor=%s attack=%s..%s ", r.Attack.Actor, when(r.Attack.Start), when(r.Attack.End))
	if d := r.Demand; d != nil {
		fmt.Fprintf(&b, "demand=%s %s %v ", d.Amount, d.Asset, d.Addresses)
	}
	if p := r.Payment; p != nil {
		fmt.Fprintf(&b, "payment=%s %s to=%v from=%v tx=%v payer=%s", p.Amount, p.Asset, p.ToAddresses, p.FromAddresses, p.Txids, p.ThirdPartyPayer)
	}
	return b.String()
}

func TestExportsValidateAndRoundTrip(t *testing.T) {
	f := newFixture(t)
	v := newValidator(t)
	ctx := context.Background()
	filed := submitSome(t, f, 3, TLPGreen)
	var receipts []string
	want := map[string]string{}
	for _, fl := range filed {
		receipts = append(receipts, fl.Receipt)
		want[fl.Receipt] = facts(&fl.Report)
	}
	for _, format := range []string{FormatSTIX, FormatMISP} {
		t.Run(format, func(t *testing.T) {
			res, err := f.svc.Export(ctx, ExportRequest{Receipts: receipts, Format: format, Actor: "analyst"})
			if err != nil {
				t.Fatal(err)
			}
			if format == FormatSTIX {
				counts := v.validateSTIX(res.Data)
				if counts["incident"] != 3 || counts["impact"] != 6 || counts["cryptocurrency-transaction"] != 3 || counts["marking-definition"] != 1 || counts["indicator"] != 3 || counts["extension-definition"] != 5 || counts["file"] != 3 ||
					counts["threat-actor"] != 3 || counts["malware"] != 3 {
					t.Errorf("objects %v", counts)
				}
			} else {
				v.validateMISP(res.Data)
			}
			// Import into a second system: same facts, partner as source.
			g := newFixture(t)
			ir, err := g.svc.Import(ctx, ImportRequest{Format: format, Data: bytes.NewReader(res.Data), Name: "partner." + format, Source: "BKA", Actor: "import"})
			if err != nil {
				t.Fatal(err)
			}
			if len(ir.Reports) != 3 {
				t.Fatalf("imported %d reports", len(ir.Reports))
			}
			if ir.Tags < 3 {
				t.Errorf("import tagged %d payment addresses of 3 verified GREEN reports", ir.Tags)
			}
			for _, x := range ir.Reports {
				got, err := g.svc.Get(ctx, x.Receipt)
				if err != nil {
					t.Fatal(err)
				}
				if got.Source != "BKA" || got.SourceReceipt == "" || want[got.SourceReceipt] == "" {
					t.Fatalf("source %q receipt %q", got.Source, got.SourceReceipt)
				}
				if g := facts(&got.Report); g != want[got.SourceReceipt] {
					t.Errorf("round trip changed the facts:\n got %s\nwant %s", g, want[got.SourceReceipt])
				}
				if !x.Verified || got.Verification == nil || got.Verification.ReceivedSats == 0 {
					t.Errorf("imported report not verified on the same chain: %+v", x)
				}
			}
			// Each imported report has one audit entry, stored with it:
			// its import, naming the partner's receipt and the file.
			es, err := g.st.Audit().List(ctx, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range ir.Reports {
				var of []state.AuditEntry
				for _, e := range es {
					if e.Object == "report:"+x.Receipt {
						of = append(of, e)
					}
				}
				if len(of) != 1 || of[0].Action != "import" || of[0].Actor != "import" || of[0].ObjectHash == "" ||
					!strings.Contains(of[0].Detail, "receipt="+x.SourceReceipt) || !strings.Contains(of[0].Detail, "file_sha256="+ir.SHA256) {
					t.Errorf("audit entries of imported report %s: %+v, want one import entry", x.Receipt, of)
				}
			}
			if _, _, err := state.VerifyAudit(ctx, g.st.Audit()); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("tagpack", func(t *testing.T) {
		res, err := f.svc.Export(ctx, ExportRequest{Receipts: receipts, Format: FormatTagPack, Actor: "analyst"})
		if err != nil {
			t.Fatal(err)
		}
		if n := v.validateTagPack(res.Data); n != 3 {
			t.Errorf("%d tags", n)
		}
		g := newFixture(t)
		ir, err := g.svc.Import(ctx, ImportRequest{Format: FormatTagPack, Data: bytes.NewReader(res.Data), Name: "p.yaml", Source: "NCA"})
		if err != nil {
			t.Fatal(err)
		}
		if ir.Tags != 3 {
			t.Errorf("imported %d tags", ir.Tags)
		}
		checkImportedTags(t, g, filed, "partner:NCA", "TLP:GREEN")
	})
	t.Run("ransomwhere", func(t *testing.T) {
		res, err := f.svc.Export(ctx, ExportRequest{Receipts: receipts, Format: FormatRansomwhere, Actor: "analyst"})
		if err != nil {
			t.Fatal(err)
		}
		g := newFixture(t)
		ir, err := g.svc.Import(ctx, ImportRequest{Format: FormatRansomwhere, Data: bytes.NewReader(res.Data), Name: "rw.json", Source: "ransomwhe.re"})
		if err != nil {
			t.Fatal(err)
		}
		if ir.Tags != 3 {
			t.Errorf("imported %d tags", ir.Tags)
		}
		checkImportedTags(t, g, filed, "partner:ransomwhe.re", "TLP:CLEAR")
	})
	// Every export was audited, the chain is intact.
	es, err := f.st.Audit().List(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	exports := 0
	for _, e := range es {
		if e.Action == "export" {
			exports++
		}
	}
	if exports != 4*3 {
		t.Errorf("%d export entries, want 12", exports)
	}
}

func checkImportedTags(t *testing.T, g *fixture, filed []*Filed, source, marking string) {
	t.Helper()
	page, _, err := g.st.Tags().List(context.Background(), stateFilter(source), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, tg := range page {
		got = append(got, tg.Address+"/"+tg.Label)
		if !strings.Contains(tg.Description, marking) {
			t.Errorf("tag %s lost its marking: %q", tg.Address, tg.Description)
		}
	}
	for _, fl := range filed {
		for _, a := range fl.Verification.PaymentAddresses {
			want = append(want, a+"/"+fl.Attack.Family)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("imported tags %v, want %v", got, want)
	}
}

func TestTLPEnforcedAtExport(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	red := submitSome(t, f, 1, TLPRed)[0]
	amber := f.reportOf(t, f.pay[9])
	amber.TLP = TLPAmberStrict
	am, err := f.svc.Submit(ctx, SubmitRequest{Report: amber, Actor: "a"})
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range Formats {
		if _, err := f.svc.Export(ctx, ExportRequest{Receipts: []string{red.Receipt}, Format: format, To: "BKA"}); err == nil || !strings.Contains(err.Error(), "never leaves") {
			t.Errorf("%s: TLP:RED exported: %v", format, err)
		}
		if _, err := f.svc.Export(ctx, ExportRequest{Receipts: []string{am.Receipt}, Format: format}); err == nil || !strings.Contains(err.Error(), "named partner") {
			t.Errorf("%s: TLP:AMBER+STRICT exported without a partner: %v", format, err)
		}
	}
	res, err := f.svc.Export(ctx, ExportRequest{Receipts: []string{am.Receipt}, Format: FormatSTIX, To: "BKA", Actor: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(res.Data, []byte(TLPMarkingID[TLPAmberStrict])) {
		t.Error("export lacks the AMBER+STRICT marking")
	}
	es, _ := f.st.Audit().List(ctx, 0, 100)
	last := es[len(es)-1]
	if last.Action != "export" || !strings.Contains(last.Detail, "to=BKA") || last.Object != "report:"+am.Receipt {
		t.Errorf("export not audited with the partner: %+v", last)
	}
	// A case carries its own TLP: a RED case's (green) reports don't leave.
	c, err := f.svc.CreateCase(ctx, CreateCaseRequest{Name: "op", Owner: "ana", TLP: "red", Actor: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	green := submitSome(t, f, 1, TLPGreen)[0]
	if _, err := f.svc.UpdateCase(ctx, UpdateCaseRequest{ID: c.ID, Actor: "ana", Reports: []string{green.Receipt}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Export(ctx, ExportRequest{Case: c.ID, Format: FormatMISP, To: "X"}); err == nil {
		t.Error("reports of a TLP:RED case exported")
	}
}

func FuzzImportSTIX(f *testing.F) {
	f.Add([]byte(`{"type":"bundle","objects":[{"type":"incident","id":"incident--1","extensions":{"` + extIncidentCore + `":{"impact_refs":["impact--2"]}}},{"type":"impact","id":"impact--2","extensions":{"monetary-ext":{"variety":"ransom-payment","currency":"btc","min_amount":1}}}]}`))
	f.Add([]byte(`{"type":"bundle","objects":[{"type":"relationship","id":"r--1","source_ref":"incident--1","target_ref":"x","description":"ransom payment address"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		reps, err := ImportSTIX(bytes.NewReader(b), "fuzz.json")
		if err == nil && len(reps) == 0 {
			t.Fatal("no error and no report")
		}
		for _, r := range reps {
			Validate(r, nil)
		}
	})
}

func FuzzImportMISP(f *testing.F) {
	f.Add([]byte(`[{"Event":{"uuid":"u","Tag":[{"name":"tlp:green"}],"Attribute":[{"comment":"ransom payment","value":"1 BTC"}],"Object":[{"name":"cryptocurrency-transaction","Attribute":[{"object_relation":"transaction-number","value":"ab"}]}]}}]`))
	f.Add([]byte(`{"info":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		reps, err := ImportMISP(bytes.NewReader(b), "fuzz.json")
		if err == nil && len(reps) == 0 {
			t.Fatal("no error and no report")
		}
		for _, r := range reps {
			Validate(r, nil)
		}
	})
}

func FuzzTagPackContexts(f *testing.F) {
	f.Add([]byte("tags:\n- address: 1abc\n  context: '{\"tlp\":\"amber\",\"report\":\"RP-1\"}'\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for a, c := range tagPackContexts(b) {
			if c.TLP == "" {
				t.Fatalf("%s: empty marking kept", a)
			}
		}
	})
}

func stateFilter(source string) state.TagFilter { return state.TagFilter{Source: source} }

// The validators reject exports with one broken field each: the checks of
// TestExportsValidateAndRoundTrip can fail.
func TestValidatorsRejectBrokenExports(t *testing.T) {
	f := newFixture(t)
	v := newValidator(t)
	ctx := context.Background()
	filed := submitSome(t, f, 1, TLPGreen)
	export := func(format string) string {
		res, err := f.svc.Export(ctx, ExportRequest{Receipts: []string{filed[0].Receipt}, Format: format})
		if err != nil {
			t.Fatal(err)
		}
		return string(res.Data)
	}
	stix, misp, tp := export(FormatSTIX), export(FormatMISP), export(FormatTagPack)
	cases := []struct {
		name, doc, old, new, want string
	}{
		{"incident-core extra property", stix, `"determination": "confirmed"`, `"determination": "confirmed", "bogus": 1`, "bogus"},
		{"monetary-ext extra property", stix, `"variety": "ransom-payment"`, `"variety": "ransom-payment", "bogus": 2`, "bogus"},
		{"wallet SCO symbol type", stix, `"symbol": "BTC"`, `"symbol": 5`, "symbol"},
		{"identity class type", stix, `"identity_class": "organization"`, `"identity_class": 7`, "identity_class"},
		{"TLP marking name", stix, `"name": "TLP:GREEN"`, `"name": 5`, "name"},
		{"MISP relation", misp, `"object_relation": "symbol"`, `"object_relation": "symbolx"`, "symbolx"},
		{"MISP published", misp, `"published": false`, `"published": "no"`, "published"},
		{"MISP tlp tag", misp, `"tlp:green"`, `"tlp:greenish"`, "taxonomy"},
		{"TagPack confidence", tp, "confidence: manual_transaction", "confidence: sure", "confidence"},
		{"TagPack unknown field", tp, "category: ransomware\n", "category: ransomware\n" + indentOf(tp, "category: ransomware") + "colour: red\n", "unknown field"},
	}
	for _, tc := range cases {
		if !strings.Contains(tc.doc, tc.old) {
			t.Fatalf("%s: %q not in the export", tc.name, tc.old)
		}
		bad := strings.Replace(tc.doc, tc.old, tc.new, 1)
		var fails []string
		v.failures = &fails
		switch {
		case tc.doc == stix:
			v.validateSTIX([]byte(bad))
		case tc.doc == misp:
			v.validateMISP([]byte(bad))
		default:
			v.validateTagPack([]byte(bad))
		}
		v.failures = nil
		if !strings.Contains(strings.Join(fails, "\n"), tc.want) {
			t.Errorf("%s: not rejected (failures: %v)", tc.name, fails)
		}
	}
}

// indentOf returns the leading blanks of the line holding s.
func indentOf(doc, s string) string {
	for _, l := range strings.Split(doc, "\n") {
		if t := strings.TrimLeft(l, " "); strings.HasPrefix(t, s) {
			return l[:len(l)-len(t)]
		}
	}
	return ""
}

// A partner's minimal STIX bundle (the official ransomware incident
// example: no identity, location or wallets) imports with defaults.
func TestImportOfficialIncidentExample(t *testing.T) {
	f := newFixture(t)
	p := testchain.SharedFile(t, "formats/oasis-stix-common-objects/extension-definition-specifications/incident-ef7/examples/incident_ransom.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.Import(context.Background(), ImportRequest{Format: FormatSTIX, Data: bytes.NewReader(b), Name: p, Source: "OASIS example"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Reports) != 1 || res.Reports[0].Verified || res.Reports[0].TLP != TLPRed {
		t.Fatalf("import %+v", res)
	}
	got, err := f.svc.Get(context.Background(), res.Reports[0].Receipt)
	if err != nil {
		t.Fatal(err)
	}
	// The example: a 0.5 BTC demand stated as USD 14,413.05 at a rate of
	// 3.469e-5 BTC/USD, USD 10,000 paid in BTC at that rate; unmarked
	// (kept as RED).
	if got.Demand == nil || got.Demand.Amount != "0.50000000" || got.Demand.Asset != "BTC" || got.Payment == nil ||
		got.Payment.Asset != "BTC" || got.Payment.Amount != "0.34690784" ||
		got.Organisation.Jurisdiction != UnknownJurisdiction || got.Source != "OASIS example" {
		t.Errorf("imported %+v %+v %+v", got.Demand, got.Payment, got.Organisation)
	}
}

func TestPatternString(t *testing.T) {
	if got := patternString(`a'b\c`); got != `a\'b\\c` {
		t.Errorf("%s", got)
	}
}

// Real partner files: the Ransomwhere export and a published GraphSense
// TagPack import as tags marked with the partner.
func TestImportRealPartnerFiles(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		file, format string
		tags         int
	}{
		{"ransomware/ransomwhere/ransomwhere_export_2022-04.json", FormatRansomwhere, 7457},
		{"graphsense-tagpacks/plustoken.yaml", FormatTagPack, 10},
	} {
		p := testchain.SharedFile(t, tc.file)
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		res, err := f.svc.Import(ctx, ImportRequest{Format: tc.format, Data: fh, Name: p, Source: "partner-x", Actor: "a"})
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.Tags != tc.tags {
			t.Errorf("%s: %d tags, want %d", tc.file, res.Tags, tc.tags)
		}
		page, _, err := f.st.Tags().List(ctx, state.TagFilter{Source: "partner:partner-x"}, "", 5)
		if err != nil || len(page) == 0 || !strings.Contains(page[0].Description, "via partner-x") {
			t.Errorf("%s: stored %+v %v", tc.file, page, err)
		}
	}
}

// The embedded extension-definition objects are the published ones.
func TestExtensionDefinitionsArePublished(t *testing.T) {
	formats := testchain.SharedFile(t, "formats")
	files := map[string]string{
		extTLP2:         "oasis-stix-common-objects/objects/extension-definition/extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d.json",
		extImpact:       "oasis-stix-common-objects/objects/extension-definition/extension-definition--7cc33dd6-f6a1-489b-98ea-522d351d71b9.json",
		extIncidentCore: "oasis-stix-common-objects/objects/extension-definition/extension-definition--ef765651-680c-498d-9894-99799f2fa126.json",
		extCryptoTx:     "stix-crypto-extensions/muchdogesec/automodel_generated/extension-definitions/scos/cryptocurrency-transaction.json",
		extCryptoWallet: "stix-crypto-extensions/muchdogesec/automodel_generated/extension-definitions/scos/cryptocurrency-wallet.json",
	}
	if len(files) != len(extensionDefinitions) {
		t.Fatalf("%d embedded definitions, %d published files", len(extensionDefinitions), len(files))
	}
	for id, f := range files {
		var pub map[string]any
		readJSON(t, filepath.Join(formats, f), &pub)
		if pub["type"] == "bundle" {
			pub = pub["objects"].([]any)[0].(map[string]any)
		}
		var emb map[string]any
		if err := json.Unmarshal([]byte(extensionDefinitions[id]), &emb); err != nil {
			t.Fatal(err)
		}
		if emb["id"] != id || fmt.Sprint(emb) != fmt.Sprint(pub) {
			t.Errorf("%s differs from %s", id, f)
		}
	}
}

func outcomeString(o Outcome) string {
	f := func(b *bool) string {
		if b == nil {
			return "?"
		}
		return fmt.Sprint(*b)
	}
	return f(o.DecryptorProvided) + "/" + f(o.DecryptorWorked) + "/" + f(o.DataReturned)
}
