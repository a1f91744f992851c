package pgsql

import (
	"strconv"
	"strings"
)

// pgType is one built-in PostgreSQL type the catalog describes, with its
// real OID.
type pgType struct {
	oid      uint32
	name     string // typname
	length   int    // typlen
	byval    bool
	category string // typcategory
	elem     uint32 // element type of an array type
	array    uint32 // the array type of this type
	pre      string // format_type's text before a type modifier ("timestamp")
	post     string // after it (" with time zone")
	modkind  string // how format_type prints a typmod: len, num, prec or ""
	input    string // typinput
	align    string
	storage  string
	typtype  string // b base, p pseudo
	duck     string // the DuckDB type a value of this type is stored as
	infoType string // information_schema data_type when it differs from format_type
}

// Type OIDs used by the package.
const (
	oidBool        = 16
	oidBytea       = 17
	oidChar        = 18
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt2Vector  = 22
	oidInt4        = 23
	oidRegproc     = 24
	oidText        = 25
	oidOid         = 26
	oidXid         = 28
	oidOidVector   = 30
	oidJSON        = 114
	oidPgNodeTree  = 194
	oidFloat4      = 700
	oidFloat8      = 701
	oidAclitem     = 1033
	oidBpchar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidInterval    = 1186
	oidNumeric     = 1700
	oidRegclass    = 2205
	oidRegtype     = 2206
	oidUUID        = 2950
	oidJSONB       = 3802
	oidAnyarray    = 2277
	oidPgLsn       = 3220
)

