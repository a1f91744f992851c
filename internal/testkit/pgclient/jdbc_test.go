package pgclient

import "testing"

func TestJDBCURL(t *testing.T) {
	tests := []struct {
		dsn, want string
		fail      bool
	}{
		{dsn: "postgres://postgres@127.0.0.1:5433/postgres?sslmode=disable",
			want: "jdbc:postgresql://127.0.0.1:5433/postgres?sslmode=disable&user=postgres"},
		{dsn: "postgresql://an%20alyst:p%26w@localhost:6000/allsource?sslmode=require",
			want: "jdbc:postgresql://localhost:6000/allsource?password=p%26w&sslmode=require&user=an+alyst"},
		{dsn: "postgres://u:pw@[::1]:5432/db?sslmode=prefer",
			want: "jdbc:postgresql://[::1]:5432/db?password=pw&sslmode=prefer&user=u"},
		{dsn: "host=127.0.0.1 port=7000 user=u dbname=d sslmode=disable",
			want: "jdbc:postgresql://127.0.0.1:7000/d?sslmode=disable&user=u"},
		{dsn: "host=/tmp user=u dbname=d", fail: true},
		{dsn: "postgres://u@h1:1,h2:2/d?sslmode=disable", fail: true},
		{dsn: "postgres://u@h1:1,h2:2/d?sslmode=prefer", fail: true},
	}
	for _, tt := range tests {
		got, err := JDBCURL(tt.dsn)
		if tt.fail {
			if err == nil {
				t.Errorf("JDBCURL(%q) = %q, want an error", tt.dsn, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("JDBCURL(%q) = %q, %v; want %q", tt.dsn, got, err, tt.want)
		}
	}
}
