package pgsql

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
)

// Kind classifies a statement.
type Kind int

const (
	KindEmpty       Kind = iota // nothing but whitespace, comments or ';': EmptyQueryResponse
	KindSelect                  // a query returning rows: SELECT, VALUES, TABLE, WITH … SELECT; run Rewrite's SQL
	KindExplain                 // EXPLAIN of a query: run Rewrite's SQL, which returns the DuckDB plan
	KindSet                     // SET [SESSION|LOCAL] name = value: Name, Value, Local
	KindReset                   // RESET name, RESET ALL (Name "all"), SET name TO DEFAULT
	KindShow                    // SHOW name, SHOW ALL (Name "all")
	KindBegin                   // BEGIN, START TRANSACTION
	KindCommit                  // COMMIT, END
	KindRollback                // ROLLBACK, ABORT
	KindSavepoint               // SAVEPOINT name (Name)
	KindRelease                 // RELEASE [SAVEPOINT] name (Name)
	KindRollbackTo              // ROLLBACK TO [SAVEPOINT] name (Name)
	KindDiscard                 // DISCARD ALL|PLANS|SEQUENCES|TEMP (Name "all", "plans", …)
	KindDeallocate              // DEALLOCATE name (Name); DEALLOCATE ALL leaves Name empty
	KindCopyTo                  // COPY table|(query) TO STDOUT: Copy
	KindCopyFrom                // COPY events FROM STDIN: Copy
	KindNoop                    // accepted and ignored: LISTEN, UNLISTEN, SET TRANSACTION, SET SESSION CHARACTERISTICS, SET CONSTRAINTS, CLOSE ALL…
	KindCommand                 // a statement of the server's own (CREATE PROJECTION …), run by its command handler
	KindDeclare                 // DECLARE name [BINARY] CURSOR [WITH HOLD] FOR query: Cursor
	KindFetch                   // FETCH/MOVE [NEXT | FORWARD n | n | ALL] [FROM|IN] name: Cursor, Name
	KindCloseCursor             // CLOSE name (Name), CLOSE ALL (Name empty)
	KindAdvisory                // SELECT of advisory lock functions only: Advisory
	KindPrepare                 // PREPARE name [(types)] AS query: Name, Prepare
	KindExecute                 // EXECUTE name [(values)]: Name, Execute
	KindLock                    // LOCK [TABLE] …: nothing to do (reads take no locks that matter), inside a transaction block
)

