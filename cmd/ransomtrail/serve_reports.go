package main

import (
	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/prices"
	"github.com/ransomtrail/ransomtrail/report"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// wireReports plugs the report service (reports, cases, sharing,
// statistics, evidence) into the API over the workspace: its state store,
// its chain index, the clustering at startup and the BTC/USD series of the
// data directory (read once; restart to see new prices).
func wireReports(cfg *api.Config, ws *workspace.Workspace, data string) error {
	pt, err := prices.Load(data)
	if err != nil {
		return err
	}
	svc := &report.Service{State: ws.State, Chain: ws.Index, Prices: pt}
	if c := ws.Clustering(); c != nil {
		svc.Clusters = c
	}
	cfg.Reports = svc
	return nil
}
