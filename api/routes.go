package api

import (
	"strings"

	"github.com/ransomtrail/ransomtrail/state"
)

// Caps of the paged routes (also stated in the OpenAPI document).
const (
	maxBlockTxsLimit = 1000
	maxHistoryLimit  = 1000
	maxMembersLimit  = 1000
	maxTagsLimit     = 1000
)

// traceParams are GET /api/v2/trace's query parameters (also the names
// its errors give fields: the engines' neutral names spelt by
// rt.ParamName in classify).
var traceParams = []param{{name: "address", in: "query", typ: "string"}, {name: "outpoint", in: "query", typ: "string"}, {name: "tx", in: "query", typ: "string"},
	{name: "direction", in: "query", typ: "string"}, {name: "model", in: "query", typ: "string"}, {name: "hops", in: "query", typ: "integer"},
	{name: "min_sat", in: "query", typ: "integer", desc: "taint below this many sats is not followed (default 546; 0: every amount, as 1)"}, {name: "max_nodes", in: "query", typ: "integer"},
	{name: "max_edges", in: "query", typ: "integer", desc: "edge cap (0 or absent: 4 × max_nodes)"},
	{name: "since_height", in: "query", typ: "integer", desc: "lowest height of the transactions traversed (a backward trace stops at funding below it)"},
	{name: "until_height", in: "query", typ: "integer", desc: "highest height of the transactions traversed, 0 for no bound (a forward trace stops at spends above it)"},
	{name: "demix", in: "query", typ: "string", desc: "auto (default), on or off: match custodial mixer deposits to payouts by amount and timing (inferred edges carry via=demix)"},
	{name: "demix_fee_min", in: "query", typ: "number"}, {name: "demix_fee_max", in: "query", typ: "number"},
	{name: "demix_min_delay", in: "query", typ: "string"}, {name: "demix_max_delay", in: "query", typ: "string"},
	{name: "demix_max_parts", in: "query", typ: "integer"}, {name: "demix_max_ambiguity", in: "query", typ: "integer"},
	{name: "demix_evidence", in: "query", typ: "string", desc: "partly-linked (default), linked, linked-first or amount: what a demixed payout set must show beyond amount and timing"},
	{name: "demix_owner", in: "query", typ: "string", desc: "a label the traced money's owner is known by (e.g. the ransomware family a victim's report names): clusters attributed with it count as the owner's wallets for linked evidence (repeatable)"},
	{name: "demix_max_linked_ambiguity", in: "query", typ: "integer"}, {name: "demix_link_max_cluster", in: "query", typ: "integer"}}

// demixParams are trace's demix_* parameters (the ransomware view takes
// them too).
func demixParams() []param {
	var out []param
	for _, p := range traceParams {
		if strings.HasPrefix(p.name, "demix_") {
			out = append(out, p)
		}
	}
	return out
}

var (
	qNetwork = param{name: "network", in: "query", typ: "string", desc: "network of the addresses in the body (default: the index's)"}
)