var kindNames = [...]string{"Empty", "Select", "Explain", "Set", "Reset", "Show", "Begin", "Commit", "Rollback",
	"Savepoint", "Release", "RollbackTo", "Discard", "Deallocate", "CopyTo", "CopyFrom", "Noop", "Command",
	"Declare", "Fetch", "CloseCursor", "Advisory", "Prepare", "Execute", "Lock"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Statement is one classified statement. Statements returned by Parse are
// cached and shared between sessions: treat them as read-only.
type Statement struct {
	Kind   Kind
	Text   string  // this statement's own text, trimmed, without the terminating ';'
	Offset int     // byte offset of Text in the string given to Parse
	Tag    string  // CommandComplete tag for statements without rows ("SET", "BEGIN", "DISCARD ALL", …); for rows pgwire writes "SELECT n"
	Name   string  // Set/Reset/Show: the lower-case setting name; Savepoint…: the savepoint; Deallocate: the prepared statement; Discard: what
	Value  string  // Set: the value as PostgreSQL flattens it (quotes removed, list items joined with ", ")
	Local  bool    // SET LOCAL
	Copy   *Copy   // CopyTo / CopyFrom
	Cursor *Cursor // Declare / Fetch
	// Advisory: the lock function calls, one result column each.
	Advisory []AdvisoryCall
	// Prepare: the query and its parameters' type names (lower case,
	// unqualified; "" where not given).
	Prepare *Statement
	Types   []string
	// Execute: the arguments' texts (nil: NULL).
	Execute []*string
	Params  int // highest $n used

	version int32          // the parser's version, for Deparse
	node    *pg_query.Node // the statement's parse tree (the query for Select, Explain and Copy's Query)
	analyze bool           // EXPLAIN ANALYZE
	cache   rewriteCache
	// sessionDep is set once a rewrite depended on the session.
	sessionDep atomic.Bool
}

// Cursor describes DECLARE and FETCH/MOVE.
type Cursor struct {
	Name   string
	Query  *Statement // Declare: the rows
	Binary bool       // Declare: DECLARE … BINARY CURSOR
	Hold   bool       // Declare: WITH HOLD (it outlives its transaction)
	Count  int64      // Fetch: how many rows forward (FetchAll for ALL)
	Move   bool       // Fetch: MOVE (skip the rows, send none)
}

// FetchAll is Cursor.Count for FETCH ALL.
const FetchAll = int64(math.MaxInt64)

// Copy describes a COPY statement.
type Copy struct {
	Table     string     // the table, unqualified ("events"); empty for COPY (query) TO
	Columns   []string   // the column list, if given
	Query     *Statement // the rows to send for COPY … TO: the query, or SELECT of the table's columns
	Format    string     // text, csv or binary
	Header    bool
	Delimiter string // defaults: tab for text, comma for csv
	Null      string // defaults: \N for text, empty for csv
	Quote     string // csv only; default "
	Escape    string // csv only; default the quote
}

// Parse splits a simple-Query string into statements and classifies each.
// An empty string, or one of only ';' and comments, gives one KindEmpty
// statement. Syntax errors are *Error 42601 with the position in sql;
// refused statements are 42501 (writes, DDL, file access) or 0A000
// (well-formed but unsupported). Results are cached per text.
func Parse(sql string) ([]*Statement, error) {
	if e, ok := parseCache.get(sql); ok {
		return e.stmts, e.err
	}
	stmts, err := parse(sql)
	parseCache.put(sql, parseEntry{stmts, err})
	return stmts, err
}

func parse(sql string) ([]*Statement, error) {
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return nil, syntaxError(sql, err)
	}
	if len(tree.Stmts) == 0 {
		return []*Statement{{Kind: KindEmpty, Text: strings.TrimSpace(sql)}}, nil
	}
	stmts := make([]*Statement, 0, len(tree.Stmts))
	for _, raw := range tree.Stmts {
		start := int(raw.StmtLocation)
		end := len(sql)
		if raw.StmtLen > 0 {
			end = start + int(raw.StmtLen)
		}
		if start < 0 || start > end || end > len(sql) {
			start, end = 0, len(sql)
		}
		text := sql[start:end]
		trimmed := strings.TrimLeftFunc(text, unicode.IsSpace)
		start += len(text) - len(trimmed)
		text = strings.TrimRightFunc(trimmed, unicode.IsSpace)
		st := &Statement{Text: text, Offset: start, version: tree.Version}
		if err := classify(st, raw.Stmt); err != nil {
			return nil, err
		}
		stmts = append(stmts, st)
	}
	return stmts, nil
}

// syntaxError turns a parser error into 42601, or into a refusal when the
// statement begins with a keyword of a statement kind that is refused
// anyway (DuckDB's ATTACH, INSTALL, PRAGMA, CREATE MACRO, …).
func syntaxError(sql string, err error) error {
	var pe *parser.Error
	if !errors.As(err, &pe) {
		return errorf(CodeSyntaxError, 0, "%v", err)
	}
	if kw := leadingKeyword(sql, byteOffset(sql, pe.Cursorpos)); kw != "" {
		if refusedKeywords[kw] {
			return refusal(kw)
		}
		if unsupportedKeywords[kw] {
			return errorf(CodeFeatureNotSupported, 0, "%s is not supported", kw)
		}
	}
	msg := pe.Message
	if msg == "" {
		msg = "syntax error"
	}
	return &Error{Code: CodeSyntaxError, Message: msg, Position: pe.Cursorpos}
}

// leadingKeyword returns the upper-cased first word of the statement that
// contains byte offset at, or "".
func leadingKeyword(sql string, at int) string {
	scan, err := pg_query.Scan(sql)
	if err != nil {
		return ""
	}
	word := ""
	inStmt := false
	for _, tok := range scan.Tokens {
		if int(tok.Start) > at {
			break
		}
		switch {
		case tok.Token == pg_query.Token_ASCII_59: // ';'
			inStmt = false
			word = ""
		case tok.Token == pg_query.Token_SQL_COMMENT || tok.Token == pg_query.Token_C_COMMENT:
		case !inStmt:
			inStmt = true
			if w := sql[tok.Start:tok.End]; isWord(w) {
				word = strings.ToUpper(w)
			}
		}
	}
	return word
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && r != '_' {
			return false
		}
	}
	return true
}

