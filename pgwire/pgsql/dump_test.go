package pgsql

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestDumpQueries is a development aid: it prints each query of a testdata
// file with its rewrite and result.
//
//	PGSQL_DUMP=testdata/psql.sql go test -v -run TestDumpQueries ./pgwire/pgsql/
func TestDumpQueries(t *testing.T) {
	file := os.Getenv("PGSQL_DUMP")
	if file == "" {
		t.Skip("set PGSQL_DUMP to a testdata file")
	}
	conn := openEngine(t)
	var qs []goldenQuery
	if strings.Contains(file, "clients/") {
		for _, q := range splitStatements(t, file) {
			qs = append(qs, goldenQuery{"", q})
		}
	} else {
		qs = readGolden(t, file)
	}
	for _, g := range qs {
		st, err := Parse(g.text)
		if err != nil || st[0].Kind != KindSelect {
			fmt.Printf("== %s\n-> %v\n", g.text, err)
			continue
		}
		res, out, err := runStatement(conn, newTestSession(), st[0], clientArgs[st[0].Params]...)
		fmt.Printf("== %s %s\n-> %s\n%v\n%v\n", g.command, g.text, out, err, res.cols)
		for _, r := range res.rows {
			fmt.Println(r)
		}
	}
}
