package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/allsource/allsource/authz"
)

const tokenUsage = `Usage: allsource token issue --data-dir DIR --tenant T --role R[,R…] [--ttl 1h] [--subject NAME]

Prints a signed token (JWT, HS256) for the server on DIR: send it as
Authorization: Bearer <token>, or as the Postgres password. The signing
secret is DIR/auth/token-hs256.key, made on first use; a server on DIR
accepts tokens once it exists (one running without authentication turns
it on at the next request). Roles: admin (with --tenant '*'), tenant-admin, writer,
reader, analyst.
`

func (m *Main) runToken(_ context.Context, args []string) error {
	fs := newFlags("token issue", tokenUsage)
	dataDir := fs.String("data-dir", "./data", "the server's data directory")
	tenant := fs.String("tenant", "", "the tenant the token acts in ('*' with role admin)")
	role := fs.String("role", "", "comma-separated roles")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid (at most a year)")
	subject := fs.String("subject", "cli", "the token's subject (sub), as audit records name it")
	if len(args) > 0 && isHelpArg(args[0]) {
		args = []string{"issue", "--help"}
	}
	if _, err := m.pickCommand("token", tokenUsage, args, "issue"); err != nil {
		return err
	}
	if err := m.parse(fs, args[1:]); err != nil {
		return err
	}
	if *tenant == "" {
		return errors.New("--tenant is required")
	}
	roles, err := authz.OpenRoles(authz.RolesFile(*dataDir))
	if err != nil {
		return err
	}
	if err := roles.Check(*tenant, splitList(*role)); err != nil {
		return err
	}
	secret, err := authz.LoadOrCreateSecret(authz.SecretFile(*dataDir))
	if err != nil {
		return err
	}
	tok, err := authz.IssueHS256(secret, *subject, *tenant, splitList(*role), *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, tok)
	return nil
}

const adminUsage = `Usage:
  allsource admin key create --data-dir DIR --tenant T --role R[,R…] [--name N] [--ttl 0]
  allsource admin key list   --data-dir DIR [--json]
  allsource admin key revoke --data-dir DIR ID
  allsource admin quota set  --data-dir DIR --tenant T|'*' [--ingest-events-per-sec N]
                             [--ingest-bytes-per-sec N] [--max-concurrent-queries N]
                             [--query-timeout D] [--storage-bytes N] [--max-result-bytes N]
  allsource admin quota list --data-dir DIR
  allsource admin user set    --data-dir DIR --name N --tenant T --role R[,R…]
                              (the password: ALLSOURCE_PASSWORD, else the first line of stdin)
  allsource admin user list   --data-dir DIR
  allsource admin user delete --data-dir DIR NAME
  allsource admin policy set  --data-dir DIR FILE   (checks, then installs a policies file)
  allsource admin policy check FILE
  allsource admin role set    --data-dir DIR FILE   (checks, then installs a custom roles file)
  allsource admin role list   --data-dir DIR

API keys for the server on DIR (kept hashed in DIR/auth/keys.json). create
prints the key once; a running server picks up new and revoked keys within
a second. Send a key as Authorization: Bearer <key>, or as the Postgres
password. Roles: admin (with --tenant '*'), tenant-admin, writer, reader,
analyst.

Users log in with a password: over pgwire by SCRAM-SHA-256 (the server
keeps only the verifier, in DIR/auth/users.json), over HTTP with Basic
authentication (HTTPS or loopback only). set creates a user or replaces its
password, tenant and roles; passwords have at least 12 characters. A name
is unique on the server and takes that name from API-key logins over
pgwire: prefer name@tenant for a tenant's users (the form tenant
administrators' users always have); bare names are for operators.

Quotas per tenant (DIR/auth/quotas.json; '*' is the default for tenants
without their own; a running server applies changes within a second). set
replaces the tenant's entry with the limits given; none removes it. 0 is
unlimited.
`