// Statement kinds refused when they do not even parse as PostgreSQL (DuckDB
// extensions of them, or DuckDB-only statements).
var refusedKeywords = map[string]bool{
	"ATTACH": true, "DETACH": true, "INSTALL": true, "LOAD": true, "PRAGMA": true, "EXPORT": true,
	"IMPORT": true, "USE": true, "CREATE": true, "DROP": true, "ALTER": true, "INSERT": true,
	"UPDATE": true, "DELETE": true, "MERGE": true, "UPSERT": true, "COPY": true, "CALL": true,
	"FORCE": true, "CHECKPOINT": true, "VACUUM": true, "TRUNCATE": true, "GRANT": true,
	"REVOKE": true, "COMMENT": true, "REINDEX": true, "CLUSTER": true, "REFRESH": true, "DO": true,
}

var unsupportedKeywords = map[string]bool{
	"DESCRIBE": true, "SUMMARIZE": true, "PIVOT": true, "UNPIVOT": true, "DECLARE": true,
	"FETCH": true, "MOVE": true, "PREPARE": true, "EXECUTE": true, "LOCK": true, "NOTIFY": true,
}

// refusal is the 42501 error for a refused statement kind.
func refusal(what string) *Error {
	return errorf(CodeInsufficientPriv, 0, "%s is not allowed: AllSource serves read-only SQL", what).
		withHint("Only queries (SELECT, EXPLAIN, SHOW, COPY … TO STDOUT) and session statements can run here; events are written through the AllSource ingest API or COPY events FROM STDIN.")
}

func unsupported(what, hint string) *Error {
	e := errorf(CodeFeatureNotSupported, 0, "%s is not supported", what)
	e.Hint = hint
	return e
}

// classify fills in st from its parse tree.
func classify(st *Statement, n *pg_query.Node) error {
	switch x := n.Node.(type) {
	case *pg_query.Node_SelectStmt:
		if ok, err := classifyAdvisory(st, x.SelectStmt); ok || err != nil {
			return err
		}
		st.Kind, st.node = KindSelect, n
		return checkQuery(st, n)
	case *pg_query.Node_ExplainStmt:
		q := x.ExplainStmt.Query
		if _, ok := q.GetNode().(*pg_query.Node_SelectStmt); !ok {
			return refusedNode(q)
		}
		for _, o := range x.ExplainStmt.Options {
			if d := o.GetDefElem(); d != nil && d.Defname == "analyze" && defBool(d) {
				st.analyze = true
			}
		}
		st.Kind, st.node, st.Tag = KindExplain, q, "EXPLAIN"
		return checkQuery(st, q)
	case *pg_query.Node_VariableSetStmt:
		return classifySet(st, x.VariableSetStmt)
	case *pg_query.Node_VariableShowStmt:
		name := strings.ToLower(x.VariableShowStmt.Name)
		if name != "all" && !KnownSetting(name) {
			return errorf(CodeUndefinedObject, 0, "unrecognized configuration parameter \"%s\"", name)
		}
		st.Kind, st.Name, st.Tag = KindShow, name, "SHOW"
	case *pg_query.Node_TransactionStmt:
		return classifyTransaction(st, x.TransactionStmt)
	case *pg_query.Node_DiscardStmt:
		st.Kind = KindDiscard
		switch x.DiscardStmt.Target {
		case pg_query.DiscardMode_DISCARD_PLANS:
			st.Name = "plans"
		case pg_query.DiscardMode_DISCARD_SEQUENCES:
			st.Name = "sequences"
		case pg_query.DiscardMode_DISCARD_TEMP:
			st.Name = "temp"
		default:
			st.Name = "all"
		}
		st.Tag = "DISCARD " + strings.ToUpper(st.Name)
	case *pg_query.Node_DeallocateStmt:
		st.Kind, st.Tag = KindDeallocate, "DEALLOCATE"
		if x.DeallocateStmt.Isall || x.DeallocateStmt.Name == "" {
			st.Tag = "DEALLOCATE ALL"
		} else {
			st.Name = x.DeallocateStmt.Name
		}
	case *pg_query.Node_ListenStmt:
		st.Kind, st.Tag, st.Name = KindNoop, "LISTEN", x.ListenStmt.Conditionname
	case *pg_query.Node_UnlistenStmt:
		st.Kind, st.Tag, st.Name = KindNoop, "UNLISTEN", x.UnlistenStmt.Conditionname
	case *pg_query.Node_ConstraintsSetStmt:
		st.Kind, st.Tag = KindNoop, "SET CONSTRAINTS"
	case *pg_query.Node_ClosePortalStmt:
		st.Kind, st.Tag, st.Name = KindCloseCursor, "CLOSE CURSOR", x.ClosePortalStmt.Portalname
		if st.Name == "" {
			st.Tag = "CLOSE CURSOR ALL"
		}
	case *pg_query.Node_DeclareCursorStmt:
		return classifyDeclare(st, x.DeclareCursorStmt)
	case *pg_query.Node_LockStmt:
		st.Kind, st.Tag = KindLock, "LOCK TABLE"
	case *pg_query.Node_PrepareStmt:
		return classifyPrepare(st, x.PrepareStmt)
	case *pg_query.Node_ExecuteStmt:
		st.Kind, st.Tag, st.Name = KindExecute, "EXECUTE", x.ExecuteStmt.Name
		for _, p := range x.ExecuteStmt.Params {
			if tc := p.GetTypeCast(); tc != nil {
				p = tc.Arg
			}
			k := p.GetAConst()
			if k == nil {
				return unsupported("EXECUTE with expressions as arguments", "Pass constants: EXECUTE name('value', 42).")
			}
			if k.Isnull {
				st.Execute = append(st.Execute, nil)
				continue
			}
			text := constString(k)
			st.Execute = append(st.Execute, &text)
		}
	case *pg_query.Node_FetchStmt:
		return classifyFetch(st, x.FetchStmt)
	case *pg_query.Node_CopyStmt:
		return classifyCopy(st, x.CopyStmt)
	default:
		return refusedNode(n)
	}
	return nil
}

