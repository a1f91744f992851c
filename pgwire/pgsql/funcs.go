package pgsql

import (
	"strconv"
	"strings"
	"time"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

var startTime = time.Now().UTC().Format("2006-01-02 15:04:05.999999-07")

// constantResults are functions replaced by a typed constant.
var constantResults = map[string]func() *pg_query.Node{
	"version":                    func() *pg_query.Node { return strConst(VersionString) },
	"current_database":           func() *pg_query.Node { return strConst(DatabaseName) },
	"current_catalog":            func() *pg_query.Node { return strConst(DatabaseName) },
	"pg_is_in_recovery":          func() *pg_query.Node { return boolConst(false) },
	"txid_current":               func() *pg_query.Node { return castTo(intConst(1000), "int8") },
	"txid_current_if_assigned":   func() *pg_query.Node { return nullOf("int8") },
	"pg_current_xact_id":         func() *pg_query.Node { return castTo(intConst(1000), "int8") },
	"inet_server_addr":           func() *pg_query.Node { return nullOf("varchar") },
	"inet_server_port":           func() *pg_query.Node { return nullOf("int4") },
	"inet_client_addr":           func() *pg_query.Node { return nullOf("varchar") },
	"inet_client_port":           func() *pg_query.Node { return nullOf("int4") },
	"pg_postmaster_start_time":   func() *pg_query.Node { return castTo(strConst(startTime), "timestamptz") },
	"pg_conf_load_time":          func() *pg_query.Node { return castTo(strConst(startTime), "timestamptz") },
	"pg_my_temp_schema":          func() *pg_query.Node { return castTo(intConst(0), "int8") },
	"pg_is_other_temp_schema":    func() *pg_query.Node { return boolConst(false) },
	"pg_encoding_max_length":     func() *pg_query.Node { return intConst(4) },
	"pg_relation_is_publishable": func() *pg_query.Node { return boolConst(false) },
	"pg_trigger_depth":           func() *pg_query.Node { return intConst(0) },
	"pg_jit_available":           func() *pg_query.Node { return boolConst(false) },
	"row_security_active":        func() *pg_query.Node { return boolConst(false) },
	"pg_tablespace_location":     func() *pg_query.Node { return strConst("") },
}

// trueFunctions are privilege and visibility checks: the session user owns
// everything it can see.
var trueFunctions = map[string]bool{
	"has_table_privilege": true, "has_schema_privilege": true, "has_database_privilege": true,
	"has_any_column_privilege": true, "has_column_privilege": true, "has_function_privilege": true,
	"has_sequence_privilege": true, "has_type_privilege": true, "has_language_privilege": true,
	"has_tablespace_privilege": true, "has_foreign_data_wrapper_privilege": true, "has_server_privilege": true,
	"pg_has_role": true, "pg_type_is_visible": true, "pg_function_is_visible": true,
	"pg_operator_is_visible": true, "pg_opclass_is_visible": true, "pg_opfamily_is_visible": true,
	"pg_collation_is_visible": true, "pg_conversion_is_visible": true, "pg_ts_config_is_visible": true,
	"pg_ts_dict_is_visible": true, "pg_ts_parser_is_visible": true, "pg_ts_template_is_visible": true,
	"pg_statistics_obj_is_visible": true,
}

// nullTextFunctions return definitions and expressions the catalog does not
// have: NULL text.
var nullTextFunctions = map[string]bool{
	"pg_get_expr": true, "pg_get_indexdef": true, "pg_get_constraintdef": true, "pg_get_partkeydef": true,
	"pg_get_viewdef": true, "pg_get_ruledef": true, "pg_get_statisticsobjdef_columns": true,
	"pg_get_statisticsobjdef": true, "pg_get_triggerdef": true,
	"pg_get_serial_sequence": true, "pg_get_partition_constraintdef": true, "pg_get_function_sqlbody": true,
	"acldefault": true,
}

// zeroFunctions are sizes and statistics: 0.
var zeroFunctions = map[string]bool{
	"pg_relation_size": true, "pg_total_relation_size": true, "pg_table_size": true, "pg_indexes_size": true,
	"pg_database_size": true, "pg_tablespace_size": true, "pg_column_size": true,
}

// macroFunctions are routed to the macro of the same name in pgcat; the
// value is the macro's arity, missing trailing arguments become NULL.
var macroFunctions = map[string]int{
	"format_type": 2, "pg_table_is_visible": 1, "obj_description": 2, "col_description": 2,
	"shobj_description": 2, "pg_encoding_to_char": 1, "pg_char_to_encoding": 1, "pg_size_pretty": 1,
	"quote_ident": 1, "quote_literal": 1, "quote_nullable": 1, "parse_ident": 1, "array_lower": 2,
	"array_upper": 2, "array_length": 2, "cardinality": 1, "pg_typeof": 1,
	"pg_get_function_arguments": 1, "pg_get_function_identity_arguments": 1, "pg_get_function_result": 1,
	"array_remove": 2, "pg_get_functiondef": 1,
}

// renamedFunctions are PostgreSQL functions DuckDB has under another name.
var renamedFunctions = map[string]string{
	"json_build_object": "json_object", "jsonb_build_object": "json_object", "json_build_array": "json_array",
	"jsonb_build_array": "json_array", "json_agg": "json_group_array", "jsonb_agg": "json_group_array",
	"json_object_agg": "json_group_object", "jsonb_object_agg": "json_group_object", "to_jsonb": "to_json",
	"row_to_json": "to_json", "jsonb_typeof": "json_type", "json_typeof": "json_type",
	"char_length": "length", "character_length": "length", "every": "bool_and",
	"statement_timestamp": "now", "clock_timestamp": "now", "timeofday": "now",
	"jsonb_array_length": "json_array_length",
}

func (r *rewriter) funcCall(n *pg_query.Node, fc *pg_query.FuncCall) (*pg_query.Node, error) {
	schema, name := funcName(fc)
	pos := r.pos(fc.Location)
	if err := checkFunction(schema, name, pos); err != nil {
		return nil, err
	}
	if IsAdvisoryFunc(name) {
		return nil, errorf(CodeFeatureNotSupported, pos, "%s can only be called on its own: SELECT %s(…)", name, name)
	}
	// Session functions read their (constant) arguments before rewriting.
	switch name {
	case "current_setting":
		return r.currentSetting(fc, pos)
	case "set_config":
		return r.setConfig(fc, pos)
	}
	if err := r.children(n); err != nil {
		return nil, err
	}
	if schema != "" && fc.Funcformat != pg_query.CoercionForm_COERCE_SQL_SYNTAX {
		fc.Funcname = []*pg_query.Node{pg_query.MakeStrNode(name)}
		r.changed = true
	}
	if f := constantResults[name]; f != nil {
		r.changed = true
		return f(), nil
	}
	switch {
	case trueFunctions[name]:
		r.changed = true
		return boolConst(true), nil
	case nullTextFunctions[name]:
		r.changed = true
		return nullOf("varchar"), nil
	case zeroFunctions[name], strings.HasPrefix(name, "pg_stat_get_"):
		r.changed = true
		return castTo(intConst(0), "int8"), nil
	}
	if arity, ok := macroFunctions[name]; ok {
		args := fc.Args
		if len(args) > arity {
			return nil, errorf(CodeUndefinedFunction, pos, "function %s with %d arguments does not exist", name, len(args))
		}
		for len(args) < arity {
			args = append(args, nullConst())
		}
		r.changed = true
		return funcCall(CatalogSchema+"."+name, args...), nil
	}
	if to, ok := renamedFunctions[name]; ok {
		fc.Funcname = []*pg_query.Node{pg_query.MakeStrNode(to)}
		r.changed = true
		return nil, nil
	}
	switch name {
	case "current_schema":
		r.changed = true
		return r.currentSchema(), nil
	case "current_schemas":
		r.changed = true
		path := r.searchPath()
		if b, _ := constBool(argAt(fc, 0)); b || len(fc.Args) == 0 {
			path = append([]string{"pg_catalog"}, path...)
		}
		elems := make([]*pg_query.Node, len(path))
		for i, p := range path {
			elems[i] = strConst(p)
		}
		if len(elems) == 0 {
			return castTo(&pg_query.Node{Node: &pg_query.Node_AArrayExpr{AArrayExpr: &pg_query.A_ArrayExpr{Location: -1}}}, "varchar[]"), nil
		}
		return &pg_query.Node{Node: &pg_query.Node_AArrayExpr{AArrayExpr: &pg_query.A_ArrayExpr{Elements: elems, Location: -1}}}, nil
	case "getpgusername", "current_user", "session_user", "current_role":
		r.changed = true
		return strConst(r.user()), nil
	case "pg_backend_pid":
		r.changed = true
		r.sessionDep = true
		if p, ok := r.sess.(BackendPIDer); ok {
			return intConst(int64(p.BackendPID())), nil
		}
		return intConst(0), nil
	case "pg_get_userbyid":
		r.changed = true
		return funcCall(CatalogSchema+".pg_get_userbyid", argAt(fc, 0), strConst(r.user())), nil
	case "to_regclass":
		r.changed = true
		return funcCall(CatalogSchema+".regclass_oid", argAt(fc, 0)), nil
	case "to_regtype":
		r.changed = true
		return funcCall(CatalogSchema+".regtype_oid", argAt(fc, 0)), nil
	case "to_regnamespace":
		r.changed = true
		return funcCall(CatalogSchema+".regnamespace_oid", argAt(fc, 0)), nil
	case "pg_get_keywords":
		return nil, errorf(CodeFeatureNotSupported, pos, "pg_get_keywords() can only be used in FROM")
	case "_pg_expandarray":
		// information_schema._pg_expandarray(a): a row (x, n) per element,
		// as pgjdbc's key and index metadata queries use it.
		r.changed = true
		return funcCall("unnest", funcCall(CatalogSchema+"._pg_expandarray", argAt(fc, 0))), nil
	case "generate_series":
		// A set-returning function in the select list: DuckDB's scalar
		// generate_series returns a list; unnest it into rows.
		r.changed = true
		return funcCall("unnest", n), nil
	case "format":
		return r.format(fc)
	case "obj_description":
	}
	return nil, nil
}

func argAt(fc *pg_query.FuncCall, i int) *pg_query.Node {
	if i < len(fc.Args) {
		return fc.Args[i]
	}
	return nullConst()
}

// currentSetting replaces current_setting(name [, missing_ok]) by the
// session's value.
func (r *rewriter) currentSetting(fc *pg_query.FuncCall, pos int) (*pg_query.Node, error) {
	name, ok := constText(argAt(fc, 0))
	if !ok || len(fc.Args) == 0 || len(fc.Args) > 2 {
		return nil, errorf(CodeFeatureNotSupported, pos, "current_setting needs a constant setting name")
	}
	name = strings.ToLower(name)
	missingOK, _ := constBool(argAt(fc, 1))
	r.changed = true
	v, found := r.setting(name)
	if !found {
		if missingOK {
			return nullOf("varchar"), nil
		}
		return nil, errorf(CodeUndefinedObject, pos, "unrecognized configuration parameter \"%s\"", name)
	}
	return strConst(v), nil
}

// setConfig applies set_config(name, value, is_local) to the session and
// is replaced by the value.
func (r *rewriter) setConfig(fc *pg_query.FuncCall, pos int) (*pg_query.Node, error) {
	name, ok1 := constText(argAt(fc, 0))
	value, ok2 := constText(argAt(fc, 1))
	local, ok3 := constBool(argAt(fc, 2))
	if len(fc.Args) == 3 && !ok1 {
		// A setting named by a column (pg_dump: SELECT set_config(name, …)
		// FROM pg_settings WHERE name = 'x', for a setting that may not
		// exist): settings change while the statement is rewritten, so
		// only a statement that finds no row can run; one that finds a
		// row fails on it.
		arg, err := r.node(argAt(fc, 0))
		if err != nil {
			return nil, err
		}
		r.changed = true
		return funcCall("error", funcCall("concat", strConst("set_config needs a constant setting name, got "), arg)), nil
	}
	if len(fc.Args) != 3 || !ok1 || !ok3 || (!ok2 && !isNullConst(argAt(fc, 1))) {
		return nil, errorf(CodeFeatureNotSupported, pos, "set_config needs constant arguments")
	}
	name = strings.ToLower(name)
	if err := checkSettable(name, pos); err != nil {
		return nil, err
	}
	r.changed, r.sessionDep = true, true
	if r.sess != nil {
		if err := r.sess.SetSetting(name, value, local); err != nil {
			if e, ok := err.(*Error); ok {
				return nil, e
			}
			return nil, errorf(CodeInvalidParameter, pos, "%v", err)
		}
	}
	return strConst(value), nil
}

// format translates PostgreSQL's format() with a constant format string
// into printf: %I and %L quote their argument.
func (r *rewriter) format(fc *pg_query.FuncCall) (*pg_query.Node, error) {
	f, ok := constText(argAt(fc, 0))
	if !ok || len(fc.Args) == 0 {
		return nil, nil
	}
	var out strings.Builder
	args := []*pg_query.Node{nil}
	next := 1
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			out.WriteByte(f[i])
			continue
		}
		i++
		if i >= len(f) {
			return nil, errorf(CodeInvalidParameter, 0, "unterminated format() type specifier")
		}
		switch f[i] {
		case '%':
			out.WriteString("%%")
			continue
		case 's', 'I', 'L':
		default:
			return nil, errorf(CodeFeatureNotSupported, 0, "format() specifier %%%c is not supported", f[i])
		}
		if next >= len(fc.Args) {
			return nil, errorf(CodeInvalidParameter, 0, "too few arguments for format()")
		}
		a := fc.Args[next]
		next++
		switch f[i] {
		case 'I':
			a = funcCall(CatalogSchema+".quote_ident", a)
		case 'L':
			a = funcCall(CatalogSchema+".quote_nullable", a)
		default:
			a = funcCall("coalesce", castTo(a, "varchar"), strConst(""))
		}
		out.WriteString("%s")
		args = append(args, a)
	}
	args[0] = strConst(out.String())
	r.changed = true
	return funcCall("printf", args...), nil
}

