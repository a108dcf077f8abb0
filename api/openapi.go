package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
)

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// openAPIVersion is the version of this API's document.
const openAPIVersion = "2.0.0"

func obj(kv ...any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func ref(name string) map[string]any { return obj("$ref", "#/components/schemas/"+name) }

// buildOpenAPI makes the OpenAPI 3.0 document from the route table, so
// that the document and the handlers cannot disagree.
func (s *Server) buildOpenAPI() ([]byte, error) {
	paths := map[string]any{}
	for _, rt := range s.routes {
		op := obj("operationId", operationID(rt), "summary", rt.summary, "tags", []string{rt.tag})
		desc := rt.desc
		if rt.role != "" {
			desc = strings.TrimSpace(desc + "\n\nLeast role: " + rt.role + ".")
		}
		if rt.seam != "" {
			desc = strings.TrimSpace(desc + "\n\nAnswers 503 unavailable when the server runs without this engine (api.Config." + rt.seam + ").")
		}
		if desc != "" {
			op["description"] = desc
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.pattern, -1) {
			params = append(params, obj("name", m[1], "in", "path", "required", true, "schema", obj("type", "string")))
		}
		for _, p := range rt.params {
			typ := p.typ
			if typ == "" {
				typ = "string"
			}
			sch := obj("type", typ)
			if p.max > 0 {
				sch["minimum"], sch["maximum"] = p.min, p.max
			}
			pm := obj("name", p.name, "in", p.in, "schema", sch)
			if p.required {
				pm["required"] = true
			}
			if p.desc != "" {
				pm["description"] = p.desc
			}
			params = append(params, pm)
		}
		if rt.maxLimit > 0 {
			params = append(params,
				obj("name", "cursor", "in", "query", "description", "the next_cursor of the previous page", "schema", obj("type", "string")),
				obj("name", "limit", "in", "query", "description", "items per page (default "+itoa(min(defaultLimit, rt.maxLimit))+", at most "+itoa(rt.maxLimit)+")",
					"schema", obj("type", "integer", "minimum", 1, "maximum", rt.maxLimit)))
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.body != nil {
			sch := obj("type", "string", "format", "binary")
			if rt.body.schema != "" {
				sch = ref(rt.body.schema)
			} else if rt.body.contentType == "application/json" {
				sch = obj("type", "array", "items", obj("type", "object"))
			}
			op["requestBody"] = obj("required", !rt.body.optional, "description", rt.body.desc, "content", obj(rt.body.contentType, obj("schema", sch)))
		}
		var okSchema any = obj("type", "object")
		if rt.resp != "" {
			okSchema = ref(rt.resp)
			if rt.maxLimit > 0 {
				okSchema = obj("allOf", []any{ref("Page"), obj("type", "object", "properties", obj("items", obj("type", "array", "items", ref(rt.resp)),
					"limit", obj("type", "integer", "maximum", rt.maxLimit)))})
			}
		}
		ct := "application/json"
		if rt.respType != "" {
			ct, okSchema = rt.respType, obj("type", "string")
		}
		okCode, okDesc := "200", "OK"
		if rt.status != 0 {
			okCode, okDesc = itoa(rt.status), http.StatusText(rt.status)
		}
		resps := obj(okCode, obj("description", okDesc, "content", obj(ct, obj("schema", okSchema))))
		errResp := func(d string) any {
			return obj("description", d, "content", obj("application/json", obj("schema", ref("Error"))))
		}
		if rt.role != "" {
			resps["400"] = errResp("bad request: a parameter or the body is malformed (the message names it)")
			resps["401"] = errResp("missing, unknown or revoked API key")
			resps["403"] = errResp("the key's role may not call this route")
			resps["404"] = errResp("not found")
			resps["429"] = errResp("rate limited (see Retry-After)")
			resps["500"] = errResp("internal error")
			if rt.body != nil {
				resps["413"] = errResp("request body too large")
			}
			if rt.seam != "" {
				resps["503"] = errResp("the engine behind this route is not available")
			}
			// The reports' and cases' actor routes create objects; the
			// monitoring routes know their actor only for the audit log.
			if rt.actor && rt.tag != "monitoring" {
				resps["409"] = errResp("conflict: the object already exists")
			}
			op["security"] = []any{obj("ApiKeyAuth", []string{})}
			op["x-role"] = rt.role
		} else {
			op["security"] = []any{}
		}
		op["responses"] = resps
		pi, _ := paths[rt.pattern].(map[string]any)
		if pi == nil {
			pi = map[string]any{}
			paths[rt.pattern] = pi
		}
		pi[strings.ToLower(rt.method)] = op
	}
	doc := obj(
		"openapi", "3.0.3",
		"info", obj("title", "ransomtrail API", "version", openAPIVersion,
			"description", "Follow ransomware money on the Bitcoin chain. Errors: {\"error\":{\"code\",\"message\"}}. Lists: ?cursor&limit → {items,next_cursor,limit}. Auth: X-API-Key header; roles admin ⊃ analyst ⊃ screening."),
		"paths", paths,
		"components", obj(
			"securitySchemes", obj("ApiKeyAuth", obj("type", "apiKey", "in", "header", "name", "X-API-Key")),
			"schemas", schemas(),
		),
	)
	return json.MarshalIndent(doc, "", "  ")
}

func operationID(rt *route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.method))
	up := true
	for _, c := range rt.pattern {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			if up && c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			b.WriteRune(c)
			up = false
		default:
			up = true
		}
	}
	return b.String()
}

