package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/allsource/allsource/authz"
)

const tokenUsage = `Usage: allsource token issue --data-dir DIR --tenant T --role R[,R…] [--ttl 1h] [--subject NAME]

Prints a signed token (JWT, HS256) for the server on DIR: send it as
Authorization: Bearer <token>, or as the Postgres password. The signing
secret is DIR/auth/token-hs256.key, made on first use; a server on DIR
accepts tokens once it exists (restart a running one to turn
authentication on). Roles: admin (with --tenant '*'), tenant-admin, writer,
reader, analyst.

Flags:
`

func (m *Main) runToken(_ context.Context, args []string) error {
	if len(args) == 0 || args[0] != "issue" {
		fmt.Fprint(m.Stderr, tokenUsage)
		return &exitError{code: 2, err: errors.New("usage: allsource token issue …")}
	}
	fs := flag.NewFlagSet("token issue", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	dataDir := fs.String("data-dir", "./data", "the server's data directory")
	tenant := fs.String("tenant", "", "the tenant the token acts in ('*' with role admin)")
	role := fs.String("role", "", "comma-separated roles")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid (at most a year)")
	subject := fs.String("subject", "cli", "the token's subject (sub), as audit records name it")
	fs.Usage = func() { fmt.Fprint(m.Stderr, tokenUsage); fs.PrintDefaults() }
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *tenant == "" {
		return errors.New("--tenant is required")
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

API keys for the server on DIR (kept hashed in DIR/auth/keys.json). create
prints the key once; a running server picks up new and revoked keys within
a second. Send a key as Authorization: Bearer <key>, or as the Postgres
password. Roles: admin (with --tenant '*'), tenant-admin, writer, reader,
analyst.
`

func (m *Main) runAdmin(_ context.Context, args []string) error {
	if len(args) < 2 || args[0] != "key" {
		fmt.Fprint(m.Stderr, adminUsage)
		return &exitError{code: 2, err: errors.New("usage: allsource admin key create|list|revoke …")}
	}
	fs := flag.NewFlagSet("admin key "+args[1], flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() { fmt.Fprint(m.Stderr, adminUsage); fs.PrintDefaults() }
	dataDir := fs.String("data-dir", "./data", "the server's data directory")
	switch args[1] {
	case "create":
		tenant := fs.String("tenant", "", "the tenant the key acts in ('*' with role admin)")
		role := fs.String("role", "", "comma-separated roles")
		name := fs.String("name", "", "what the key is for")
		ttl := fs.Duration("ttl", 0, "how long the key is valid (0: until revoked)")
		if err := fs.Parse(args[2:]); err != nil {
			return err
		}
		if *tenant == "" {
			return errors.New("--tenant is required")
		}
		ks, err := authz.OpenKeyStore(authz.KeysFile(*dataDir))
		if err != nil {
			return err
		}
		key, k, err := ks.Create(*name, *tenant, splitList(*role), *ttl)
		if err != nil {
			return err
		}
		fmt.Fprintln(m.Stdout, key)
		fmt.Fprintf(m.Stderr, "key %s for tenant %s (%s); it is not shown again\n", k.ID, k.Tenant, strings.Join(k.Roles, ", "))
		return nil
	case "list":
		asJSON := fs.Bool("json", false, "print JSON")
		if err := fs.Parse(args[2:]); err != nil {
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
		if err := fs.Parse(args[2:]); err != nil {
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
	fmt.Fprint(m.Stderr, adminUsage)
	return &exitError{code: 2, err: fmt.Errorf("unknown admin key command %q", args[1])}
}