// Cast targets.

// regTypes are PostgreSQL's OID alias types.
var regTypes = map[string]bool{
	"regclass": true, "regtype": true, "regproc": true, "regprocedure": true, "regoper": true,
	"regoperator": true, "regnamespace": true, "regrole": true, "regconfig": true, "regdictionary": true,
	"regcollation": true,
}

// castTypes maps PostgreSQL types DuckDB lacks (or spells otherwise) to a
// DuckDB type.
var castTypes = map[string]string{
	"oid": "uinteger", "xid": "bigint", "xid8": "bigint", "cid": "bigint", "tid": "varchar",
	"name": "varchar", "char": "varchar", "text": "varchar", "bpchar": "varchar", "int2vector": "usmallint[]",
	"oidvector": "ubigint[]", "aclitem": "varchar", "pg_node_tree": "varchar", "pg_lsn": "varchar",
	"inet": "varchar", "cidr": "varchar", "macaddr": "varchar", "xml": "varchar", "jsonb": "json",
	"regproc": "varchar", "regprocedure": "varchar", "regoper": "varchar", "regoperator": "varchar",
	"anyarray": "varchar", "unknown": "varchar", "tsvector": "varchar", "money": "double", "citext": "varchar",
	"int2": "smallint", "int4": "integer", "int8": "bigint", "float4": "real", "float8": "double",
}

