package report

import "github.com/ransomtrail/ransomtrail/cluster"

// Clusters is what evidence bundles read from a clustering;
// *cluster.Clustering implements it.
type Clusters interface {
	Find(id uint32) uint32
	Explain(a, b uint32, maxVisit int) cluster.Explanation
}

var _ Clusters = (*cluster.Clustering)(nil)