func (m *Main) runAdmin(ctx context.Context, args []string) error {
	group, err := m.pickCommand("admin", adminUsage, args, "key", "quota", "user", "policy", "role")
	if err != nil {
		return err
	}
	subs := map[string][]string{"key": {"create", "list", "revoke"}, "quota": {"set", "list"}, "user": {"set", "list", "delete"},
		"policy": {"set", "check"}, "role": {"set", "list"}}[group]
	sub, err := m.pickCommand("admin "+group, helpSection(adminUsage, "admin "+group), args[1:], subs...)
	if err != nil {
		return err
	}
	switch group {
	case "quota":
		return m.runAdminQuota(args[1:])
	case "user":
		return m.runAdminUser(args[1:])
	case "policy":
		return m.runAdminPolicy(args[1:])
	case "role":
		return m.runAdminRole(args[1:])
	}
	fs := newFlags("admin key "+sub, helpSection(adminUsage, "admin key "+sub))
	dataDir := fs.String("data-dir", "./data", "the server's data directory")
	switch args[1] {
	case "create":
		tenant := fs.String("tenant", "", "the tenant the key acts in ('*' with role admin)")
		role := fs.String("role", "", "comma-separated roles")
		name := fs.String("name", "", "what the key is for")
		ttl := fs.Duration("ttl", 0, "how long the key is valid (0: until revoked)")
		if err := m.parse(fs, args[2:]); err != nil {
			return err
		}
		if *tenant == "" {
			return errors.New("--tenant is required")
		}
		roles, err := authz.OpenRoles(authz.RolesFile(*dataDir))
		if err != nil {
			return err
		}
		ks, err := authz.OpenKeyStore(authz.KeysFile(*dataDir))
		if err != nil {
			return err
		}
		ks.SetRoles(roles)
		key, k, err := ks.Create(*name, *tenant, splitList(*role), *ttl)
		if err != nil {
			return err
		}
		fmt.Fprintln(m.Stdout, key)
		fmt.Fprintf(m.Stderr, "key %s for tenant %s (%s); it is not shown again\n", k.ID, k.Tenant, strings.Join(k.Roles, ", "))
		return nil
	case "list":
		asJSON := fs.Bool("json", false, "print JSON")
		if err := m.parse(fs, args[2:]); err != nil {
			return err
		}
		ks, err := authz.OpenKeyStore(authz.KeysFile(*dataDir))
		if err != nil {
			return err
		}
		list, err := ks.List()
		if err != nil {
			return err
		}
		if *asJSON {
			for i := range list {
				list[i].Hash = ""
			}
			enc := json.NewEncoder(m.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(list)
		}
		tw := tabwriter.NewWriter(m.Stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tTENANT\tROLES\tCREATED\tEXPIRES\tSTATE")
		now := time.Now()
		for _, k := range list {
			exp, state := "never", "active"
			if k.ExpiresAt != nil {
				exp = k.ExpiresAt.Format(time.RFC3339)
				if !now.Before(*k.ExpiresAt) {
					state = "expired"
				}
			}
			if k.RevokedAt != nil {
				state = "revoked"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Tenant, strings.Join(k.Roles, ","), k.CreatedAt.Format(time.RFC3339), exp, state)
		}
		return tw.Flush()
	case "revoke":
		if err := m.parse(fs, args[2:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("give the id of the key to revoke (allsource admin key list shows them)")
		}
		ks, err := authz.OpenKeyStore(authz.KeysFile(*dataDir))
		if err != nil {
			return err
		}
		if err := ks.Revoke(fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(m.Stderr, "key %s revoked\n", fs.Arg(0))
		return nil
	}
	return usageError(fs, fmt.Errorf("unknown command %q", args[1]))
}

func (m *Main) runAdminQuota(args []string) error {
	fs := newFlags("admin quota "+args[0], helpSection(adminUsage, "admin quota "+args[0]))
	dataDir := fs.String("data-dir", "./data", "the server's data directory")
	switch args[0] {
	case "set":
		tenant := fs.String("tenant", "", "the tenant, or '*' for the default")
		var q authz.Quota
		fs.Float64Var(&q.IngestEventsPerSec, "ingest-events-per-sec", 0, "events per second (a batch may borrow ahead; later ones wait)")
		fs.Float64Var(&q.IngestBytesPerSec, "ingest-bytes-per-sec", 0, "request bytes per second")
		fs.IntVar(&q.MaxConcurrentQueries, "max-concurrent-queries", 0, "queries (HTTP and pgwire) running at once")
		fs.StringVar(&q.QueryTimeout, "query-timeout", "", "longest a query may run, e.g. 30s")
		fs.Int64Var(&q.StorageBytes, "storage-bytes", 0, "Parquet bytes stored; appends are refused (507) at the limit")
		fs.Int64Var(&q.MaxResultBytes, "max-result-bytes", 0, "bytes one query may send back")
		if err := m.parse(fs, args[1:]); err != nil {
			return err
		}
		if *tenant == "" {
			return errors.New("--tenant is required ('*' for the default)")
		}
		qs, err := authz.OpenQuotas(authz.QuotasFile(*dataDir))
		if err != nil {
			return err
		}
		if err := qs.Set(*tenant, q); err != nil {
			return err
		}
		fmt.Fprintf(m.Stderr, "quota of %s set\n", *tenant)
		return nil
	case "list":
		if err := m.parse(fs, args[1:]); err != nil {
			return err
		}
		qs, err := authz.OpenQuotas(authz.QuotasFile(*dataDir))
		if err != nil {
			return err
		}
		names, all := qs.All()
		// Numbers right-aligned, written out in full (10000000, not 1e+07).
		num := func(v float64) string {
			if v == 0 {
				return "-"
			}
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		rows := [][]string{{"TENANT", "EVENTS/S", "BYTES/S", "QUERIES", "TIMEOUT", "STORAGE BYTES", "RESULT BYTES"}}
		for _, n := range names {
			q := all[n]
			to := q.QueryTimeout
			if to == "" {
				to = "-"
			}
			rows = append(rows, []string{n, num(q.IngestEventsPerSec), num(q.IngestBytesPerSec),
				num(float64(q.MaxConcurrentQueries)), to, num(float64(q.StorageBytes)), num(float64(q.MaxResultBytes))})
		}
		writeColumns(m.Stdout, rows, []bool{false, true, true, true, true, true, true})
		return nil
	}
	return usageError(fs, fmt.Errorf("unknown command %q", args[0]))
}

func (m *Main) runAdminUser(args []string) error {
	fs := newFlags("admin user "+args[0], helpSection(adminUsage, "admin user "+args[0]))
	dataDir := fs.String("data-dir", "./data", "the server's data directory")
	switch args[0] {
	case "set":
		name := fs.String("name", "", "the user name")
		tenant := fs.String("tenant", "", "the tenant the user acts in ('*' with role admin)")
		role := fs.String("role", "", "comma-separated roles")
		if err := m.parse(fs, args[1:]); err != nil {
			return err
		}
		if *name == "" || *tenant == "" {
			return errors.New("--name and --tenant are required")
		}
		pw := os.Getenv("ALLSOURCE_PASSWORD")
		if pw == "" {
			line, err := bufio.NewReader(os.Stdin).ReadString('\n')
			if err != nil && line == "" {
				return errors.New("give the password in ALLSOURCE_PASSWORD or on the first line of stdin")
			}
			pw = strings.TrimRight(line, "\r\n")
		}
		roles, err := authz.OpenRoles(authz.RolesFile(*dataDir))
		if err != nil {
			return err
		}
		us, err := authz.OpenUserStore(authz.UsersFile(*dataDir))
		if err != nil {
			return err
		}
		us.SetRoles(roles)
		if err := us.SetUser(*name, *tenant, splitList(*role), pw); err != nil {
			return err
		}
		fmt.Fprintf(m.Stderr, "user %s set (tenant %s)\n", *name, *tenant)
		return nil
	case "list":
		if err := m.parse(fs, args[1:]); err != nil {
			return err
		}
		us, err := authz.OpenUserStore(authz.UsersFile(*dataDir))
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(m.Stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tTENANT\tROLES\tCREATED")
		for _, u := range us.List() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Tenant, strings.Join(u.Roles, ","), u.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	case "delete":
		if err := m.parse(fs, args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("give the name of the user to delete")
		}
		us, err := authz.OpenUserStore(authz.UsersFile(*dataDir))
		if err != nil {
			return err
		}
		if err := us.Delete(fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(m.Stderr, "user %s deleted\n", fs.Arg(0))
		return nil
	}
	return usageError(fs, fmt.Errorf("unknown command %q", args[0]))
}

func (m *Main) runAdminPolicy(args []string) error {
	fs := newFlags("admin policy "+args[0], helpSection(adminUsage, "admin policy "+args[0]))
	dataDir := fs.String("data-dir", "./data", "the server's data directory")
	if err := m.parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError(fs, errors.New("give one policies FILE"))
	}
	b, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	if err := authz.CheckPolicies(b); err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	if args[0] == "check" {
		fmt.Fprintf(m.Stderr, "%s: the policies are valid\n", fs.Arg(0))
		return nil
	}
	// The policies are only written here, not evaluated: no roles needed.
	ps, err := authz.OpenPolicies(authz.PoliciesFile(*dataDir), nil)
	if err != nil && !strings.Contains(err.Error(), "policies file") {
		return err
	}
	if ps == nil {
		ps = authz.NewPolicies(authz.PoliciesFile(*dataDir), nil)
	}
	if err := ps.Set(b); err != nil {
		return err
	}
	fmt.Fprintf(m.Stderr, "policies installed (%d)\n", len(ps.List()))
	return nil
}

func (m *Main) runAdminRole(args []string) error {
	fs := newFlags("admin role "+args[0], helpSection(adminUsage, "admin role "+args[0]))
	dataDir := fs.String("data-dir", "./data", "the server's data directory")
	if err := m.parse(fs, args[1:]); err != nil {
		return err
	}
	switch {
	case args[0] == "set" && fs.NArg() == 1:
		b, err := os.ReadFile(fs.Arg(0))
		if err != nil {
			return err
		}
		// NewRoles does not read the file, so a broken one is replaced too.
		if err := authz.NewRoles(authz.RolesFile(*dataDir)).Set(b); err != nil {
			return fmt.Errorf("%s: %w", fs.Arg(0), err)
		}
		fmt.Fprintln(m.Stderr, "custom roles installed")
		return nil
	case args[0] == "list" && fs.NArg() == 0:
		roles, err := authz.OpenRoles(authz.RolesFile(*dataDir))
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(m.Stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ROLE\tACTIONS\tEVENT TYPES")
		for _, r := range roles.List() {
			acts := make([]string, len(r.Actions))
			for i, a := range r.Actions {
				acts[i] = string(a)
			}
			types := strings.Join(r.EventTypes, ",")
			if types == "" {
				types = "all"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, strings.Join(acts, ","), types)
		}
		return tw.Flush()
	}
	if args[0] == "set" {
		return usageError(fs, errors.New("give one roles FILE"))
	}
	return usageError(fs, fmt.Errorf("takes no arguments, got %q", fs.Args()))
}