// deparsedAsKeyword are the pg_catalog types the deparser writes as SQL
// keywords (bigint, timestamp with time zone, …) rather than qualified.
var deparsedAsKeyword = map[string]bool{
	"bpchar": true, "varchar": true, "numeric": true, "bool": true, "int2": true, "int4": true, "int8": true,
	"float4": true, "float8": true, "time": true, "timetz": true, "timestamp": true, "timestamptz": true,
	"interval": true, "bit": true, "varbit": true,
}

// duckNative are PostgreSQL type names DuckDB reads the same way.
var duckNative = map[string]bool{
	"text": true, "int2": true, "int4": true, "int8": true, "float4": true, "float8": true, "bpchar": true,
}

// typeParts returns a TypeName's lower-case name without pg_catalog,
// whether it was qualified, and whether it is an array.
func typeParts(tn *pg_query.TypeName) (name string, qualified, array bool) {
	names := tn.GetNames()
	if len(names) == 0 {
		return "", false, false
	}
	name = names[len(names)-1].GetString_().GetSval()
	return name, len(names) > 1, len(tn.ArrayBounds) > 0
}

func (r *rewriter) typeCast(n *pg_query.Node, tc *pg_query.TypeCast) (*pg_query.Node, error) {
	name, qualified, array := typeParts(tc.TypeName)
	pos := r.pos(tc.Location)
	// _text, _int8 …: PostgreSQL's own names of array types (asyncpg
	// casts to them).
	if !array && strings.HasPrefix(name, "_") {
		if t := typeByName[name]; t != nil && t.elem != 0 {
			if et := typeByOID[t.elem]; et != nil {
				name, array = et.name, true
				tc.TypeName = typeName(et.name)
				tc.TypeName.ArrayBounds = []*pg_query.Node{pg_query.MakeIntNode(-1)}
				r.changed = true
			}
		}
	}
	if !array && regTypes[name] {
		return r.regCast(tc.Arg, name, "", pos)
	}
	// A timestamp with time zone as time: the time of day in the session's
	// time zone (the engine has no such cast).
	if !array && (name == "time" || name == "timetz") && r.isTimestamptz(tc.Arg) {
		arg, err := r.node(tc.Arg)
		if err != nil {
			return nil, err
		}
		tz, _ := r.setting("timezone")
		if tz == "" {
			tz = "UTC"
		}
		r.changed, r.sessionDep = true, true
		return castTo(funcCall("timezone", strConst(tz), arg), "time"), nil
	}
	// A constant as numeric keeps the scale it is written with (1.25 is
	// 1.25, not the engine's default DECIMAL(18,3) 1.250), as PostgreSQL's
	// numeric does.
	if !array && (name == "numeric" || name == "decimal") && len(tc.TypeName.Typmods) == 0 {
		if prec, scale, ok := decimalOfConstant(tc.Arg); ok {
			r.changed = true
			tc.TypeName = typeName("decimal")
			tc.TypeName.Typmods = []*pg_query.Node{pg_query.MakeAConstIntNode(int64(prec), -1), pg_query.MakeAConstIntNode(int64(scale), -1)}
			return nil, nil
		}
	}
	// x::regtype[]: each OID's type name (pgcli lists argument types so).
	if array && name == "regtype" {
		arg, err := r.node(tc.Arg)
		if err != nil {
			return nil, err
		}
		r.changed = true
		return funcCall(CatalogSchema+".regtype_names", arg), nil
	}
	// An array cast to text prints as PostgreSQL prints arrays: {a,b}.
	if !array && (name == "text" || name == "varchar") {
		isArray := tc.Arg.GetAArrayExpr() != nil
		if inner := tc.Arg.GetTypeCast(); inner != nil {
			iname, _, iarr := typeParts(inner.TypeName)
			t := typeByName[iname]
			isArray = iarr || (strings.HasPrefix(iname, "_") && t != nil && t.elem != 0)
		}
		if isArray {
			arg, err := r.node(tc.Arg)
			if err != nil {
				return nil, err
			}
			r.changed = true
			return funcCall(CatalogSchema+".array_text", arg), nil
		}
	}
	// X::regclass::oid and friends: the OID, not the name.
	if inner := tc.Arg.GetTypeCast(); inner != nil && !array {
		if iname, _, iarr := typeParts(inner.TypeName); !iarr && regTypes[iname] {
			return r.regCast(inner.Arg, iname, name, pos)
		}
	}
	// An array literal: '{a,b}'::text[] → ARRAY['a','b'].
	if array {
		if s, ok := tc.Arg.GetAConst().GetVal().(*pg_query.A_Const_Sval); ok {
			elems, ok := parseArrayLiteral(s.Sval.Sval)
			if !ok {
				return nil, errorf(CodeInvalidParameter, r.pos(tc.Arg.GetAConst().Location), "malformed array literal: \"%s\"", s.Sval.Sval)
			}
			r.changed = true
			arr := arrayOf(elems)
			elem := name
			if d, ok := castTypes[name]; ok {
				elem = d
			}
			if elem == "varchar" || elem == "text" {
				if len(elems) == 0 {
					return castTo(arr, "varchar[]"), nil
				}
				return arr, nil
			}
			return castTo(arr, elem+"[]"), nil
		}
	}
	arg, err := r.node(tc.Arg)
	if err != nil {
		return nil, err
	}
	tc.Arg = arg
	if !qualified && duckNative[name] {
		return nil, nil
	}
	if d, ok := castTypes[name]; ok {
		if array {
			d += "[]"
		}
		if len(tc.TypeName.Typmods) > 0 && (name == "bpchar" || name == "varchar") {
			tc.TypeName.Names = []*pg_query.Node{pg_query.MakeStrNode("varchar")}
			r.changed = r.changed || qualified
			return nil, nil
		}
		tc.TypeName = typeName(d)
		r.changed = true
		return nil, nil
	}
	// pg_catalog.json and the like: the deparser writes the schema for
	// types it has no keyword for, which the engine does not know.
	if qualified && !deparsedAsKeyword[name] {
		tc.TypeName.Names = []*pg_query.Node{pg_query.MakeStrNode(name)}
		r.changed = true
	}
	switch name {
	case "timestamp", "timestamptz", "time", "timetz", "interval":
		if len(tc.TypeName.Typmods) > 0 {
			tc.TypeName.Typmods = nil
			r.changed = true
		}
	}
	return nil, nil
}