// refusedNode is the error for a statement kind that is not served.
func refusedNode(n *pg_query.Node) error {
	switch n.GetNode().(type) {
	case *pg_query.Node_NotifyStmt:
		return unsupported("NOTIFY", "AllSource does not deliver notifications.")
	case *pg_query.Node_CopyStmt:
		return refusal("COPY")
	}
	return refusal(statementName(n))
}

// statementName names a statement kind the way PostgreSQL's command tags do.
func statementName(n *pg_query.Node) string {
	switch x := n.GetNode().(type) {
	case *pg_query.Node_InsertStmt:
		return "INSERT"
	case *pg_query.Node_UpdateStmt:
		return "UPDATE"
	case *pg_query.Node_DeleteStmt:
		return "DELETE"
	case *pg_query.Node_MergeStmt:
		return "MERGE"
	case *pg_query.Node_CreateStmt:
		return "CREATE TABLE"
	case *pg_query.Node_CreateTableAsStmt:
		if x.CreateTableAsStmt.Objtype == pg_query.ObjectType_OBJECT_MATVIEW {
			return "CREATE MATERIALIZED VIEW"
		}
		return "CREATE TABLE AS"
	case *pg_query.Node_ViewStmt:
		return "CREATE VIEW"
	case *pg_query.Node_IndexStmt:
		return "CREATE INDEX"
	case *pg_query.Node_CreatedbStmt:
		return "CREATE DATABASE"
	case *pg_query.Node_DropdbStmt:
		return "DROP DATABASE"
	case *pg_query.Node_DefineStmt:
		return "CREATE " + objectTypeName(x.DefineStmt.Kind)
	case *pg_query.Node_DropStmt:
		return "DROP " + objectTypeName(x.DropStmt.RemoveType)
	case *pg_query.Node_RuleStmt:
		return "CREATE RULE"
	case *pg_query.Node_CreateTrigStmt:
		return "CREATE TRIGGER"
	case *pg_query.Node_CreateFunctionStmt:
		if x.CreateFunctionStmt.IsProcedure {
			return "CREATE PROCEDURE"
		}
		return "CREATE FUNCTION"
	case *pg_query.Node_GrantStmt:
		if x.GrantStmt.IsGrant {
			return "GRANT"
		}
		return "REVOKE"
	case *pg_query.Node_GrantRoleStmt:
		if x.GrantRoleStmt.IsGrant {
			return "GRANT"
		}
		return "REVOKE"
	case *pg_query.Node_VacuumStmt:
		if x.VacuumStmt.IsVacuumcmd {
			return "VACUUM"
		}
		return "ANALYZE"
	case *pg_query.Node_CheckPointStmt:
		return "CHECKPOINT"
	case *pg_query.Node_LoadStmt:
		return "LOAD"
	case *pg_query.Node_DoStmt:
		return "DO"
	case *pg_query.Node_CallStmt:
		return "CALL"
	case *pg_query.Node_TruncateStmt:
		return "TRUNCATE"
	case *pg_query.Node_CommentStmt:
		return "COMMENT"
	case *pg_query.Node_ReindexStmt:
		return "REINDEX"
	case *pg_query.Node_ClusterStmt:
		return "CLUSTER"
	case *pg_query.Node_RefreshMatViewStmt:
		return "REFRESH MATERIALIZED VIEW"
	case *pg_query.Node_AlterSystemStmt:
		return "ALTER SYSTEM"
	case *pg_query.Node_SecLabelStmt:
		return "SECURITY LABEL"
	case *pg_query.Node_ReassignOwnedStmt:
		return "REASSIGN OWNED"
	case *pg_query.Node_DropOwnedStmt:
		return "DROP OWNED"
	case *pg_query.Node_CreateSchemaStmt:
		return "CREATE SCHEMA"
	case *pg_query.Node_CreateExtensionStmt:
		return "CREATE EXTENSION"
	case *pg_query.Node_CreateRoleStmt:
		return "CREATE ROLE"
	case *pg_query.Node_DropRoleStmt:
		return "DROP ROLE"
	case *pg_query.Node_CreateSeqStmt:
		return "CREATE SEQUENCE"
	case *pg_query.Node_AlterTableStmt:
		return "ALTER TABLE"
	case *pg_query.Node_RenameStmt:
		return "ALTER " + objectTypeName(x.RenameStmt.RenameType)
	}
	// Fall back to the node's type name: AlterRoleStmt → ALTER ROLE.
	name := fmt.Sprintf("%T", n.GetNode())
	name = strings.TrimPrefix(name, "*pg_query.Node_")
	name = strings.TrimSuffix(name, "Stmt")
	var b strings.Builder
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	if b.Len() == 0 {
		return "this statement"
	}
	return b.String()
}