// builtinTypes are the base types; their array types are derived.
var builtinTypes = []pgType{
	{oid: 16, name: "bool", length: 1, byval: true, category: "B", array: 1000, pre: "boolean", input: "boolin", align: "c", storage: "p", duck: "BOOLEAN"},
	{oid: 17, name: "bytea", length: -1, category: "U", array: 1001, pre: "bytea", input: "byteain", align: "i", storage: "x", duck: "BLOB"},
	{oid: 18, name: "char", length: 1, byval: true, category: "Z", array: 1002, pre: `"char"`, input: "charin", align: "c", storage: "p", duck: CharEngineType},
	{oid: 19, name: "name", length: 64, category: "S", array: 1003, pre: "name", input: "namein", align: "c", storage: "p", duck: "VARCHAR"},
	{oid: 20, name: "int8", length: 8, byval: true, category: "N", array: 1016, pre: "bigint", input: "int8in", align: "d", storage: "p", duck: "BIGINT"},
	{oid: 21, name: "int2", length: 2, byval: true, category: "N", array: 1005, pre: "smallint", input: "int2in", align: "s", storage: "p", duck: "SMALLINT"},
	{oid: 22, name: "int2vector", length: -1, category: "A", elem: 21, array: 1006, pre: "int2vector", input: "int2vectorin", align: "i", storage: "p", duck: "USMALLINT[]"},
	{oid: 23, name: "int4", length: 4, byval: true, category: "N", array: 1007, pre: "integer", input: "int4in", align: "i", storage: "p", duck: "INTEGER"},
	{oid: 24, name: "regproc", length: 4, byval: true, category: "N", array: 1008, pre: "regproc", input: "regprocin", align: "i", storage: "p", duck: "VARCHAR"},
	{oid: 25, name: "text", length: -1, category: "S", array: 1009, pre: "text", input: "textin", align: "i", storage: "x", duck: "VARCHAR"},
	{oid: 26, name: "oid", length: 4, byval: true, category: "N", array: 1028, pre: "oid", input: "oidin", align: "i", storage: "p", duck: "UINTEGER"},
	{oid: 27, name: "tid", length: 6, category: "U", array: 1010, pre: "tid", input: "tidin", align: "s", storage: "p", duck: "VARCHAR"},
	{oid: 28, name: "xid", length: 4, byval: true, category: "U", array: 1011, pre: "xid", input: "xidin", align: "i", storage: "p", duck: "BIGINT"},
	{oid: 29, name: "cid", length: 4, byval: true, category: "U", array: 1012, pre: "cid", input: "cidin", align: "i", storage: "p", duck: "BIGINT"},
	{oid: 30, name: "oidvector", length: -1, category: "A", elem: 26, array: 1013, pre: "oidvector", input: "oidvectorin", align: "i", storage: "p", duck: "UBIGINT[]"},
	{oid: 114, name: "json", length: -1, category: "U", array: 199, pre: "json", input: "json_in", align: "i", storage: "x", duck: "JSON"},
	{oid: 142, name: "xml", length: -1, category: "U", array: 143, pre: "xml", input: "xml_in", align: "i", storage: "x", duck: "VARCHAR"},
	{oid: 194, name: "pg_node_tree", length: -1, category: "Z", pre: "pg_node_tree", input: "pg_node_tree_in", align: "i", storage: "x", duck: "VARCHAR"},
	{oid: 650, name: "cidr", length: -1, category: "I", array: 651, pre: "cidr", input: "cidr_in", align: "i", storage: "m", duck: "VARCHAR"},
	{oid: 700, name: "float4", length: 4, byval: true, category: "N", array: 1021, pre: "real", input: "float4in", align: "i", storage: "p", duck: "REAL"},
	{oid: 701, name: "float8", length: 8, byval: true, category: "N", array: 1022, pre: "double precision", input: "float8in", align: "d", storage: "p", duck: "DOUBLE"},
	{oid: 705, name: "unknown", length: -2, category: "X", pre: "unknown", input: "unknownin", align: "c", storage: "p", typtype: "p", duck: "VARCHAR"},
	{oid: 829, name: "macaddr", length: 6, category: "U", array: 1040, pre: "macaddr", input: "macaddr_in", align: "i", storage: "p", duck: "VARCHAR"},
	{oid: 869, name: "inet", length: -1, category: "I", array: 1041, pre: "inet", input: "inet_in", align: "i", storage: "m", duck: "VARCHAR"},
	{oid: 1033, name: "aclitem", length: 12, category: "U", array: 1034, pre: "aclitem", input: "aclitemin", align: "i", storage: "p", duck: "VARCHAR"},
	{oid: 1042, name: "bpchar", length: -1, category: "S", array: 1014, pre: "character", modkind: "len", input: "bpcharin", align: "i", storage: "x", duck: "VARCHAR"},
	{oid: 1043, name: "varchar", length: -1, category: "S", array: 1015, pre: "character varying", modkind: "len", input: "varcharin", align: "i", storage: "x", duck: "VARCHAR"},
	{oid: 1082, name: "date", length: 4, byval: true, category: "D", array: 1182, pre: "date", input: "date_in", align: "i", storage: "p", duck: "DATE"},
	{oid: 1083, name: "time", length: 8, byval: true, category: "D", array: 1183, pre: "time", post: " without time zone", modkind: "prec", input: "time_in", align: "d", storage: "p", duck: "TIME"},
	{oid: 1114, name: "timestamp", length: 8, byval: true, category: "D", array: 1115, pre: "timestamp", post: " without time zone", modkind: "prec", input: "timestamp_in", align: "d", storage: "p", duck: "TIMESTAMP"},
	{oid: 1184, name: "timestamptz", length: 8, byval: true, category: "D", array: 1185, pre: "timestamp", post: " with time zone", modkind: "prec", input: "timestamptz_in", align: "d", storage: "p", duck: "TIMESTAMPTZ"},
	{oid: 1186, name: "interval", length: 16, category: "T", array: 1187, pre: "interval", input: "interval_in", align: "d", storage: "p", duck: "INTERVAL"},
	{oid: 1266, name: "timetz", length: 12, category: "D", array: 1270, pre: "time", post: " with time zone", modkind: "prec", input: "timetz_in", align: "d", storage: "p", duck: "TIMETZ"},
	{oid: 1560, name: "bit", length: -1, category: "V", array: 1561, pre: "bit", modkind: "len0", input: "bit_in", align: "i", storage: "x", duck: "VARCHAR"},
	{oid: 1562, name: "varbit", length: -1, category: "V", array: 1563, pre: "bit varying", modkind: "len0", input: "varbit_in", align: "i", storage: "x", duck: "VARCHAR"},
	{oid: 1700, name: "numeric", length: -1, category: "N", array: 1231, pre: "numeric", modkind: "num", input: "numeric_in", align: "i", storage: "m", duck: "DECIMAL(38,10)"},
	{oid: 2202, name: "regprocedure", length: 4, byval: true, category: "N", array: 2207, pre: "regprocedure", input: "regprocedurein", align: "i", storage: "p", duck: "VARCHAR"},
	{oid: 2203, name: "regoper", length: 4, byval: true, category: "N", array: 2208, pre: "regoper", input: "regoperin", align: "i", storage: "p", duck: "VARCHAR"},
	{oid: 2204, name: "regoperator", length: 4, byval: true, category: "N", array: 2209, pre: "regoperator", input: "regoperatorin", align: "i", storage: "p", duck: "VARCHAR"},
	{oid: 2205, name: "regclass", length: 4, byval: true, category: "N", array: 2210, pre: "regclass", input: "regclassin", align: "i", storage: "p", duck: "BIGINT"},
	{oid: 2206, name: "regtype", length: 4, byval: true, category: "N", array: 2211, pre: "regtype", input: "regtypein", align: "i", storage: "p", duck: "BIGINT"},
	{oid: 2249, name: "record", length: -1, category: "P", array: 2287, pre: "record", input: "record_in", align: "d", storage: "x", typtype: "p", duck: "VARCHAR"},
	{oid: 2275, name: "cstring", length: -2, category: "P", array: 1263, pre: "cstring", input: "cstring_in", align: "c", storage: "p", typtype: "p", duck: "VARCHAR"},
	{oid: 2276, name: "any", length: 4, byval: true, category: "P", pre: `"any"`, input: "any_in", align: "i", storage: "p", typtype: "p", duck: "VARCHAR"},
	{oid: 2277, name: "anyarray", length: -1, category: "P", pre: "anyarray", input: "anyarray_in", align: "d", storage: "x", typtype: "p", duck: "VARCHAR"},
	{oid: 2278, name: "void", length: 4, byval: true, category: "P", pre: "void", input: "void_in", align: "i", storage: "p", typtype: "p", duck: "VARCHAR"},
	{oid: 2279, name: "trigger", length: 4, byval: true, category: "P", pre: "trigger", input: "trigger_in", align: "i", storage: "p", typtype: "p", duck: "VARCHAR"},
	{oid: 2283, name: "anyelement", length: 4, byval: true, category: "P", pre: "anyelement", input: "anyelement_in", align: "i", storage: "p", typtype: "p", duck: "VARCHAR"},
	{oid: 2950, name: "uuid", length: 16, category: "U", array: 2951, pre: "uuid", input: "uuid_in", align: "c", storage: "p", duck: "UUID"},
	{oid: 3220, name: "pg_lsn", length: 8, byval: true, category: "U", array: 3221, pre: "pg_lsn", input: "pg_lsn_in", align: "d", storage: "p", duck: "VARCHAR"},
	{oid: 3802, name: "jsonb", length: -1, category: "U", array: 3807, pre: "jsonb", input: "jsonb_in", align: "i", storage: "x", duck: "JSON"},
	{oid: 4089, name: "regnamespace", length: 4, byval: true, category: "N", array: 4090, pre: "regnamespace", input: "regnamespacein", align: "i", storage: "p", duck: "BIGINT"},
	{oid: 4096, name: "regrole", length: 4, byval: true, category: "N", array: 4097, pre: "regrole", input: "regrolein", align: "i", storage: "p", duck: "BIGINT"},
}

