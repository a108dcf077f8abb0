package tags_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/tags"
)

func nil2() *chain.Network { return chain.MustNetwork("mainnet") }

// seed adds small real files (or the beginning of big ones) as fuzz seeds.
func seed(f *testing.F, paths ...string) {
	d := testchain.SharedDataDir()
	for _, p := range paths {
		b, err := os.ReadFile(filepath.Join(d, p))
		if err != nil {
			continue
		}
		if len(b) > 8<<10 {
			b = b[:8<<10]
		}
		f.Add(b)
	}
}

func checkResult(t *testing.T, res *tags.Result, err error) {
	if err != nil {
		if res != nil {
			t.Fatal("result with error")
		}
		return
	}
	for _, tg := range res.Tags {
		if tags.IsBitcoin(tg.Currency) && tg.AddrKey == nil {
			t.Fatalf("Bitcoin tag without key: %+v", tg)
		}
	}
}

func FuzzDetectAndParse(f *testing.F) {
	seed(f, "ofac/sdn-csv-tiny/sdn.csv", "ofac/sdn-csv-tiny/sdn_comments.csv", "graphsense-tagpacks/lazarus.yaml",
		"graphsense-tagpacks/mixing_fc2021.yaml", "ofac/lists-brave-intl-2025-11-19/sanctioned_addresses_XBT.txt",
		"ofac/lists-brave-intl-2025-11-19/sanctioned_addresses_ETH.json")
	f.Add([]byte(`[{"address":"115p7UMMngoj1pMvkpHijcRdfJNXj6LrLn","family":"WannaCry","blockchain":"bitcoin","transactions":[{"amount":1e8,"time":1}]}]`))
	f.Add([]byte("address,label,category,source,confidence\n12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx,x,scam,me,50\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := tags.Parse(bytes.NewReader(b), tags.Options{Name: "fuzz"})
		checkResult(t, res, err)
	})
}

func FuzzOFACXML(f *testing.F) {
	seed(f, "ofac/sdn_advanced_2025-11-19_dca_excerpt.xml")
	f.Add([]byte(`<Sanctions><ReferenceValueSets><FeatureTypeValues><FeatureType ID="344">Digital Currency Address - XBT</FeatureType></FeatureTypeValues></ReferenceValueSets><DistinctParties><DistinctParty FixedRef="1"><Profile ID="1"><Identity Primary="true"><Alias Primary="true"><DocumentedName><DocumentedNamePart><NamePartValue>X</NamePartValue></DocumentedNamePart></DocumentedName></Alias></Identity><Feature ID="2" FeatureTypeID="344"><FeatureVersion><VersionDetail>12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx</VersionDetail></FeatureVersion></Feature></Profile></DistinctParty></DistinctParties></Sanctions>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := tags.ParseFormat(bytes.NewReader(b), tags.FormatOFACXML, tags.Options{Name: "fuzz"})
		checkResult(t, res, err)
	})
}

func FuzzSDNCSV(f *testing.F) {
	seed(f, "ofac/sdn-csv-tiny/sdn.csv")
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := tags.ParseSDNCSV(bytes.NewReader(b), map[string]string{"33151": "aa35MVkf7sDjuGUYAP5izQt7Qi; x"}, tags.Options{Name: "fuzz"})
		checkResult(t, res, err)
	})
}

func FuzzTagPack(f *testing.F) {
	seed(f, "graphsense-tagpacks/lazarus.yaml", "graphsense-tagpacks/graphsense.actorpack.yaml")
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := tags.ParseFormat(bytes.NewReader(b), tags.FormatTagPack, tags.Options{Name: "fuzz"})
		checkResult(t, res, err)
	})
}

func FuzzRansomwhere(f *testing.F) {
	seed(f, "ransomware/ransomwhere/ransomwhere_export_2022-04.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := tags.ParseFormat(bytes.NewReader(b), tags.FormatRansomwhere, tags.Options{Name: "fuzz"})
		checkResult(t, res, err)
	})
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte("address,label,category,source,confidence\n12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx,x,scam,me,50\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := tags.ParseFormat(bytes.NewReader(b), tags.FormatCSV, tags.Options{Name: "fuzz"})
		checkResult(t, res, err)
	})
}

func FuzzAddressList(f *testing.F) {
	seed(f, "ofac/lists-brave-intl-2025-11-19/sanctioned_addresses_XBT.txt", "ofac/lists-brave-intl-2025-11-19/sanctioned_addresses_XBT.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := tags.ParseFormat(bytes.NewReader(b), tags.FormatAddressList, tags.Options{Name: "sanctioned_addresses_XBT.txt"})
		checkResult(t, res, err)
	})
}
