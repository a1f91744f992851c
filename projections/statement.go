package projections

import (
	"context"
	"regexp"
	"strings"

	"github.com/allsource/allsource"
)

// Statements that manage projections over a SQL connection:
//
//	CREATE [OR REPLACE] PROJECTION name [LANGUAGE sql|js] [ON ERROR SKIP|STOP] AS <SELECT … | $$ JavaScript $$>
//	DROP PROJECTION [IF EXISTS] name
//	ALTER PROJECTION name START|STOP|RESET

var (
	stmtRE   = regexp.MustCompile(`(?is)^\s*(create\s+(or\s+replace\s+)?projection|drop\s+projection|alter\s+projection)\b`)
	createRE = regexp.MustCompile(`(?is)^\s*create\s+(or\s+replace\s+)?projection\s+("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)\s*(language\s+(\w+)\s*)?(on\s+error\s+(\w+)\s*)?as\s+(.*?)\s*;?\s*$`)
	dropRE   = regexp.MustCompile(`(?is)^\s*drop\s+projection\s+(if\s+exists\s+)?("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)\s*;?\s*$`)
	alterRE  = regexp.MustCompile(`(?is)^\s*alter\s+projection\s+("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)\s+(start|stop|reset)\s*;?\s*$`)
	dollarRE = regexp.MustCompile(`(?s)^\$([A-Za-z_]*)\$(.*)\$([A-Za-z_]*)\$$`)
)

// IsStatement reports whether text is a projection statement.
func IsStatement(text string) bool { return stmtRE.MatchString(text) }

func identName(s string) string {
	if strings.HasPrefix(s, `"`) {
		return strings.Trim(s, `"`)
	}
	return strings.ToLower(s)
}

// Exec runs a projection statement for tenant and returns its command tag.
//
// CREATE returns once the new version's build has caught up, or with a
// notice saying how far it is (see AwaitBuild).
func (e *Engine) Exec(ctx context.Context, tenant, text string) (tag, notice string, err error) {
	if m := createRE.FindStringSubmatch(text); m != nil {
		s := Spec{Name: identName(m[2]), OnError: strings.ToLower(m[6])}
		body := strings.TrimSpace(m[7])
		lang := strings.ToLower(m[4])
		if d := dollarRE.FindStringSubmatch(body); d != nil && d[1] == d[3] {
			body = d[2]
		} else if len(body) >= 2 && body[0] == '\'' && body[len(body)-1] == '\'' {
			body = strings.ReplaceAll(body[1:len(body)-1], "''", "'")
		}
		switch lang {
		case "", "sql":
			if lang == "" && !regexp.MustCompile(`(?is)^\s*(select|with)\b`).MatchString(body) {
				lang = "js" // a quoted body without a language is JavaScript
				s.JS = body
			} else {
				s.SQL = body
			}
		case "js", "javascript":
			s.JS = body
		default:
			return "", "", allsource.Errorf(allsource.CodeInvalid, "CREATE PROJECTION: LANGUAGE %s (want sql or js)", m[4])
		}
		d, err := e.Create(ctx, tenant, s, m[1] != "")
		if err != nil {
			return "", "", err
		}
		return "CREATE PROJECTION", e.AwaitBuild(ctx, tenant, d.Name), nil
	}
	if m := dropRE.FindStringSubmatch(text); m != nil {
		err := e.Delete(ctx, tenant, identName(m[2]))
		if err != nil && !(m[1] != "" && allsource.ErrorCode(err) == allsource.CodeNotFound) {
			return "", "", err
		}
		return "DROP PROJECTION", "", nil
	}
	if m := alterRE.FindStringSubmatch(text); m != nil {
		name := identName(m[1])
		var err error
		switch strings.ToLower(m[2]) {
		case "start":
			err = e.Start(ctx, tenant, name)
		case "stop":
			err = e.Stop(ctx, tenant, name)
		case "reset":
			err = e.Reset(ctx, tenant, name)
		}
		if err != nil {
			return "", "", err
		}
		return "ALTER PROJECTION", "", nil
	}
	return "", "", allsource.Errorf(allsource.CodeInvalid, "projection statement not understood; the forms are: CREATE [OR REPLACE] PROJECTION name [LANGUAGE sql|js] [ON ERROR SKIP|STOP] AS SELECT … | $$…$$; DROP PROJECTION [IF EXISTS] name; ALTER PROJECTION name START|STOP|RESET")
}
