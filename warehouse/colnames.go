package warehouse

import "encoding/json"

// postgresNames names the unnamed result columns of a statement as
// PostgreSQL would, so every front end answers with the same names:
// count(*) is "count", not the engine's "count_star()", sum(x) is "sum",
// CASE … END is "case", a cast is named after what it casts. tree is the
// statement as json_serialize_sql gives it, names the engine's column
// names. Columns with an alias or a plain column reference, and those
// whose name would clash with another column's, keep the engine's name;
// statements whose select list cannot be matched to the columns (a *,
// a set operation) keep all of them. It reports whether any changed.
func postgresNames(tree string, names []string) ([]string, bool) {
	var doc struct {
		Error      bool `json:"error"`
		Statements []struct {
			Node struct {
				Type       string     `json:"type"`
				SelectList []exprNode `json:"select_list"`
			} `json:"node"`
		} `json:"statements"`
	}
	if json.Unmarshal([]byte(tree), &doc) != nil || doc.Error || len(doc.Statements) != 1 {
		return names, false
	}
	n := doc.Statements[0].Node
	if n.Type != "SELECT_NODE" || len(n.SelectList) != len(names) {
		return names, false
	}
	out := make([]string, len(names))
	for i, e := range n.SelectList {
		if e.Class == "STAR" || e.Class == "COLUMNS" {
			return names, false
		}
		out[i] = names[i]
		if e.Alias == "" {
			if pg := e.postgresName(); pg != "" {
				out[i] = pg
			}
		}
	}
	// A name two columns would share, or one another column has from the
	// engine, is not given: those columns keep the engine's names.
	uses, kept := map[string]int{}, map[string]bool{}
	for i := range out {
		uses[out[i]]++
		if out[i] == names[i] {
			kept[names[i]] = true
		}
	}
	changed := false
	for i := range out {
		if out[i] == names[i] {
			continue
		}
		if uses[out[i]] > 1 || kept[out[i]] {
			out[i] = names[i]
			continue
		}
		changed = true
	}
	return out, changed
}

// exprNode is the part of the engine's expression tree that names take.
type exprNode struct {
	Class        string    `json:"class"`
	Alias        string    `json:"alias"`
	FunctionName string    `json:"function_name"`
	IsOperator   bool      `json:"is_operator"`
	ColumnNames  []string  `json:"column_names"`
	Child        *exprNode `json:"child"`
}

// postgresName is PostgreSQL's default name for the expression, or ""
// where the engine's is kept.
func (e *exprNode) postgresName() string {
	switch e.Class {
	case "FUNCTION":
		switch {
		case e.IsOperator:
			return ""
		case e.FunctionName == "count_star":
			return "count"
		}
		return e.FunctionName
	case "CAST":
		if e.Child == nil {
			return ""
		}
		if e.Child.Class == "COLUMN_REF" && len(e.Child.ColumnNames) > 0 {
			return e.Child.ColumnNames[len(e.Child.ColumnNames)-1]
		}
		return e.Child.postgresName()
	case "CASE":
		return "case"
	}
	return ""
}