// table is the route table: the only place routes are declared.
func (s *Server) table() []*route {
	an, sc, ad := state.RoleAnalyst, state.RoleScreening, state.RoleAdmin
	return []*route{
		{method: "GET", pattern: "/healthz", tag: "ops", summary: "liveness (always 200), index height and, when following a node, its height, the lag and whether it answers (status \"degraded\" when not)", resp: "Health", raw: s.healthz},
		{method: "GET", pattern: "/readyz", tag: "ops", summary: "readiness: the /healthz body, 503 while degraded (the followed node does not answer)", resp: "Health", raw: s.readyz},
		{method: "GET", pattern: "/metrics", tag: "ops", summary: "Prometheus metrics (text exposition format)", respType: "text/plain", ungated: true,
			raw: s.writeMetrics},
		{method: "GET", pattern: "/api/openapi.json", tag: "ops", summary: "this OpenAPI document", ungated: true, raw: s.serveOpenAPI},

		{method: "GET", pattern: "/api/v1/address/{address}", role: sc, tag: "screening", resp: "Identifications",
			summary: "Chainalysis-compatible sanctions screening of one address",
			desc:    "Answers like Chainalysis' free sanctions API: the address's own authoritative sanctions designations (tags of category sanctions from an OFAC import; a CSV's, list's or TagPack's sanctions tags are not reported here), `identifications` empty (never null) when there is none. Existing clients switch by base URL; the key goes in the X-API-Key header.",
			h:       s.chainalysis},

		{method: "GET", pattern: "/api/v2/status", role: sc, tag: "chain", summary: "index status (as `ransomtrail status --json`)", resp: "Status", h: s.status},
		{method: "GET", pattern: "/api/v2/search", role: an, tag: "chain", summary: "find an address, transaction, block, cluster or label",
			params: []param{{name: "q", in: "query", typ: "string", required: true, desc: "an address, txid, block height or hash, cluster id (\"c123\" or a number) or label text"}},
			resp:   "Search", h: s.search},
		{method: "GET", pattern: "/api/v2/blocks/{id}", role: an, tag: "chain", summary: "block header fields and tx count (id: height or hash)", resp: "Block", h: s.block},
		{method: "GET", pattern: "/api/v2/blocks/{id}/txs", role: an, tag: "chain", summary: "the block's transactions, paged, with fee and size", maxLimit: maxBlockTxsLimit, resp: "BlockTx", h: s.blockTxs},
		{method: "GET", pattern: "/api/v2/txs/{txid}", role: an, tag: "chain", resp: "Tx",
			summary: "a transaction (as `ransomtrail tx --json`) with labels per address and CoinJoin/change findings", h: s.tx},
		{method: "GET", pattern: "/api/v2/addresses/{address}", role: an, tag: "chain", resp: "Address",
			summary: "an address (as `ransomtrail address --json`) with its cluster, labels and, when screening is available, risk", h: s.address},
		{method: "GET", pattern: "/api/v2/addresses/{address}/txs", role: an, tag: "chain", maxLimit: maxHistoryLimit, resp: "HistoryItem",
			summary: "the address's transactions, newest first, paged", desc: "Walks at most 1,000,000 outputs of the address; beyond, the answer is marked truncated.", h: s.addressTxs},

		{method: "GET", pattern: "/api/v2/clusters/{id}", role: an, tag: "clusters", resp: "Cluster",
			summary: "a cluster (as `ransomtrail cluster --json`); id is a cluster id number or a member address", h: s.cluster},
		{method: "GET", pattern: "/api/v2/clusters/{id}/members", role: an, tag: "clusters", maxLimit: maxMembersLimit, resp: "Member",
			summary: "the cluster's member addresses in address-id order, paged", desc: "Clusters above 1,000,000 members are listed up to that cap and marked truncated.", h: s.clusterMembers},
		{method: "GET", pattern: "/api/v2/explain", role: an, tag: "clusters", summary: "why two addresses are in one cluster (as `ransomtrail cluster explain --json`)",
			params: []param{{name: "a", in: "query", typ: "string", required: true, desc: "first address"}, {name: "b", in: "query", typ: "string", required: true, desc: "second address"}},
			h:      s.explain},

		{method: "GET", pattern: "/api/v2/tags/{address}", role: an, tag: "tags", resp: "AddressTags", summary: "the tags of an address (as `ransomtrail tags ADDR --json`)", h: s.addressTags},
		{method: "GET", pattern: "/api/v2/tags", role: an, tag: "tags", maxLimit: maxTagsLimit, resp: "TagView", summary: "stored tags, filtered, paged",
			params: []param{{name: "source", in: "query", typ: "string", desc: "only this source"}, {name: "category", in: "query", typ: "string", desc: "only this category"},
				{name: "currency", in: "query", typ: "string", desc: "only this currency (XBT, ETH, …)"}},
			h: s.listTags},
		{method: "POST", pattern: "/api/v2/tags/import", role: ad, tag: "tags", resp: "ImportReport",
			summary: "import a tag file (any format `ransomtrail tags import` detects); admin only",
			desc:    "The body is the file itself (up to 64 MiB), with a declared Content-Type other than text/plain, application/x-www-form-urlencoded or multipart/form-data (e.g. application/octet-stream; the format is detected from the content). The SDN CSV pair (sdn.csv + sdn_comments.csv) is imported with the CLI.",
			params:  []param{{name: "name", in: "query", typ: "string", desc: "the file's name, kept as provenance"}, qNetwork},
			body:    &bodyDoc{contentType: "application/octet-stream", desc: "a tag file"}, ungated: true, h: s.importTags},
		{method: "GET", pattern: "/api/v2/tags/imports", role: an, tag: "tags", resp: "ImportList", ungated: true,
			summary: "the recorded tag imports, oldest first: id, time, format, files with sizes, tags, actors, rejected entries, notes (as `ransomtrail tags imports --json`)",
			h:       s.listTagImports},
		{method: "DELETE", pattern: "/api/v2/tags/imports/{id}", role: ad, tag: "tags", resp: "RemovedImport", ungated: true,
			summary: "remove a tag import and the tags and actors no other import brought; admin only",
			desc:    "id is the import's full id or a prefix of at least 8 hex digits that only one import's id starts with: an unknown id is 404, a shorter or ambiguous prefix 400 (the message names the candidates). Tags another import also brought stay. The removal is audited with the key's name; screening follows it at once, and with a monitor the watchlist is re-screened.",
			h:       s.removeTagImport},

		{method: "GET", pattern: "/api/v2/keys", role: ad, tag: "keys", resp: "KeyList", summary: "list API keys (never the keys); admin only", h: s.listKeys},
		{method: "POST", pattern: "/api/v2/keys", role: ad, tag: "keys", resp: "NewKey", summary: "create an API key; the answer is the only time the key is shown; admin only",
			desc: "The same as `ransomtrail keys create`, for a running server (which holds the state store open).",
			body: &bodyDoc{contentType: "application/json", desc: "{\"role\":\"admin|analyst|screening\",\"name\":\"…\"}", schema: "KeyRequest"}, h: s.createKey},
		{method: "POST", pattern: "/api/v2/keys/{id}/revoke", role: ad, tag: "keys", resp: "Key", summary: "revoke an API key; admin only",
			desc: "The last active admin key is refused with 409 conflict: the running server holds the state store, so no one could manage keys again.", h: s.revokeKey},
		// Monitoring (alerts.go): state of the monitor, served with or without a follower.
		{method: "GET", pattern: "/api/v2/alerts", role: an, tag: "monitoring", seam: "Monitor", maxLimit: maxAlertsLimit, resp: "Alert", ungated: true,
			summary: "alerts, newest first, paged", params: []param{{name: "status", in: "query", typ: "string", desc: "open, acknowledged, resolved or retracted (default: all)"}}, h: s.listAlerts},
		{method: "GET", pattern: "/api/v2/alerts/{id}", role: an, tag: "monitoring", seam: "Monitor", resp: "Alert", ungated: true, summary: "one alert", h: s.getAlert},
		{method: "POST", pattern: "/api/v2/alerts/{id}/ack", role: an, tag: "monitoring", seam: "Monitor", resp: "Alert", ungated: true, actor: true, summary: "acknowledge an alert (someone is on it)",
			body: &bodyDoc{contentType: "application/json", desc: "optional {\"note\":\"…\"}", schema: "NoteRequest"}, h: s.setAlertStatus(false)},
		{method: "POST", pattern: "/api/v2/alerts/{id}/resolve", role: an, tag: "monitoring", seam: "Monitor", resp: "Alert", ungated: true, actor: true, summary: "resolve an alert",
			body: &bodyDoc{contentType: "application/json", desc: "optional {\"note\":\"…\"}", schema: "NoteRequest"}, h: s.setAlertStatus(true)},
		{method: "GET", pattern: "/api/v2/watchlist", role: an, tag: "monitoring", seam: "Monitor", maxLimit: maxAlertsLimit, resp: "WatchEntry", ungated: true, summary: "watchlist entries in id order, paged", h: s.listWatches},
		{method: "POST", pattern: "/api/v2/watchlist", role: an, tag: "monitoring", seam: "Monitor", resp: "WatchEntry", ungated: true, actor: true,
			summary: "watch an address, cluster, label or category (the same entity twice keeps one entry; its note is updated)",
			desc:    "Alerts are raised when the entity receives or spends in a followed block, and (address and cluster) when a tag import makes it risky.",
			body:    &bodyDoc{contentType: "application/json", desc: "{\"kind\":\"address|cluster|label|category\",\"value\":\"…\",\"note\":\"…\"}", schema: "WatchRequest"}, h: s.addWatch},
		{method: "GET", pattern: "/api/v2/watchlist/{id}", role: an, tag: "monitoring", seam: "Monitor", resp: "WatchEntry", ungated: true, summary: "one watchlist entry", h: s.getWatch},
		{method: "DELETE", pattern: "/api/v2/watchlist/{id}", role: an, tag: "monitoring", seam: "Monitor", resp: "Removed", ungated: true, actor: true, summary: "stop watching (the entry's alerts stay)", h: s.removeWatch},
		{method: "GET", pattern: "/api/v2/webhooks", role: ad, tag: "monitoring", seam: "Monitor", resp: "WebhookList", ungated: true, summary: "webhooks (secrets never shown); admin only", h: s.listWebhooks},
		{method: "POST", pattern: "/api/v2/webhooks", role: ad, tag: "monitoring", seam: "Monitor", resp: "Webhook", ungated: true,
			summary: "register a webhook: alerts are POSTed to it signed with HMAC-SHA256 of the secret; admin only",
			desc:    "The URL's host must be on the allow-list the follower was started with (serve --allow); deliveries to a host a later follower does not allow are held pending, not sent.",
			body:    &bodyDoc{contentType: "application/json", desc: "{\"url\":\"https://…\",\"secret\":\"at least 16 characters\"}", schema: "WebhookRequest"}, h: s.addWebhook},
		{method: "DELETE", pattern: "/api/v2/webhooks/{id}", role: ad, tag: "monitoring", seam: "Monitor", resp: "Removed", ungated: true, summary: "remove a webhook; admin only", h: s.removeWebhook},
		{method: "GET", pattern: "/api/v2/deliveries", role: ad, tag: "monitoring", seam: "Monitor", maxLimit: maxAlertsLimit, resp: "Delivery", ungated: true,
			summary: "webhook deliveries waiting (pending) or given up (dead); admin only", params: []param{{name: "state", in: "query", typ: "string", desc: "pending (default) or dead"}}, h: s.listDeliveries},
		{method: "POST", pattern: "/api/v2/deliveries/resend", role: ad, tag: "monitoring", seam: "Monitor", resp: "Resent", ungated: true,
			summary: "move dead-lettered deliveries back to the outbox (retried anew, delivered at once by a running follower); admin only",
			desc:    "An ID that is not a dead delivery is 404 (the IDs before it are resent).",
			body:    &bodyDoc{contentType: "application/json", desc: "{\"ids\":[\"ALERT/VERSION/WEBHOOK\",…]} or {\"all_dead\":true}", schema: "ResendRequest"}, h: s.resendDeliveries},

		{method: "GET", pattern: "/api/v2/heuristics/tx/{txid}", role: an, tag: "heuristics", resp: "Heuristics",
			summary: "CoinJoin and change findings of an indexed transaction (one `heuristics tx --json` line)", h: s.heuristicsTx},
		{method: "POST", pattern: "/api/v2/heuristics", role: an, tag: "heuristics", resp: "HeuristicsList", params: []param{qNetwork},
			summary: "CoinJoin and change findings of posted transactions (getrawtransaction verbosity 2/3 JSON)",
			body:    &bodyDoc{contentType: "application/json", desc: "a JSON array of transactions, or JSON lines (one per line); at most 1000"}, h: s.heuristicsPost},

		{method: "GET", pattern: "/api/v2/graph/neighbors", role: an, tag: "graph", resp: "Graph",
			summary: "the neighbours of a graph node: an address's transactions, a transaction's addresses, a cluster's counterparty clusters",
			params: []param{{name: "node", in: "query", typ: "string", required: true, desc: "a:ADDRESS, t:TXID or c:CLUSTERID"},
				{name: "direction", in: "query", typ: "string", desc: "forward (where money went), backward (where it came from) or both (default)"},
				{name: "limit", in: "query", typ: "integer", desc: "edges returned (1..500, default 50)", min: 1, max: maxNeighborEdges}},
			h: s.neighbors},

		{method: "GET", pattern: "/api/v2/trace", role: an, tag: "analysis", seam: "Trace", summary: "follow money (as `ransomtrail trace --json`)",
			params: traceParams,
			h:      s.trace},
		{method: "GET", pattern: "/api/v2/path", role: an, tag: "analysis", seam: "Path", summary: "a money path between two addresses (as `ransomtrail path --json`)",
			params: []param{{name: "from", in: "query", typ: "string", required: true, desc: "an address, or a cluster as cluster:N or cN"},
				{name: "to", in: "query", typ: "string", required: true, desc: "an address, or a cluster as cluster:N or cN"},
				{name: "hops", in: "query", typ: "integer", desc: "most hops of a path (1..50)"},
				{name: "max_visits", in: "query", typ: "integer", desc: "outputs visited before giving up (1..10,000,000)"},
				{name: "max_paths", in: "query", typ: "integer", desc: "paths returned (1..100)"}},
			h: s.path},
		{method: "GET", pattern: "/api/v2/ransomware", role: an, tag: "analysis", seam: "Ransomware",
			summary: "the ransomware families of the tags, with their addresses, payments and BTC received (as `ransomtrail ransomware --list --json`); with ?family=NAME, that family's view as /api/v2/ransomware/{family}",
			desc:    "?family= carries any family name, also one with a slash (BlackCat/ALPHV), which a path segment cannot (encoded slashes are refused); the other parameters are those of /api/v2/ransomware/{family}.",
			params: append([]param{{name: "family", in: "query", typ: "string", desc: "a family or campaign: answer its view (as /api/v2/ransomware/{family}) instead of the list"},
				{name: "hops", in: "query", typ: "integer", desc: "with family: hops of the cash-out trace (1..50, default 10)"},
				{name: "max_nodes", in: "query", typ: "integer", desc: "with family: node cap of the cash-out trace (default 200,000)"},
				{name: "demix", in: "query", typ: "string", desc: "with family: on to follow the trace through custodial mixers"}}, demixParams()...),
			h: s.ransomwareList},
		{method: "GET", pattern: "/api/v2/ransomware/{family}", role: an, tag: "analysis", seam: "Ransomware",
			summary: "what a ransomware family or campaign received (BTC, USD at each payment's day) and where it went: a forward haircut trace from every payment to its cash-outs (as `ransomtrail ransomware FAMILY --json`)",
			params: append([]param{{name: "hops", in: "query", typ: "integer", desc: "hops of the cash-out trace (1..50, default 10)"},
				{name: "max_nodes", in: "query", typ: "integer", desc: "node cap of the cash-out trace (default 200,000)"},
				{name: "demix", in: "query", typ: "string", desc: "on to follow the trace through custodial mixers (as trace's demix, with its demix_* parameters); each mixer deposit reached is listed in demixes with its explanation"}}, demixParams()...),
			h: s.ransomwareFamily},
		{method: "GET", pattern: "/api/v2/prices", role: an, tag: "analysis", seam: "Prices",
			summary: "the daily BTC/USD series the data directory holds: {\"days\",\"first\",\"last\"} (days 0 without one)", h: s.pricesSeries},
		{method: "GET", pattern: "/api/v2/prices/{date}", role: an, tag: "analysis", seam: "Prices",
			summary: "the BTC/USD close of a day (YYYY-MM-DD; a missing day answers with the last close before it, named in from), as `ransomtrail prices DATE --json`; 404 outside the series", h: s.priceOfDay},
		{method: "GET", pattern: "/api/v2/exposure/{address}", role: an, tag: "analysis", seam: "Exposure", summary: "exposure of an address (as `ransomtrail exposure --json`)",
			params: []param{{name: "hops", in: "query", typ: "integer"}}, h: s.exposure},
		{method: "GET", pattern: "/api/v2/screen/{address}", role: sc, tag: "screening", seam: "Screen", summary: "screen one address (an element of `ransomtrail screen --json`)", h: s.screenOne},
		{method: "POST", pattern: "/api/v2/screen", role: sc, tag: "screening", seam: "Screen", summary: "screen up to 10,000 addresses", resp: "ScreenList",
			body: &bodyDoc{contentType: "application/json", desc: "{\"addresses\":[…]} (1..10,000)", schema: "ScreenRequest"}, h: s.screenMany},

		// Ransom-payment reports, cases, sharing, statistics, audit (reports.go).
		{method: "POST", pattern: "/api/v2/reports", role: an, tag: "reports", seam: "Reports", actor: true, status: 201, resp: "Filed",
			summary: "file a ransom-payment report; verified on chain; answers 201 with the receipt",
			desc:    "The body is the report (at most 64 KiB; unknown fields refused). Every bad field is listed in error.fields (JSON pointers such as /payment/txids/0) and nothing is stored. Verified payment addresses become ransomware tags. The audit log records the key's name as the actor.",
			body:    &bodyDoc{contentType: "application/json", desc: "a report (docs/ARCHITECTURE.md, report JSON contract)", schema: "Report"}, h: s.submitReport},
		{method: "GET", pattern: "/api/v2/reports", role: an, tag: "reports", seam: "Reports", maxLimit: maxReportsLimit, resp: "Filed", summary: "filed reports in receipt order, paged",
			params: []param{{name: "overdue", in: "query", typ: "boolean", desc: "only reports filed after a deadline"}}, h: s.listReports},
		{method: "GET", pattern: "/api/v2/reports/deadlines", role: an, tag: "reports", resp: "DeadlinePreview", summary: "the filing deadlines of a payment (CIRCIA 24 h, RDA 48 h), judged now",
			params: []param{{name: "paid", in: "query", typ: "string", required: true, desc: "the payment time (RFC 3339, or YYYY-MM-DD: the end of that day)"}}, h: s.reportDeadlines},
		{method: "GET", pattern: "/api/v2/reports/{receipt}", role: an, tag: "reports", seam: "Reports", resp: "Filed", summary: "a filed report with its verification and deadlines", h: s.getReport},
		{method: "POST", pattern: "/api/v2/reports/{receipt}/verify", role: an, tag: "reports", seam: "Reports", actor: true, resp: "Filed",
			summary: "re-check a report's payment against the current index", desc: "A payment that no longer matches keeps its last verification; the mismatches are the 400's fields.", h: s.verifyReport},
		{method: "POST", pattern: "/api/v2/exports", role: an, tag: "reports", seam: "Reports", actor: true, respType: "application/octet-stream",
			summary: "export reports or a case as STIX 2.1, MISP, GraphSense TagPack or Ransomwhere JSON (a download)",
			desc:    "TLP is enforced: a TLP:RED report or case never leaves (403 forbidden, field tlp); TLP:AMBER and AMBER+STRICT need a named partner in `to` (400, field to); a report a partner sent marked AMBER or AMBER+STRICT goes back only to that partner (403, field tlp); a case's export marks every report at least as the case. The answer is the document (application/stix+json;version=2.1, application/json or application/yaml) with Content-Disposition naming the file, X-Export-SHA256 and X-Export-TLP. Every export is audited with the partner.",
			body:    &bodyDoc{contentType: "application/json", desc: "{\"receipts\":[…],\"case\":\"…\",\"format\":\"stix|misp|tagpack|ransomwhere\",\"to\":\"partner\"}", schema: "ExportRequest"}, raw: s.exportReports},
		{method: "POST", pattern: "/api/v2/imports", role: ad, tag: "reports", seam: "Reports", actor: true, resp: "ImportResult",
			summary: "import a partner's STIX bundle or MISP events (as reports) or TagPack or Ransomwhere JSON (as tags); admin only",
			params: []param{{name: "format", in: "query", typ: "string", required: true, desc: "stix, misp, tagpack or ransomwhere"},
				{name: "source", in: "query", typ: "string", required: true, desc: "the partner the document came from (kept as the source)"},
				{name: "name", in: "query", typ: "string", desc: "the file's name, for errors and provenance"}},
			body: &bodyDoc{contentType: "application/octet-stream", desc: "the partner's document"}, h: s.importReports},
		{method: "GET", pattern: "/api/v2/stats", role: an, tag: "reports", seam: "Reports", resp: "Stats",
			summary: "payments, verified payments, BTC and USD by one grouping, with the actor origin × victim jurisdiction breakdown",
			desc:    "A payment several reports name counts once (duplicate_payments); tlp is the strictest marking of the reports counted.",
			params: []param{{name: "by", in: "query", typ: "string", desc: "family (default), month, sector, jurisdiction or origin"},
				{name: "max_tlp", in: "query", typ: "string", desc: "count only reports marked at most this TLP (clear, green, amber, amber+strict, red)"}}, h: s.reportStats},
		{method: "POST", pattern: "/api/v2/cases", role: an, tag: "cases", seam: "Reports", actor: true, status: 201, resp: "Case", summary: "open a case (owner: the key's name when not given; TLP default amber)",
			body: &bodyDoc{contentType: "application/json", desc: "{\"name\":\"…\",\"owner\":\"…\",\"tlp\":\"…\"}", schema: "CaseRequest"}, h: s.createCase},
		{method: "GET", pattern: "/api/v2/cases", role: an, tag: "cases", seam: "Reports", maxLimit: maxCasesLimit, resp: "CaseSummary", summary: "cases in id order, paged (counts, without saved documents)", h: s.listCases},
		{method: "GET", pattern: "/api/v2/cases/{id}", role: an, tag: "cases", seam: "Reports", resp: "Case", summary: "a case with its addresses, clusters, reports, saved traces and graphs, notes", h: s.getCase},
		{method: "PATCH", pattern: "/api/v2/cases/{id}", role: an, tag: "cases", seam: "Reports", actor: true, resp: "Case",
			summary: "add addresses, clusters, reports, saved traces/graphs or a note; change the owner or TLP",
			desc:    "Every field is optional; the update is validated whole (error.fields) and stored at once. A saved document is {\"name\",\"kind\":\"trace|graph\",\"data\":JSON} (≤ 1 MiB).",
			body:    &bodyDoc{contentType: "application/json", desc: "{\"addresses\",\"clusters\",\"reports\",\"saved\",\"note\",\"owner\",\"tlp\"}", schema: "CaseUpdate"}, h: s.updateCase},
		{method: "POST", pattern: "/api/v2/cases/{id}/evidence", role: an, tag: "cases", seam: "Reports", actor: true, respType: "application/zip",
			summary: "the case's evidence bundle (.zip with a SHA-256 manifest; `ransomtrail evidence verify` checks it)",
			desc:    "The same TLP rule as exports over the case and its reports (403 for TLP:RED; `to` required above GREEN). X-Evidence-Digest carries the manifest digest.",
			body:    &bodyDoc{contentType: "application/json", desc: "optional: {\"to\":\"recipient\"}", schema: "EvidenceRequest", optional: true}, raw: s.caseEvidence},
		{method: "GET", pattern: "/api/v2/audit", role: ad, tag: "audit", maxLimit: maxAuditLimit, resp: "AuditEntry", summary: "audit log entries in sequence order, paged; admin only", h: s.listAudit},
		{method: "GET", pattern: "/api/v2/audit/verify", role: ad, tag: "audit", resp: "AuditCheck", summary: "check the audit log's hash chain (as `ransomtrail audit verify --json`); admin only", h: s.verifyAudit},
	}
}
