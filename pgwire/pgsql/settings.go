package pgsql

import "strings"

// ServerVersion is the PostgreSQL version AllSource reports.
const (
	ServerVersion    = "15.13"
	ServerVersionNum = "150013"
	VersionString    = "PostgreSQL 15.13 (AllSource) on x86_64-pc-linux-gnu, compiled by Go, 64-bit"
	DatabaseName     = "allsource"
)

// setting describes one configuration parameter a session knows.
type setting struct {
	name     string // canonical spelling, as SHOW ALL and pg_settings print it
	value    string // default
	readOnly bool   // SET refuses it (55P02)
	category string
	desc     string
}

// settings are the parameters a session knows, keyed by lower-case name.
var settings = func() map[string]setting {
	list := []setting{
		{"application_name", "", false, "Reporting and Logging / What to Log", "Sets the application name to be reported in statistics and logs."},
		{"array_nulls", "on", false, "Version and Platform Compatibility", "Enable input of NULL elements in arrays."},
		{"backslash_quote", "safe_encoding", false, "Version and Platform Compatibility", "Sets whether \"\\'\" is allowed in string literals."},
		{"block_size", "8192", true, "Preset Options", "Shows the size of a disk block."},
		{"bytea_output", "hex", false, "Client Connection Defaults / Statement Behavior", "Sets the output format for bytea."},
		{"client_encoding", "UTF8", false, "Client Connection Defaults / Locale and Formatting", "Sets the client's character set encoding."},
		{"client_min_messages", "notice", false, "Client Connection Defaults / Statement Behavior", "Sets the message levels that are sent to the client."},
		{"cursor_tuple_fraction", "0.1", false, "Query Tuning / Other Planner Options", "Sets the planner's estimate of the fraction of a cursor's rows that will be retrieved."},
		{"DateStyle", "ISO, MDY", false, "Client Connection Defaults / Locale and Formatting", "Sets the display format for date and time values."},
		{"default_tablespace", "", false, "Client Connection Defaults / Statement Behavior", "Sets the default tablespace to create tables and indexes in."},
		{"default_text_search_config", "pg_catalog.english", false, "Client Connection Defaults / Locale and Formatting", "Sets default text search configuration."},
		{"default_transaction_deferrable", "off", false, "Client Connection Defaults / Statement Behavior", "Sets the default deferrable status of new transactions."},
		{"default_transaction_isolation", "read committed", false, "Client Connection Defaults / Statement Behavior", "Sets the transaction isolation level of each new transaction."},
		{"default_transaction_read_only", "off", false, "Client Connection Defaults / Statement Behavior", "Sets the default read-only status of new transactions."},
		{"escape_string_warning", "on", false, "Version and Platform Compatibility", "Warn about backslash escapes in ordinary string literals."},
		{"extra_float_digits", "1", false, "Client Connection Defaults / Locale and Formatting", "Sets the number of digits displayed for floating-point values."},
		{"idle_in_transaction_session_timeout", "0", false, "Client Connection Defaults / Statement Behavior", "Sets the maximum allowed idle time between queries, when in a transaction."},
		{"idle_session_timeout", "0", false, "Client Connection Defaults / Statement Behavior", "Sets the maximum allowed idle time between queries, when not in a transaction."},
		{"in_hot_standby", "off", true, "Preset Options", "Shows whether hot standby is currently active."},
		{"integer_datetimes", "on", true, "Preset Options", "Shows whether datetimes are integer based."},
		{"IntervalStyle", "postgres", false, "Client Connection Defaults / Locale and Formatting", "Sets the display format for interval values."},
		{"is_superuser", "on", true, "Preset Options", "Shows whether the current user is a superuser."},
		{"jit", "off", false, "Query Tuning / Other Planner Options", "Allow JIT compilation."},
		{"lc_collate", "C.UTF-8", true, "Preset Options", "Shows the collation order locale."},
		{"lc_ctype", "C.UTF-8", true, "Preset Options", "Shows the character classification and case conversion locale."},
		{"lc_messages", "C.UTF-8", false, "Client Connection Defaults / Locale and Formatting", "Sets the language in which messages are displayed."},
		{"lc_monetary", "C.UTF-8", false, "Client Connection Defaults / Locale and Formatting", "Sets the locale for formatting monetary amounts."},
		{"lc_numeric", "C.UTF-8", false, "Client Connection Defaults / Locale and Formatting", "Sets the locale for formatting numbers."},
		{"lc_time", "C.UTF-8", false, "Client Connection Defaults / Locale and Formatting", "Sets the locale for formatting date and time values."},
		{"lock_timeout", "0", false, "Client Connection Defaults / Statement Behavior", "Sets the maximum allowed duration of any wait for a lock."},
		{"max_connections", "100", true, "Connections and Authentication / Connection Settings", "Sets the maximum number of concurrent connections."},
		{"max_identifier_length", "63", true, "Preset Options", "Shows the maximum identifier length."},
		{"max_index_keys", "32", true, "Preset Options", "Shows the maximum number of index keys."},
		{"quote_all_identifiers", "off", false, "Version and Platform Compatibility", "When generating SQL fragments, quote all identifiers."},
		{"role", "none", false, "Preset Options", "Sets the current role."},
		{"row_security", "on", false, "Client Connection Defaults / Statement Behavior", "Enable row security."},
		{"search_path", `"$user", public`, false, "Client Connection Defaults / Statement Behavior", "Sets the schema search order for names that are not schema-qualified."},
		{"server_encoding", "UTF8", true, "Preset Options", "Shows the server (database) character set encoding."},
		{"server_version", ServerVersion, true, "Preset Options", "Shows the server version."},
		{"server_version_num", ServerVersionNum, true, "Preset Options", "Shows the server version as an integer."},
		{"session_authorization", "", false, "Preset Options", "Sets the session user name."},
		{"synchronize_seqscans", "on", false, "Version and Platform Compatibility / Previous PostgreSQL Versions", "Enable synchronized sequential scans."},
		{"standard_conforming_strings", "on", false, "Version and Platform Compatibility", "Causes '...' strings to treat backslashes literally."},
		{"statement_timeout", "0", false, "Client Connection Defaults / Statement Behavior", "Sets the maximum allowed duration of any statement."},
		{"synchronous_commit", "on", false, "Write-Ahead Log / Settings", "Sets the current transaction's synchronization level."},
		{"TimeZone", "UTC", false, "Client Connection Defaults / Locale and Formatting", "Sets the time zone for displaying and interpreting time stamps."},
		{"timezone_abbreviations", "Default", false, "Client Connection Defaults / Locale and Formatting", "Selects a file of time zone abbreviations."},
		{"transaction_deferrable", "off", false, "Client Connection Defaults / Statement Behavior", "Whether to defer a read-only serializable transaction until it can be executed with no possible serialization failures."},
		{"transaction_isolation", "read committed", false, "Client Connection Defaults / Statement Behavior", "Sets the current transaction's isolation level."},
		{"transaction_read_only", "off", false, "Client Connection Defaults / Statement Behavior", "Sets the current transaction's read-only status."},
		{"work_mem", "4MB", false, "Resource Usage / Memory", "Sets the maximum memory to be used for query workspaces."},
		{"xmlbinary", "base64", false, "Client Connection Defaults / Statement Behavior", "Sets how binary values are to be encoded in XML."},
		{"xmloption", "content", false, "Client Connection Defaults / Statement Behavior", "Sets whether XML data in implicit parsing and serialization operations is to be considered as documents or content fragments."},
	}
	m := make(map[string]setting, len(list))
	for _, s := range list {
		m[strings.ToLower(s.name)] = s
	}
	return m
}()

