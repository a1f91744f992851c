package pgwire

import (
	"encoding/json"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// castParamTypes finds parameters the statement casts explicitly
// ($1::int8, CAST($2 AS timestamptz)) and returns their Postgres types, as
// Postgres infers them. The engine reports no type for a parameter that is
// only cast, so without this clients would be told "text".
func castParamTypes(sql string) map[int]uint32 {
	if !strings.Contains(sql, "$") {
		return nil
	}
	js, err := pg_query.ParseToJSON(sql)
	if err != nil {
		return nil
	}
	var tree any
	if err := json.Unmarshal([]byte(js), &tree); err != nil {
		return nil
	}
	out := map[int]uint32{}
	var walk func(n any)
	walk = func(n any) {
		switch x := n.(type) {
		case map[string]any:
			if tc, ok := x["TypeCast"].(map[string]any); ok {
				if arg, ok := tc["arg"].(map[string]any); ok {
					if pr, ok := arg["ParamRef"].(map[string]any); ok {
						if num, ok := pr["number"].(float64); ok {
							if oid := typeNameOID(tc["typeName"]); oid != 0 {
								if _, seen := out[int(num)]; !seen {
									out[int(num)] = oid
								}
							}
						}
					}
				}
			}
			for _, v := range x {
				walk(v)
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		}
	}
	walk(tree)
	return out
}

// typeNameOID maps a parsed TypeName to its OID, or 0 when unknown.
func typeNameOID(tn any) uint32 {
	m, ok := tn.(map[string]any)
	if !ok {
		return 0
	}
	names, _ := m["names"].([]any)
	if len(names) == 0 {
		return 0
	}
	last, _ := names[len(names)-1].(map[string]any)
	str, _ := last["String"].(map[string]any)
	name, _ := str["sval"].(string)
	name = strings.ToLower(name)
	oid := pgTypeOIDs[name]
	if oid == 0 && strings.HasPrefix(name, "_") {
		// _text, _int8: PostgreSQL's names of the array types.
		if elem := pgTypeOIDs[name[1:]]; elem != 0 {
			return arrayOf[elem]
		}
	}
	if oid == 0 {
		return 0
	}
	if _, isArray := m["arrayBounds"]; isArray {
		return arrayOf[oid]
	}
	return oid
}

// pgTypeOIDs names Postgres types (as the parser spells them) and the
// engine's own spellings clients may use.
var pgTypeOIDs = map[string]uint32{
	"bool": oidBool, "boolean": oidBool,
	"int2": oidInt2, "smallint": oidInt2, "tinyint": oidInt2,
	"int4": oidInt4, "int": oidInt4, "integer": oidInt4,
	"int8": oidInt8, "bigint": oidInt8, "oid": oidOID,
	"float4": oidFloat4, "real": oidFloat4, "float": oidFloat8,
	"float8": oidFloat8, "double": oidFloat8,
	"numeric": oidNumeric, "decimal": oidNumeric, "hugeint": oidNumeric,
	"text": oidText, "varchar": oidText, "bpchar": oidText, "char": oidText, "name": oidText, "string": oidText,
	"bytea": oidBytea, "blob": oidBytea,
	"date": oidDate, "time": oidTime,
	"timestamp": oidTimestamp, "timestamptz": oidTimestampTZ,
	"interval": oidInterval, "uuid": oidUUID,
	"json": oidJSON, "jsonb": oidJSONB,
}

// engineTypes are the engine's types for the parameter types a client may
// announce; anything else (and "unknown", OID 0) is taken as text, as
// PostgreSQL resolves an untyped parameter it cannot infer.
var engineTypes = map[uint32]string{
	oidBool: "BOOLEAN", oidBytea: "BLOB", oidInt2: "SMALLINT", oidInt4: "INTEGER", oidInt8: "BIGINT",
	oidOID: "UINTEGER", oidFloat4: "FLOAT", oidFloat8: "DOUBLE", oidNumeric: "DOUBLE", oidDate: "DATE",
	oidTime: "TIME", oidTimestamp: "TIMESTAMP", oidTimestampTZ: "TIMESTAMPTZ", oidInterval: "INTERVAL",
	oidUUID: "UUID", oidJSON: "JSON", oidJSONB: "JSON",
}

// engineTypeOf is the engine type a parameter of type oid is cast to.
func engineTypeOf(oid uint32) string {
	if t, ok := engineTypes[oid]; ok {
		return t
	}
	return "VARCHAR"
}

// castParams returns the engine statement q with each parameter $n of
// types written as CAST($n AS types[n]). Parameters are found as the
// engine's lexer would: not inside quoted strings or identifiers,
// dollar-quoted strings or comments.
func castParams(q string, types map[int]string) string {
	var b strings.Builder
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(q) {
				if q[j] == c {
					if j+1 < len(q) && q[j+1] == c { // doubled: an escaped quote
						j += 2
						continue
					}
					break
				}
				if q[j] == '\\' && c == '\'' && i > 0 && (q[i-1] == 'E' || q[i-1] == 'e') {
					j++ // E'…' strings take backslash escapes
				}
				j++
			}
			j = min(j+1, len(q))
			b.WriteString(q[i:j])
			i = j
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				j = len(q) - i
			}
			b.WriteString(q[i : i+j])
			i += j
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			j := strings.Index(q[i+2:], "*/")
			end := len(q)
			if j >= 0 {
				end = i + 2 + j + 2
			}
			b.WriteString(q[i:end])
			i = end
		case c == '$' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			n := 0
			for _, d := range q[i+1 : j] {
				n = n*10 + int(d-'0')
			}
			if t, ok := types[n]; ok {
				b.WriteString("CAST(" + q[i:j] + " AS " + t + ")")
			} else {
				b.WriteString(q[i:j])
			}
			i = j
		case c == '$':
			// A dollar-quoted string: $tag$ … $tag$ (tag may be empty).
			j := i + 1
			for j < len(q) && (q[j] == '_' || q[j] >= 'a' && q[j] <= 'z' || q[j] >= 'A' && q[j] <= 'Z' || q[j] >= '0' && q[j] <= '9') {
				j++
			}
			if j < len(q) && q[j] == '$' {
				tag := q[i : j+1]
				end := strings.Index(q[j+1:], tag)
				stop := len(q)
				if end >= 0 {
					stop = j + 1 + end + len(tag)
				}
				b.WriteString(q[i:stop])
				i = stop
			} else {
				b.WriteByte(c)
				i++
			}
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}