// regCast rewrites a cast of arg to an OID alias type. outer is the type
// the result is cast to next ("oid", "text", …) or "".
func (r *rewriter) regCast(arg *pg_query.Node, reg, outer string, pos int) (*pg_query.Node, error) {
	r.changed = true
	wantOID := false
	switch outer {
	case "oid", "int4", "int8", "int2", "integer", "bigint":
		wantOID = true
	case "", "text", "varchar", "name", "bpchar":
	default:
		wantOID = true
	}
	if s, ok := arg.GetAConst().GetVal().(*pg_query.A_Const_Sval); ok {
		return r.regConst(s.Sval.Sval, reg, outer, pos)
	}
	inner, err := r.node(arg)
	if err != nil {
		return nil, err
	}
	if arg.GetParamRef() != nil && outer == "" {
		// $1::regtype: the client sends a name ('json', 'text[]') or a
		// number, which becomes the OID, as PostgreSQL's input function
		// reads it (psycopg's TypeInfo.fetch compares it with pg_type.oid).
		inner = castTo(inner, "varchar")
		wantOID = true
	}
	if wantOID {
		switch reg {
		case "regclass":
			return funcCall(CatalogSchema+".regclass_oid", inner), nil
		case "regtype":
			return funcCall(CatalogSchema+".regtype_oid", inner), nil
		case "regnamespace":
			return funcCall(CatalogSchema+".regnamespace_oid", inner), nil
		}
		return castTo(inner, "bigint"), nil
	}
	switch reg {
	case "regclass":
		return funcCall(CatalogSchema+".regclass_name", inner), nil
	case "regtype":
		return funcCall(CatalogSchema+".format_type", inner, nullConst()), nil
	case "regnamespace":
		return funcCall(CatalogSchema+".regnamespace_name", inner), nil
	case "regrole":
		return funcCall(CatalogSchema+".pg_get_userbyid", inner, strConst(r.user())), nil
	}
	return castTo(inner, "varchar"), nil
}