// DefaultSettings returns the settings a new session starts with, keyed by
// lower-case name. Its keys are the known parameter names: SET, SHOW and
// current_setting refuse other names (42704) except custom ones with a dot
// ("myapp.x"), which PostgreSQL allows. pgwire fills in session_authorization
// and may override application_name and others from the startup message.
func DefaultSettings() map[string]string {
	m := make(map[string]string, len(settings))
	for k, s := range settings {
		m[k] = s.value
	}
	return m
}

// SettingName returns the canonical spelling of a known parameter name
// ("datestyle" → "DateStyle"), as SHOW uses for its column name, or name
// itself when unknown.
func SettingName(name string) string {
	if s, ok := settings[strings.ToLower(name)]; ok {
		return s.name
	}
	return name
}

// KnownSetting reports whether name is a parameter a session may SET or
// SHOW: a known name or a custom "prefix.name".
func KnownSetting(name string) bool {
	name = strings.ToLower(name)
	_, ok := settings[name]
	return ok || strings.Contains(name, ".")
}

// checkSettable refuses unknown and read-only parameters.
func checkSettable(name string, pos int) error {
	if !KnownSetting(name) {
		return errorf(CodeUndefinedObject, pos, "unrecognized configuration parameter \"%s\"", name)
	}
	if s, ok := settings[name]; ok && s.readOnly {
		return errorf(CodeCantChangeRuntime, pos, "parameter \"%s\" cannot be changed", name)
	}
	return nil
}
