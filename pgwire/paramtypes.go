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
	oid := pgTypeOIDs[strings.ToLower(name)]
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
	"int8": oidInt8, "bigint": oidInt8, "oid": oidInt8,
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