// regConst resolves 'name'::regclass (and the other alias types) at
// rewrite time. The result is the OID, except for regproc-like types,
// which the catalog stores by name, and casts to text.
func (r *rewriter) regConst(s, reg, outer string, pos int) (*pg_query.Node, error) {
	asText := outer == "text" || outer == "varchar" || outer == "name"
	if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
		if asText {
			switch reg {
			case "regclass":
				return funcCall(CatalogSchema+".regclass_name", intConst(n)), nil
			case "regtype":
				return funcCall(CatalogSchema+".format_type", intConst(n), nullConst()), nil
			}
		}
		return castTo(intConst(n), "bigint"), nil
	}
	switch reg {
	case "regclass":
		oid, ok := r.reg.classOID(s)
		if !ok {
			return nil, errorf(CodeUndefinedTable, pos, "relation \"%s\" does not exist", s)
		}
		if asText {
			return strConst(s), nil
		}
		return castTo(intConst(int64(oid)), "bigint"), nil
	case "regtype":
		t := lookupType(s)
		if t == nil {
			return nil, errorf(CodeUndefinedObject, pos, "type \"%s\" does not exist", s)
		}
		if asText {
			return strConst(t.pre + t.post), nil
		}
		return castTo(intConst(int64(t.oid)), "bigint"), nil
	case "regnamespace":
		oid, ok := r.reg.build.schemaOIDs[strings.Trim(s, `"`)]
		if !ok {
			return nil, errorf(CodeUndefinedObject, pos, "schema \"%s\" does not exist", s)
		}
		if asText {
			return strConst(s), nil
		}
		return castTo(intConst(int64(oid)), "bigint"), nil
	case "regrole":
		if asText {
			return strConst(s), nil
		}
		return castTo(intConst(ownerOID), "bigint"), nil
	}
	// regproc and the operator types: the catalog holds names.
	parts := splitQualified(s)
	return strConst(parts[len(parts)-1]), nil
}