func objectTypeName(t pg_query.ObjectType) string {
	s := strings.TrimPrefix(t.String(), "OBJECT_")
	return strings.ReplaceAll(s, "_", " ")
}

// defBool reads a DefElem's boolean argument (absent means true).
func defBool(d *pg_query.DefElem) bool {
	switch a := d.Arg.GetNode().(type) {
	case nil:
		return true
	case *pg_query.Node_Boolean:
		return a.Boolean.Boolval
	case *pg_query.Node_Integer:
		return a.Integer.Ival != 0
	case *pg_query.Node_String_:
		switch strings.ToLower(a.String_.Sval) {
		case "false", "off", "0", "no":
			return false
		}
		return true
	case *pg_query.Node_AConst:
		return !strings.EqualFold(constString(a.AConst), "false") && constString(a.AConst) != "0"
	}
	return true
}

// defString reads a DefElem's argument as text.
func defString(d *pg_query.DefElem) string {
	switch a := d.Arg.GetNode().(type) {
	case *pg_query.Node_String_:
		return a.String_.Sval
	case *pg_query.Node_Integer:
		return strconv.Itoa(int(a.Integer.Ival))
	case *pg_query.Node_Boolean:
		return strconv.FormatBool(a.Boolean.Boolval)
	case *pg_query.Node_AConst:
		return constString(a.AConst)
	case *pg_query.Node_TypeName:
		return typeNameString(a.TypeName)
	}
	return ""
}

// constString renders a constant the way SET flattens it.
func constString(c *pg_query.A_Const) string {
	switch v := c.Val.(type) {
	case *pg_query.A_Const_Sval:
		return v.Sval.Sval
	case *pg_query.A_Const_Ival:
		return strconv.Itoa(int(v.Ival.Ival))
	case *pg_query.A_Const_Fval:
		return v.Fval.Fval
	case *pg_query.A_Const_Boolval:
		if v.Boolval.Boolval {
			return "true"
		}
		return "false"
	case *pg_query.A_Const_Bsval:
		return v.Bsval.Bsval
	}
	return ""
}

func typeNameString(t *pg_query.TypeName) string {
	var parts []string
	for _, n := range t.Names {
		parts = append(parts, n.GetString_().GetSval())
	}
	return strings.Join(parts, ".")
}