// schemas describes the response objects (required fields; objects may
// carry more).
func schemas() map[string]any {
	str, num, boolean := obj("type", "string"), obj("type", "integer"), obj("type", "boolean")
	o := func(props ...any) any { return obj("type", "object", "properties", obj(props...)) }
	arr := func(items any) any { return obj("type", "array", "items", items) }
	return map[string]any{
		"Error": o("error", o("code", obj("type", "string", "enum", []string{CodeNotFound, CodeBadRequest, CodeUnauthorized, CodeForbidden, CodeRateLimited, CodeTooLarge, CodeUnavailable, CodeInternal, CodeNotAllowed, CodeConflict, CodeNoSpace}), "message", str,
			"fields", obj("type", "array", "description", "field-level errors of a 400 (and of a TLP refusal): field is a JSON pointer into the body (/payment/txids/0) or a parameter name", "items", o("field", str, "message", str)))),
		"Page":            obj("type", "object", "required", []string{"items", "next_cursor", "limit"}, "properties", obj("items", arr(obj("type", "object")), "next_cursor", str, "limit", num, "truncated", boolean)),
		"Health":          o("status", str, "height", num, "following", boolean, "node_height", num, "lag", num),
		"Identifications": o("identifications", arr(o("category", str, "name", str, "description", str, "url", str))),
		"Status":          o("network", str, "height", num, "tip_hash", str, "txs", num, "inputs", num, "outputs", num, "addresses", num, "format_version", num, "digest", str, "clustering", o("policy", str, "height", num)),
		"Search":          o("kind", obj("type", "string", "enum", []string{"address", "tx", "block", "cluster", "label"}), "id", str, "matches", arr(o("kind", str, "id", str, "label", str))),
		"Block":           o("height", num, "hash", str, "prev_hash", str, "next_hash", str, "time", num, "size", num, "tx_count", num),
		"BlockTx":         o("txid", str, "fee_sat", num, "size", num, "weight", num, "inputs", num, "outputs", num, "coinbase", boolean),
		"Label":           o("label", str, "category", str, "source", str, "confidence", num, "authoritative", boolean, "direct", boolean),
		"Tx": o("txid", str, "block_height", num, "block_time", num, "fee_sat", num,
			"inputs", arr(o("prev_txid", str, "vout", num, "address", str, "value_sat", num, "cluster_id", num, "labels", arr(ref("Label")))),
			"outputs", arr(o("n", num, "address", str, "script_type", str, "value_sat", num, "spent_by", o("txid", str, "input", num), "cluster_id", num, "labels", arr(ref("Label")))),
			"heuristics", ref("Heuristics")),
		"Address":        o("address", str, "script_type", str, "received_sat", num, "sent_sat", num, "balance_sat", num, "tx_count", num, "first_height", num, "last_height", num, "cluster_id", num, "cluster_size", num, "labels", arr(ref("Label")), "risk", obj("type", "object")),
		"HistoryItem":    o("txid", str, "height", num, "time", num, "received_sat", num, "sent_sat", num),
		"Cluster":        o("cluster_id", num, "cluster_address", str, "size", num, "addresses_sample", arr(str), "labels", arr(obj("type", "object")), "received_sat", num, "balance_sat", num, "truncated", boolean),
		"Member":         o("address", str, "address_id", num, "labels", arr(str)),
		"AddressTags":    o("address", str, "tags", arr(ref("TagView")), "attribution", obj("type", "object")),
		"TagView":        o("address", str, "currency", str, "label", str, "category", str, "source", str, "confidence", num, "date", str, "actor", str, "program", str, "authoritative", boolean),
		"ImportReport":   o("files", arr(str), "format", str, "import_id", str, "tags", num, "rejected", arr(o("address", str, "where", str, "reason", str))),
		"ImportView":     o("id", str, "time", str, "format", str, "files", arr(o("name", str, "sha256", str, "bytes", num)), "tags", num, "actors", num, "rejected", arr(o("address", str, "where", str, "reason", str)), "notes", arr(str)),
		"ImportList":     o("imports", arr(ref("ImportView"))),
		"RemovedImport":  o("import_id", str, "format", str, "files", arr(str), "tags", num, "tags_removed", num, "rescreen_alerts", num, "notes", arr(str)),
		"Heuristics":     o("txid", str, "coinjoin", o("detected", boolean, "kind", str, "confidence", obj("type", "number")), "change", arr(o("vout", num, "rule", str, "confidence", obj("type", "number")))),
		"HeuristicsList": arr(ref("Heuristics")),
		"Graph": o("nodes", arr(o("id", str, "kind", obj("type", "string", "enum", []string{"address", "tx", "cluster"}), "address", str, "txid", str, "cluster_id", num, "labels", arr(str), "category", str, "sanctioned", boolean)),
			"edges", arr(o("from", str, "to", str, "txid", str, "value_sat", num, "height", num)), "truncated", boolean),
		"ScreenRequest": obj("type", "object", "required", []string{"addresses"}, "additionalProperties", false,
			"properties", obj("addresses", obj("type", "array", "minItems", 1, "maxItems", maxScreenAddresses, "items", str))),
		"ScreenList": arr(obj("type", "object")),
		"Key":        o("id", str, "name", str, "role", str, "created", str, "revoked", str),
		"KeyList":    arr(ref("Key")),
		"NewKey":     o("id", str, "name", str, "role", str, "created", str, "key", str),
		"Alert": o("id", str, "seq", num, "kind", obj("type", "string", "enum", []string{"receive", "spend", "exchange_hop", "rescreen", "cluster_merge", "unconfirmed_receive", "unconfirmed_spend"}),
			"status", obj("type", "string", "enum", []string{"open", "acknowledged", "resolved", "retracted"}), "version", num, "watch_id", str, "watch", str, "watch_note", str,
			"address", str, "cluster_id", num, "txid", str, "height", num, "block_hash", str, "value_sat", num, "summary", str, "details", obj("type", "object"),
			"created", str, "updated", str, "fork_height", num, "note", str),
		"NoteRequest":    obj("type", "object", "additionalProperties", false, "properties", obj("note", str)),
		"WatchEntry":     o("id", str, "kind", str, "value", str, "cluster_id", num, "note", str, "created", str, "risk", arr(str), "screened", str),
		"WatchRequest":   obj("type", "object", "required", []string{"kind", "value"}, "additionalProperties", false, "properties", obj("kind", obj("type", "string", "enum", []string{"address", "cluster", "label", "category"}), "value", str, "note", str)),
		"Webhook":        o("id", str, "url", str, "created", str, "disabled", boolean),
		"WebhookList":    arr(ref("Webhook")),
		"WebhookRequest": obj("type", "object", "required", []string{"url", "secret"}, "additionalProperties", false, "properties", obj("url", str, "secret", str)),
		"Delivery":       o("id", str, "alert_id", str, "version", num, "webhook_id", str, "state", str, "attempts", num, "next_at", str, "last_error", str, "created", str),
		"Removed":        o("id", str, "removed", boolean),
		"ResendRequest":  obj("type", "object", "additionalProperties", false, "properties", obj("ids", arr(str), "all_dead", boolean)),
		"Resent":         o("resent", num, "deliveries", arr(ref("Delivery"))),
		"Report": o("tlp", str, "reporter", o("role", str, "name", str, "contact", str), "organisation", o("name", str, "sector", str, "jurisdiction", str),
			"attack", o("start", str, "end", str, "family", str, "actor", str, "description", str),
			"demand", o("date", str, "asset", str, "amount", str, "addresses", arr(str), "note_sha256", str),
			"payment", o("date", str, "asset", str, "amount", str, "from_addresses", arr(str), "to_addresses", arr(str), "txids", arr(str), "third_party_payer", str),
			"outcome", o("decryptor_provided", boolean, "decryptor_worked", boolean, "data_returned", boolean), "law_enforcement", o("engaged", boolean, "agencies", arr(str))),
		"Filed": obj("allOf", []any{ref("Report"), o("receipt", str, "submitted", str, "source", str, "overdue", boolean, "deadlines", arr(ref("Deadline")),
			"verification", o("verified", boolean, "pending", boolean, "index_height", num, "index_tip", str, "stated_sats", num, "received_sats", num, "tolerance_sats", num,
				"usd", obj("type", "number"), "usd_per_btc", obj("type", "number"), "price_date", str, "payment_addresses", arr(str), "warnings", arr(str),
				"transactions", arr(o("txid", str, "height", num, "block_hash", str, "block_time", str, "fee_sats", num, "paid", arr(o("outpoint", str, "address", str, "sats", num)))),
				"trace_request", o("direction", str, "outpoints", arr(str), "addresses", arr(str), "owner_labels", arr(str))))}),
		"Deadline":        o("regime", str, "hours", num, "due", str, "late", boolean),
		"DeadlinePreview": o("paid", str, "now", str, "deadlines", arr(ref("Deadline")), "overdue", boolean),
		"ExportRequest":   o("receipts", arr(str), "case", str, "format", obj("type", "string", "enum", []string{"stix", "misp", "tagpack", "ransomwhere"}), "to", str),
		"ImportResult":    o("format", str, "source", str, "sha256", str, "reports", arr(o("receipt", str, "source_receipt", str, "tlp", str, "verified", boolean, "note", str)), "tags", num, "import_id", str),
		"Stats": o("by", str, "reports", num, "payments", num, "verified", num, "sats", num, "usd", obj("type", "number"),
			"rows", arr(o("key", str, "reports", num, "payments", num, "verified", num, "sats", num, "usd", obj("type", "number"))),
			"origin_target", arr(o("origin", str, "target", str, "payments", num, "usd", obj("type", "number")))),
		"CaseRequest": o("name", str, "owner", str, "tlp", str),
		"CaseUpdate": o("addresses", arr(str), "clusters", arr(num), "reports", arr(str), "saved", arr(o("name", str, "kind", str, "data", obj("type", "object"))),
			"note", str, "owner", str, "tlp", str),
		"Case": o("id", str, "name", str, "owner", str, "tlp", str, "created", str, "updated", str, "addresses", arr(str), "clusters", arr(num), "reports", arr(str),
			"saved", arr(o("name", str, "kind", str, "added", str, "data", obj("type", "object"))), "notes", arr(o("time", str, "author", str, "text", str))),
		"CaseSummary":     o("id", str, "name", str, "owner", str, "tlp", str, "updated", str, "addresses", num, "reports", num, "saved", num, "notes", num),
		"EvidenceRequest": o("to", str),
		"AuditEntry":      o("seq", num, "time", str, "actor", str, "action", str, "object", str, "object_hash", str, "detail", str, "prev", str, "hash", str),
		"AuditCheck":      o("ok", boolean, "entries", num, "head", str, "break", o("seq", num, "reason", str)),
		"KeyRequest": obj("type", "object", "required", []string{"role"}, "additionalProperties", false,
			"properties", obj("role", obj("type", "string", "enum", []string{"admin", "analyst", "screening"}), "name", str)),
	}
}

func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", itoa(len(s.openapi)))
	w.Write(s.openapi)
}