// parseArrayLiteral parses a one-dimensional PostgreSQL array literal
// ('{a,"b c",NULL}'); nil elements are NULLs.
func parseArrayLiteral(s string) ([]*string, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, false
	}
	body := s[1 : len(s)-1]
	var out []*string
	if strings.TrimSpace(body) == "" {
		return out, true
	}
	i := 0
	for {
		for i < len(body) && body[i] == ' ' {
			i++
		}
		var b strings.Builder
		quoted := false
		if i < len(body) && body[i] == '"' {
			quoted = true
			i++
			for i < len(body) && body[i] != '"' {
				if body[i] == '\\' && i+1 < len(body) {
					i++
				}
				b.WriteByte(body[i])
				i++
			}
			if i >= len(body) {
				return nil, false
			}
			i++
		} else {
			for i < len(body) && body[i] != ',' {
				if body[i] == '{' || body[i] == '}' || body[i] == '"' {
					return nil, false
				}
				if body[i] == '\\' && i+1 < len(body) {
					i++
				}
				b.WriteByte(body[i])
				i++
			}
		}
		v := b.String()
		if !quoted {
			v = strings.TrimSpace(v)
		}
		if !quoted && strings.EqualFold(v, "NULL") {
			out = append(out, nil)
		} else {
			out = append(out, &v)
		}
		for i < len(body) && body[i] == ' ' {
			i++
		}
		if i >= len(body) {
			return out, true
		}
		if body[i] != ',' {
			return nil, false
		}
		i++
	}
}

// listText renders array elements as the engine's list text: every
// element quoted, NULL bare.
func listText(elems []*string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range elems {
		if i > 0 {
			b.WriteString(", ")
		}
		if e == nil {
			b.WriteString("NULL")
			continue
		}
		WriteListElement(&b, *e)
	}
	b.WriteByte(']')
	return b.String()
}