func classifySet(st *Statement, s *pg_query.VariableSetStmt) error {
	name := strings.ToLower(s.Name)
	st.Tag, st.Local = "SET", s.IsLocal
	switch s.Kind {
	case pg_query.VariableSetKind_VAR_SET_VALUE:
		if err := checkSettable(name, 0); err != nil {
			return err
		}
		vals := make([]string, 0, len(s.Args))
		for _, a := range s.Args {
			v := setArg(a)
			if listQuoted[name] {
				if _, isStr := a.GetAConst().GetVal().(*pg_query.A_Const_Sval); isStr {
					v = quoteIdent(v)
				}
			}
			vals = append(vals, v)
		}
		st.Kind, st.Name, st.Value = KindSet, name, strings.Join(vals, ", ")
	case pg_query.VariableSetKind_VAR_SET_DEFAULT, pg_query.VariableSetKind_VAR_RESET:
		if err := checkSettable(name, 0); err != nil {
			return err
		}
		st.Kind, st.Name = KindReset, name
		if s.Kind == pg_query.VariableSetKind_VAR_RESET {
			st.Tag = "RESET"
		}
	case pg_query.VariableSetKind_VAR_RESET_ALL:
		st.Kind, st.Name, st.Tag = KindReset, "all", "RESET"
	case pg_query.VariableSetKind_VAR_SET_CURRENT:
		if err := checkSettable(name, 0); err != nil {
			return err
		}
		st.Kind, st.Name = KindNoop, name
	case pg_query.VariableSetKind_VAR_SET_MULTI:
		switch name {
		case "transaction", "session characteristics":
			st.Kind = KindNoop
			st.Name = "transaction_isolation"
			if name != "transaction" {
				st.Name = "default_transaction_isolation"
			}
			for _, a := range s.Args {
				if d := a.GetDefElem(); d != nil && d.Defname == "transaction_isolation" {
					st.Value = strings.ToLower(defString(d))
				}
			}
		default:
			return unsupported("SET "+strings.ToUpper(s.Name), "")
		}
	default:
		return unsupported("this form of SET", "")
	}
	return nil
}

// listQuoted are the list parameters whose items SET quotes as identifiers.
var listQuoted = map[string]bool{"search_path": true, "temp_tablespaces": true}

func setArg(a *pg_query.Node) string {
	switch x := a.GetNode().(type) {
	case *pg_query.Node_AConst:
		return constString(x.AConst)
	case *pg_query.Node_TypeCast:
		if c := x.TypeCast.Arg.GetAConst(); c != nil {
			return constString(c)
		}
	}
	return ""
}

func classifyTransaction(st *Statement, t *pg_query.TransactionStmt) error {
	switch t.Kind {
	case pg_query.TransactionStmtKind_TRANS_STMT_BEGIN:
		st.Kind, st.Tag = KindBegin, "BEGIN"
	case pg_query.TransactionStmtKind_TRANS_STMT_START:
		st.Kind, st.Tag = KindBegin, "START TRANSACTION"
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT:
		st.Kind, st.Tag = KindCommit, "COMMIT"
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK:
		st.Kind, st.Tag = KindRollback, "ROLLBACK"
	case pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
		st.Kind, st.Tag, st.Name = KindSavepoint, "SAVEPOINT", t.SavepointName
	case pg_query.TransactionStmtKind_TRANS_STMT_RELEASE:
		st.Kind, st.Tag, st.Name = KindRelease, "RELEASE", t.SavepointName
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		st.Kind, st.Tag, st.Name = KindRollbackTo, "ROLLBACK", t.SavepointName
	default:
		return unsupported("two-phase commit", "")
	}
	return nil
}

// checkQuery records the parameters of a query and refuses what no
// rewriting can make safe: SELECT INTO and row locking.
func checkQuery(st *Statement, q *pg_query.Node) error {
	var err error
	walkNodes(q, func(n *pg_query.Node) bool {
		if err != nil {
			return false
		}
		switch x := n.Node.(type) {
		case *pg_query.Node_ParamRef:
			if int(x.ParamRef.Number) > st.Params {
				st.Params = int(x.ParamRef.Number)
			}
		case *pg_query.Node_SelectStmt:
			if x.SelectStmt.IntoClause != nil {
				err = refusal("SELECT INTO")
				err.(*Error).Hint = "SELECT INTO creates a table; run the SELECT without INTO."
			} else if len(x.SelectStmt.LockingClause) > 0 {
				err = unsupported("SELECT FOR UPDATE/SHARE", "AllSource tables are read-only; remove the locking clause.")
			}
		}
		return true
	})
	return err
}