// typeByOID and typeByName index builtinTypes plus the derived array
// types (named "_int4" and, for lookups, "int4[]").
var typeByOID, typeByName = func() (map[uint32]*pgType, map[string]*pgType) {
	byOID := map[uint32]*pgType{}
	byName := map[string]*pgType{}
	for i := range builtinTypes {
		t := &builtinTypes[i]
		if t.typtype == "" {
			t.typtype = "b"
		}
		byOID[t.oid] = t
		byName[t.name] = t
		byName[t.pre+t.post] = t
	}
	for i := range builtinTypes {
		t := &builtinTypes[i]
		if t.array == 0 {
			continue
		}
		a := &pgType{oid: t.array, name: "_" + t.name, length: -1, category: "A", elem: t.oid,
			pre: t.pre, post: t.post + "[]", modkind: t.modkind, input: "array_in", align: t.align, storage: "x",
			typtype: "b", duck: t.duck + "[]", infoType: "ARRAY"}
		if t.oid == oidInt2Vector || t.oid == oidOidVector {
			a.duck = t.duck + "[]"
		}
		byOID[a.oid] = a
		byName[a.name] = a
		byName[t.name+"[]"] = a
	}
	// Spellings a cast or regtype literal may use.
	for alias, name := range map[string]string{
		"int": "int4", "integer": "int4", "smallint": "int2", "bigint": "int8", "boolean": "bool",
		"real": "float4", "float": "float8", "double precision": "float8", "decimal": "numeric",
		"character varying": "varchar", "character": "bpchar", "timestamp with time zone": "timestamptz",
		"timestamp without time zone": "timestamp", "time without time zone": "time", "time with time zone": "timetz",
		`"char"`: "char", "string": "text",
	} {
		byName[alias] = byName[name]
	}
	return byOID, byName
}()

// formatType is format_type(oid, typmod) for the built-in types.
func formatType(oid uint32, typmod int32) string {
	t := typeByOID[oid]
	if t == nil {
		return "???"
	}
	if typmod < 0 {
		return t.pre + t.post
	}
	switch t.modkind {
	case "len":
		return t.pre + "(" + strconv.Itoa(int(typmod-4)) + ")" + t.post
	case "len0", "prec":
		return t.pre + "(" + strconv.Itoa(int(typmod)) + ")" + t.post
	case "num":
		m := typmod - 4
		return t.pre + "(" + strconv.Itoa(int(m>>16&0xffff)) + "," + strconv.Itoa(int(m&0xffff)) + ")" + t.post
	}
	return t.pre + t.post
}

// infoSchemaType is information_schema's data_type for a type.
func infoSchemaType(oid uint32) string {
	t := typeByOID[oid]
	if t == nil {
		return "USER-DEFINED"
	}
	if t.infoType != "" {
		return t.infoType
	}
	if t.category == "A" && t.elem != 0 && t.oid != oidInt2Vector && t.oid != oidOidVector {
		return "ARRAY"
	}
	return t.pre + t.post
}

// lookupType finds a type by a name as a cast or 'x'::regtype spells it.
func lookupType(name string) *pgType {
	name = strings.ToLower(strings.TrimPrefix(name, "pg_catalog."))
	return typeByName[name]
}