// WriteListElement writes text as an element of the engine's list text,
// which the engine casts to any element type: quoted, with quotes and
// backslashes escaped.
func WriteListElement(b *strings.Builder, text string) {
	b.WriteByte('"')
	for _, r := range text {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
}

func arrayOf(elems []*string) *pg_query.Node {
	nodes := make([]*pg_query.Node, len(elems))
	for i, e := range elems {
		if e == nil {
			nodes[i] = nullConst()
		} else {
			nodes[i] = strConst(*e)
		}
	}
	return &pg_query.Node{Node: &pg_query.Node_AArrayExpr{AArrayExpr: &pg_query.A_ArrayExpr{Elements: nodes, Location: -1}}}
}

// Operators.

func (r *rewriter) aExpr(n *pg_query.Node, e *pg_query.A_Expr) (*pg_query.Node, error) {
	op := ""
	if len(e.Name) > 0 {
		op = e.Name[len(e.Name)-1].GetString_().GetSval()
		if len(e.Name) > 1 {
			e.Name = []*pg_query.Node{pg_query.MakeStrNode(op)}
			r.changed = true
		}
	}
	// Two regtype values compared are compared as OIDs (a column's
	// x::regtype alone reads as the type's name).
	if e.Kind == pg_query.A_Expr_Kind_AEXPR_OP && isRegCast(e.Lexpr) && isRegCast(e.Rexpr) {
		e.Lexpr = castTo(e.Lexpr, "oid")
		e.Rexpr = castTo(e.Rexpr, "oid")
		r.changed = true
	}
	// A namespace compared with a schema name: relnamespace = 'public'.
	if e.Kind == pg_query.A_Expr_Kind_AEXPR_OP && (op == "=" || op == "<>") {
		r.namespaceLiteral(e.Lexpr, e.Rexpr)
		r.namespaceLiteral(e.Rexpr, e.Lexpr)
		r.arrayLiteralOperand(e.Lexpr, e.Rexpr)
		r.arrayLiteralOperand(e.Rexpr, e.Lexpr)
	}
	if err := r.children(n); err != nil {
		return nil, err
	}
	switch e.Kind {
	case pg_query.A_Expr_Kind_AEXPR_OP:
		switch op {
		case "~", "!~", "~*", "!~*":
			if e.Lexpr == nil {
				break // prefix ~ is bitwise NOT
			}
			// DuckDB's ~ is a full match; PostgreSQL's finds the pattern
			// anywhere.
			r.changed = true
			args := []*pg_query.Node{e.Lexpr, e.Rexpr}
			if strings.HasSuffix(op, "*") {
				args = append(args, strConst("i"))
			}
			call := funcCall("regexp_matches", args...)
			if strings.HasPrefix(op, "!") {
				return notExpr(call), nil
			}
			return call, nil
		case "/":
			if r.isInteger(e.Lexpr) && r.isInteger(e.Rexpr) {
				e.Name = []*pg_query.Node{pg_query.MakeStrNode("//")}
				r.changed = true
			}
		}
	case pg_query.A_Expr_Kind_AEXPR_LIKE, pg_query.A_Expr_Kind_AEXPR_ILIKE:
		if esc := e.Rexpr.GetFuncCall(); esc != nil {
			if _, fname := funcName(esc); fname == "like_escape" && len(esc.Args) == 2 {
				fn := "like_escape"
				if e.Kind == pg_query.A_Expr_Kind_AEXPR_ILIKE {
					fn = "ilike_escape"
				}
				r.changed = true
				call := funcCall(fn, e.Lexpr, esc.Args[0], esc.Args[1])
				if strings.HasPrefix(op, "!") {
					return notExpr(call), nil
				}
				return call, nil
			}
		}
	case pg_query.A_Expr_Kind_AEXPR_OP_ANY, pg_query.A_Expr_Kind_AEXPR_OP_ALL:
		switch op {
		case "~", "!~", "~*", "!~*":
			return nil, errorf(CodeFeatureNotSupported, r.pos(e.Location), "regular expression operators with ANY/ALL are not supported")
		}
		// x = ANY('{a,b}'): the literal is an array, as PostgreSQL
		// reads an untyped literal where an array must be.
		if k := e.Rexpr.GetAConst(); k != nil {
			if s, ok := k.Val.(*pg_query.A_Const_Sval); ok {
				elems, ok := parseArrayLiteral(s.Sval.Sval)
				if !ok {
					return nil, errorf(CodeInvalidParameter, r.pos(k.Location), "malformed array literal: \"%s\"", s.Sval.Sval)
				}
				// As the engine's list text, which it casts to a list of
				// the other operand's type ('{1,2}' against a bigint).
				e.Rexpr = strConst(listText(elems))
				r.changed = true
			}
		}
		// DuckDB runs x = ANY(list) as a subquery, which it cannot do in
		// an outer join's condition; list_contains has no such limit.
		any := e.Kind == pg_query.A_Expr_Kind_AEXPR_OP_ANY
		if any && op == "=" || !any && op == "<>" {
			r.changed = true
			call := funcCall("list_contains", e.Rexpr, e.Lexpr)
			if !any {
				return notExpr(call), nil
			}
			return call, nil
		}
	}
	return nil, nil
}

// isTimestamptz reports whether n is known to be a timestamp with time
// zone: now() and its kin, CURRENT_TIMESTAMP, a cast to timestamptz, or a
// timestamptz column of a served table.
func (r *rewriter) isTimestamptz(n *pg_query.Node) bool {
	switch x := n.GetNode().(type) {
	case *pg_query.Node_FuncCall:
		_, name := funcName(x.FuncCall)
		switch name {
		case "now", "transaction_timestamp", "statement_timestamp", "clock_timestamp":
			return true
		}
	case *pg_query.Node_SqlvalueFunction:
		return x.SqlvalueFunction.Op == pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP ||
			x.SqlvalueFunction.Op == pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N
	case *pg_query.Node_TypeCast:
		name, _, array := typeParts(x.TypeCast.TypeName)
		return !array && (name == "timestamptz")
	case *pg_query.Node_ColumnRef:
		f := x.ColumnRef.Fields
		col := f[len(f)-1].GetString_().GetSval()
		for _, t := range r.reg.user {
			for _, c := range t.Columns {
				if c.Name == col && c.TypeOID == oidTimestamptz {
					return true
				}
			}
		}
	}
	return false
}

// decimalOfConstant is the DECIMAL(p,s) that holds a numeric constant as
// written ("1.25" → DECIMAL(3,2)).
func decimalOfConstant(n *pg_query.Node) (prec, scale int, ok bool) {
	text, ok := constText(n)
	if !ok {
		return 0, 0, false
	}
	text = strings.TrimSpace(text)
	digits := strings.TrimLeft(text, "+-")
	whole, frac, _ := strings.Cut(digits, ".")
	if whole == "" && frac == "" || strings.Trim(whole+frac, "0123456789") != "" {
		return 0, 0, false
	}
	whole = strings.TrimLeft(whole, "0")
	// One digit before the point at least, so the engine prints 0.5, not .5.
	prec, scale = max(len(whole), 1)+len(frac), len(frac)
	if prec > 38 {
		return 0, 0, false
	}
	return prec, scale, true
}

// isRegCast reports whether n is a cast to one of the OID alias types.
func isRegCast(n *pg_query.Node) bool {
	tc := n.GetTypeCast()
	if tc == nil {
		return false
	}
	name, _, array := typeParts(tc.TypeName)
	return !array && regTypes[name]
}

// namespaceLiteral turns 'public' compared with a namespace OID column
// into the namespace's OID, as PostgreSQL's regnamespace input would.
func (r *rewriter) namespaceLiteral(col, lit *pg_query.Node) {
	c := col.GetColumnRef()
	k := lit.GetAConst()
	if c == nil || k == nil || len(c.Fields) == 0 {
		return
	}
	s, ok := k.Val.(*pg_query.A_Const_Sval)
	if !ok {
		return
	}
	field := c.Fields[len(c.Fields)-1].GetString_().GetSval()
	if !strings.HasSuffix(field, "namespace") && field != "nspoid" {
		return
	}
	if _, err := strconv.Atoi(s.Sval.Sval); err == nil {
		return
	}
	oid, ok := r.reg.build.schemaOIDs[s.Sval.Sval]
	if !ok {
		oid = 0
	}
	k.Val = &pg_query.A_Const_Ival{Ival: &pg_query.Integer{Ival: int32(oid)}}
	r.changed = true
}

// arrayLiteralOperand turns '{…}' compared with a column into a list.
func (r *rewriter) arrayLiteralOperand(col, lit *pg_query.Node) {
	if col.GetColumnRef() == nil {
		return
	}
	k := lit.GetAConst()
	if k == nil {
		return
	}
	s, ok := k.Val.(*pg_query.A_Const_Sval)
	if !ok || !strings.HasPrefix(s.Sval.Sval, "{") {
		return
	}
	elems, ok := parseArrayLiteral(s.Sval.Sval)
	if !ok {
		return
	}
	arr := arrayOf(elems).GetAArrayExpr()
	lit.Node = &pg_query.Node_AArrayExpr{AArrayExpr: arr}
	r.changed = true
}

// isInteger reports whether an expression is known to be of an integer
// type, so that / divides as integers like PostgreSQL's.
func (r *rewriter) isInteger(n *pg_query.Node) bool {
	switch x := n.GetNode().(type) {
	case *pg_query.Node_AConst:
		_, ok := x.AConst.Val.(*pg_query.A_Const_Ival)
		return ok
	case *pg_query.Node_TypeCast:
		name, _, array := typeParts(x.TypeCast.TypeName)
		if array {
			return false
		}
		switch name {
		case "int2", "int4", "int8", "integer", "bigint", "smallint", "int", "oid":
			return true
		}
	case *pg_query.Node_FuncCall:
		_, name := funcName(x.FuncCall)
		switch name {
		case "count", "length", "char_length", "octet_length", "array_length", "cardinality", "strpos", "position":
			return true
		}
	case *pg_query.Node_ColumnRef:
		f := x.ColumnRef.Fields
		if len(f) > 0 {
			return r.reg.intCols[f[len(f)-1].GetString_().GetSval()]
		}
	case *pg_query.Node_AExpr:
		if x.AExpr.Kind == pg_query.A_Expr_Kind_AEXPR_OP && len(x.AExpr.Name) == 1 {
			switch x.AExpr.Name[0].GetString_().GetSval() {
			case "+", "-", "*", "%", "//":
				return (x.AExpr.Lexpr == nil || r.isInteger(x.AExpr.Lexpr)) && r.isInteger(x.AExpr.Rexpr)
			}
		}
	}
	return false
}