func classifyCopy(st *Statement, c *pg_query.CopyStmt) error {
	dir := "TO"
	if c.IsFrom {
		dir = "FROM"
	}
	if c.IsProgram {
		return refusal("COPY " + dir + " PROGRAM")
	}
	if c.Filename != "" {
		return refusal("COPY " + dir + " a file").withHint("Use COPY … " + dir + map[bool]string{true: " STDIN", false: " STDOUT"}[c.IsFrom] + ".")
	}
	cp := &Copy{Format: "text"}
	for _, o := range c.Options {
		d := o.GetDefElem()
		if d == nil {
			continue
		}
		switch d.Defname {
		case "format":
			cp.Format = strings.ToLower(defString(d))
		case "header":
			cp.Header = defBool(d)
		case "delimiter":
			cp.Delimiter = defString(d)
		case "null":
			cp.Null = defString(d)
		case "quote":
			cp.Quote = defString(d)
		case "escape":
			cp.Escape = defString(d)
		case "freeze", "encoding", "force_quote", "force_not_null", "force_null", "default":
		default:
			return errorf(CodeSyntaxError, 0, "option \"%s\" not recognized", d.Defname)
		}
	}
	switch cp.Format {
	case "text", "csv", "binary":
	default:
		return errorf(CodeInvalidParameter, 0, "COPY format \"%s\" not recognized", cp.Format)
	}
	if cp.Delimiter == "" {
		cp.Delimiter = "\t"
		if cp.Format == "csv" {
			cp.Delimiter = ","
		}
	}
	if cp.Null == "" && cp.Format == "text" {
		cp.Null = `\N`
	}
	if cp.Format == "csv" {
		if cp.Quote == "" {
			cp.Quote = `"`
		}
		if cp.Escape == "" {
			cp.Escape = cp.Quote
		}
	}
	for _, a := range c.Attlist {
		cp.Columns = append(cp.Columns, a.GetString_().GetSval())
	}
	st.Copy = cp
	if c.Query != nil {
		if c.IsFrom {
			return refusal("COPY (query) FROM")
		}
		sel, ok := c.Query.GetNode().(*pg_query.Node_SelectStmt)
		if !ok {
			return refusal("COPY (" + statementName(c.Query) + ") TO")
		}
		text, err := pg_query.Deparse(&pg_query.ParseResult{Version: st.version, Stmts: []*pg_query.RawStmt{{Stmt: c.Query}}})
		if err != nil {
			return errorf(CodeInternal, 0, "deparse COPY query: %v", err)
		}
		// The query's node locations point into the COPY text; re-parse so
		// that errors point into Query.Text.
		q, err := parse(text)
		if err != nil || len(q) != 1 || q[0].Kind != KindSelect {
			_ = sel
			return errorf(CodeInternal, 0, "COPY query does not re-parse: %v", err)
		}
		cp.Query = q[0]
		st.Kind, st.Tag, st.Params = KindCopyTo, "COPY", q[0].Params
		return nil
	}
	rel := c.Relation
	if rel.Catalogname != "" && !strings.EqualFold(rel.Catalogname, DatabaseName) {
		return refusal("COPY " + dir + " " + rangeVarName(rel))
	}
	if rel.Schemaname != "" && rel.Schemaname != "public" {
		return refusal("COPY " + dir + " " + rangeVarName(rel))
	}
	cp.Table = rel.Relname
	if c.IsFrom {
		if rel.Relname != "events" {
			return refusal("COPY FROM into " + rangeVarName(rel)).withHint("Only COPY events FROM STDIN is allowed.")
		}
		if c.WhereClause != nil {
			return unsupported("COPY FROM … WHERE", "")
		}
		st.Kind, st.Tag = KindCopyFrom, "COPY"
		return nil
	}
	// The relation is resolved when the query below is rewritten
	// (against the session's catalog), like any other name.
	cols := "*"
	if len(cp.Columns) > 0 {
		q := make([]string, len(cp.Columns))
		for i, c := range cp.Columns {
			q[i] = quoteIdent(c)
		}
		cols = strings.Join(q, ", ")
	}
	q, err := parse("SELECT " + cols + " FROM " + quoteIdent(rel.Relname))
	if err != nil {
		return err
	}
	cp.Query = q[0]
	st.Kind, st.Tag = KindCopyTo, "COPY"
	return nil
}

// Cursor options, as the parser sets them (PostgreSQL's CURSOR_OPT_*).
const (
	cursorOptBinary = 0x0001
	cursorOptScroll = 0x0002
	cursorOptHold   = 0x0020
)

func classifyDeclare(st *Statement, d *pg_query.DeclareCursorStmt) error {
	if d.Options&cursorOptScroll != 0 {
		return unsupported("SCROLL cursors", "Cursors here move forward only; declare it NO SCROLL (the default).")
	}
	if _, ok := d.Query.GetNode().(*pg_query.Node_SelectStmt); !ok {
		return refusal("DECLARE CURSOR FOR " + statementName(d.Query))
	}
	text, err := pg_query.Deparse(&pg_query.ParseResult{Version: st.version, Stmts: []*pg_query.RawStmt{{Stmt: d.Query}}})
	if err != nil {
		return errorf(CodeInternal, 0, "deparse cursor query: %v", err)
	}
	q, err := parse(text)
	if err != nil {
		return err
	}
	if len(q) != 1 || q[0].Kind != KindSelect {
		return errorf(CodeInternal, 0, "cursor query does not re-parse as one SELECT")
	}
	st.Cursor = &Cursor{Name: d.Portalname, Query: q[0], Binary: d.Options&cursorOptBinary != 0, Hold: d.Options&cursorOptHold != 0}
	st.Kind, st.Tag, st.Name, st.Params = KindDeclare, "DECLARE CURSOR", d.Portalname, q[0].Params
	return nil
}

func classifyPrepare(st *Statement, p *pg_query.PrepareStmt) error {
	if _, ok := p.Query.GetNode().(*pg_query.Node_SelectStmt); !ok {
		return refusal("PREPARE of " + statementName(p.Query))
	}
	text, err := pg_query.Deparse(&pg_query.ParseResult{Version: st.version, Stmts: []*pg_query.RawStmt{{Stmt: p.Query}}})
	if err != nil {
		return errorf(CodeInternal, 0, "deparse prepared query: %v", err)
	}
	q, err := parse(text)
	if err != nil {
		return err
	}
	if len(q) != 1 {
		return errorf(CodeInternal, 0, "prepared query does not re-parse as one statement")
	}
	st.Kind, st.Tag, st.Name, st.Prepare = KindPrepare, "PREPARE", p.Name, q[0]
	for _, a := range p.Argtypes {
		name := ""
		if tn := a.GetTypeName(); tn != nil {
			var array bool
			name, _, array = typeParts(tn)
			if array {
				name += "[]"
			}
		}
		st.Types = append(st.Types, strings.ToLower(name))
	}
	return nil
}

func classifyFetch(st *Statement, f *pg_query.FetchStmt) error {
	what := "FETCH"
	if f.Ismove {
		what = "MOVE"
	}
	c := &Cursor{Name: f.Portalname, Move: f.Ismove, Count: f.HowMany}
	switch f.Direction {
	case pg_query.FetchDirection_FETCH_FORWARD:
		if c.Count <= 0 {
			return unsupported(what+" FORWARD 0", "Cursors here move forward only.")
		}
	case pg_query.FetchDirection_FETCH_ABSOLUTE, pg_query.FetchDirection_FETCH_RELATIVE:
		// NEXT is parsed as RELATIVE 1 by some versions; FIRST as
		// ABSOLUTE 1, which only a fresh cursor could honour.
		if f.Direction != pg_query.FetchDirection_FETCH_RELATIVE || c.Count != 1 {
			return unsupported(what+" ABSOLUTE/RELATIVE", "Cursors here move forward only: use FETCH NEXT, FETCH n or FETCH ALL.")
		}
	default:
		return unsupported(what+" BACKWARD/PRIOR", "Cursors here move forward only: use FETCH NEXT, FETCH n or FETCH ALL.")
	}
	if c.Count >= math.MaxInt64/2 {
		c.Count = FetchAll
	}
	st.Kind, st.Tag, st.Name, st.Cursor = KindFetch, what, f.Portalname, c
	return nil
}

func rangeVarName(r *pg_query.RangeVar) string {
	parts := []string{}
	for _, p := range []string{r.Catalogname, r.Schemaname, r.Relname} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ".")
}

// quoteIdent quotes an identifier the way PostgreSQL's quote_ident does:
// only when it is not a plain lower-case name or is a reserved word.
func quoteIdent(s string) string {
	plain := s != ""
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || i > 0 && (r >= '0' && r <= '9' || r == '$')) {
			plain = false
			break
		}
	}
	if plain && !reservedWords[s] {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// parseEntry is one cached Parse result.
type parseEntry struct {
	stmts []*Statement
	err   error
}

// textCache is a small two-generation cache: lookups hit the current or
// the previous generation; when the current one is full it becomes the
// previous one. Entries used within the last two generations survive.
type textCache struct {
	mu        sync.Mutex
	cur, prev map[string]parseEntry
	size      int
}

const parseCacheSize = 1024

var parseCache = &textCache{size: parseCacheSize}

func (c *textCache) get(k string) (parseEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.cur[k]; ok {
		return e, true
	}
	if e, ok := c.prev[k]; ok {
		c.putLocked(k, e)
		return e, true
	}
	return parseEntry{}, false
}

func (c *textCache) put(k string, e parseEntry) {
	if len(k) > 64<<10 {
		return // huge one-off texts are not worth keeping
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(k, e)
}

func (c *textCache) putLocked(k string, e parseEntry) {
	if c.cur == nil {
		c.cur = make(map[string]parseEntry)
	}
	if len(c.cur) >= c.size {
		c.prev, c.cur = c.cur, make(map[string]parseEntry)
	}
	c.cur[k] = e
}
