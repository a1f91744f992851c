package pgsql

// catRel is one relation of the synthetic catalog: its PostgreSQL name,
// OID and columns (as "name type, …" with PostgreSQL type names), and how
// its rows are made.
type catRel struct {
	schema string // pg_catalog or information_schema
	name   string
	oid    uint32
	kind   byte   // 'r' table, 'v' view
	cols   string // "oid oid, relname name, …"
	// rows produces the rows; a nil rows means an empty relation. Values
	// are Go values (see sqlValue); userSQL in a value stands for the
	// session user name, which makes the relation a table macro keyed on
	// the user.
	rows    func(b *catalogBuild) [][]any
	perUser bool
}

// Namespace OIDs.
const (
	nsPgCatalog = 11
	nsToast     = 99
	nsPublic    = 2200
	nsInfo      = 13000
	ownerOID    = 10 // the bootstrap superuser: the session user
	langPlpgsql = 13574
	databaseOID = 5
	firstUserID = 16384
)

// userSQL in a row value is replaced by the session user name.
type rawSQL string

const userSQL rawSQL = "_user"

// catalogRels are the relations of the synthetic catalog (set in init).
var catalogRels []*catRel

func catalogRelDefs() []*catRel {
	return []*catRel{
		{schema: "pg_catalog", name: "pg_namespace", oid: 2615, kind: 'r', cols: "oid oid, nspname name, nspowner oid, nspacl aclitem[]", rows: (*catalogBuild).namespaces},
		{schema: "pg_catalog", name: "pg_class", oid: 1259, kind: 'r', cols: "oid oid, relname name, relnamespace oid, reltype oid, reloftype oid, relowner oid, relam oid, relfilenode oid, reltablespace oid, relpages int4, reltuples float4, relallvisible int4, reltoastrelid oid, relhasindex bool, relisshared bool, relpersistence char, relkind char, relnatts int2, relchecks int2, relhasrules bool, relhastriggers bool, relhassubclass bool, relrowsecurity bool, relforcerowsecurity bool, relispopulated bool, relreplident char, relispartition bool, relrewrite oid, relfrozenxid xid, relminmxid xid, relacl aclitem[], reloptions text[], relpartbound pg_node_tree", rows: (*catalogBuild).classes},
		{schema: "pg_catalog", name: "pg_attribute", oid: 1249, kind: 'r', cols: "attrelid oid, attname name, atttypid oid, attstattarget int4, attlen int2, attnum int2, attndims int4, attcacheoff int4, atttypmod int4, attbyval bool, attalign char, attstorage char, attcompression char, attnotnull bool, atthasdef bool, atthasmissing bool, attidentity char, attgenerated char, attisdropped bool, attislocal bool, attinhcount int4, attcollation oid, attacl aclitem[], attoptions text[], attfdwoptions text[], attmissingval anyarray", rows: (*catalogBuild).attributes},
		{schema: "pg_catalog", name: "pg_type", oid: 1247, kind: 'r', cols: "oid oid, typname name, typnamespace oid, typowner oid, typlen int2, typbyval bool, typtype char, typcategory char, typispreferred bool, typisdefined bool, typdelim char, typrelid oid, typsubscript regproc, typelem oid, typarray oid, typinput regproc, typoutput regproc, typreceive regproc, typsend regproc, typmodin regproc, typmodout regproc, typanalyze regproc, typalign char, typstorage char, typnotnull bool, typbasetype oid, typtypmod int4, typndims int4, typcollation oid, typdefaultbin pg_node_tree, typdefault text, typacl aclitem[]", rows: (*catalogBuild).types},
		{schema: "pg_catalog", name: "pg_database", oid: 1262, kind: 'r', cols: "oid oid, datname name, datdba oid, encoding int4, datlocprovider char, datistemplate bool, datallowconn bool, datconnlimit int4, datfrozenxid xid, datminmxid xid, dattablespace oid, datcollate text, datctype text, daticulocale text, datcollversion text, datacl aclitem[]", rows: func(*catalogBuild) [][]any {
			return [][]any{{databaseOID, DatabaseName, ownerOID, 6, "c", false, true, -1, 716, 1, 1663, "C.UTF-8", "C.UTF-8", nil, nil, nil}}
		}},
		{schema: "pg_catalog", name: "pg_proc", oid: 1255, kind: 'r', cols: "oid oid, proname name, pronamespace oid, proowner oid, prolang oid, procost float4, prorows float4, provariadic oid, prosupport regproc, prokind char, prosecdef bool, proleakproof bool, proisstrict bool, proretset bool, provolatile char, proparallel char, pronargs int2, pronargdefaults int2, prorettype oid, proargtypes oidvector, proallargtypes oid[], proargmodes char[], proargnames text[], proargdefaults pg_node_tree, protrftypes oid[], prosrc text, probin text, prosqlbody pg_node_tree, proconfig text[], proacl aclitem[]", rows: (*catalogBuild).procs},
		{schema: "pg_catalog", name: "pg_description", oid: 2609, kind: 'r', cols: "objoid oid, classoid oid, objsubid int4, description text", rows: (*catalogBuild).descriptions},
		{schema: "pg_catalog", name: "pg_shdescription", oid: 2396, kind: 'r', cols: "objoid oid, classoid oid, description text"},
		{schema: "pg_catalog", name: "pg_settings", oid: 12100, kind: 'v', cols: "name text, setting text, unit text, category text, short_desc text, extra_desc text, context text, vartype text, source text, min_val text, max_val text, enumvals text[], boot_val text, reset_val text, sourcefile text, sourceline int4, pending_restart bool", rows: (*catalogBuild).settingsRows},
		{schema: "pg_catalog", name: "pg_roles", oid: 12101, kind: 'v', perUser: true, cols: "rolname name, rolsuper bool, rolinherit bool, rolcreaterole bool, rolcreatedb bool, rolcanlogin bool, rolreplication bool, rolconnlimit int4, rolpassword text, rolvaliduntil timestamptz, rolbypassrls bool, rolconfig text[], oid oid", rows: func(*catalogBuild) [][]any {
			return [][]any{{userSQL, true, true, true, true, true, false, -1, "********", nil, true, nil, ownerOID}}
		}},
		{schema: "pg_catalog", name: "pg_authid", oid: 1260, kind: 'r', perUser: true, cols: "oid oid, rolname name, rolsuper bool, rolinherit bool, rolcreaterole bool, rolcreatedb bool, rolcanlogin bool, rolreplication bool, rolbypassrls bool, rolconnlimit int4, rolpassword text, rolvaliduntil timestamptz", rows: func(*catalogBuild) [][]any {
			return [][]any{{ownerOID, userSQL, true, true, true, true, true, false, true, -1, nil, nil}}
		}},
		{schema: "pg_catalog", name: "pg_user", oid: 12102, kind: 'v', perUser: true, cols: "usename name, usesysid oid, usecreatedb bool, usesuper bool, userepl bool, usebypassrls bool, passwd text, valuntil timestamptz, useconfig text[]", rows: func(*catalogBuild) [][]any {
			return [][]any{{userSQL, ownerOID, true, true, false, true, "********", nil, nil}}
		}},
		{schema: "pg_catalog", name: "pg_auth_members", oid: 1261, kind: 'r', cols: "roleid oid, member oid, grantor oid, admin_option bool"},
		{schema: "pg_catalog", name: "pg_group", oid: 12103, kind: 'v', cols: "groname name, grosysid oid, grolist oid[]"},
		{schema: "pg_catalog", name: "pg_tables", oid: 12104, kind: 'v', perUser: true, cols: "schemaname name, tablename name, tableowner name, tablespace name, hasindexes bool, hasrules bool, hastriggers bool, rowsecurity bool", rows: (*catalogBuild).tablesView},
		{schema: "pg_catalog", name: "pg_views", oid: 12105, kind: 'v', perUser: true, cols: "schemaname name, viewname name, viewowner name, definition text", rows: (*catalogBuild).viewsView},
		{schema: "pg_catalog", name: "pg_matviews", oid: 12106, kind: 'v', perUser: true, cols: "schemaname name, matviewname name, matviewowner name, tablespace name, hasindexes bool, ispopulated bool, definition text", rows: (*catalogBuild).matviewsView},
		{schema: "pg_catalog", name: "pg_index", oid: 2610, kind: 'r', cols: "indexrelid oid, indrelid oid, indnatts int2, indnkeyatts int2, indisunique bool, indnullsnotdistinct bool, indisprimary bool, indisexclusion bool, indimmediate bool, indisclustered bool, indisvalid bool, indcheckxmin bool, indisready bool, indislive bool, indisreplident bool, indkey int2vector, indcollation oidvector, indclass oidvector, indoption int2vector, indexprs pg_node_tree, indpred pg_node_tree"},
		{schema: "pg_catalog", name: "pg_indexes", oid: 12107, kind: 'v', cols: "schemaname name, tablename name, indexname name, tablespace name, indexdef text"},
		{schema: "pg_catalog", name: "pg_constraint", oid: 2606, kind: 'r', cols: "oid oid, conname name, connamespace oid, contype char, condeferrable bool, condeferred bool, convalidated bool, conrelid oid, contypid oid, conindid oid, conparentid oid, confrelid oid, confupdtype char, confdeltype char, confmatchtype char, conislocal bool, coninhcount int4, connoinherit bool, conkey int2[], confkey int2[], conpfeqop oid[], conppeqop oid[], conffeqop oid[], confdelsetcols int2[], conexclop oid[], conbin pg_node_tree"},
		{schema: "pg_catalog", name: "pg_am", oid: 2601, kind: 'r', cols: "oid oid, amname name, amhandler regproc, amtype char", rows: func(*catalogBuild) [][]any {
			return [][]any{{2, "heap", "heap_tableam_handler", "t"}, {403, "btree", "bthandler", "i"}, {405, "hash", "hashhandler", "i"},
				{783, "gist", "gisthandler", "i"}, {2742, "gin", "ginhandler", "i"}, {4000, "spgist", "spghandler", "i"}, {3580, "brin", "brinhandler", "i"}}
		}},
		{schema: "pg_catalog", name: "pg_inherits", oid: 2611, kind: 'r', cols: "inhrelid oid, inhparent oid, inhseqno int4, inhdetachpending bool"},
		// Empty relations pg_dump reads (the server has none of these objects).
		{schema: "pg_catalog", name: "pg_transform", oid: 3576, kind: 'r', cols: "oid oid, trftype oid, trflang oid, trffromsql regproc, trftosql regproc"},
		{schema: "pg_catalog", name: "pg_amop", oid: 2602, kind: 'r', cols: "oid oid, amopfamily oid, amoplefttype oid, amoprighttype oid, amopstrategy int2, amoppurpose char, amopopr oid, amopmethod oid, amopsortfamily oid"},
		{schema: "pg_catalog", name: "pg_amproc", oid: 2603, kind: 'r', cols: "oid oid, amprocfamily oid, amproclefttype oid, amprocrighttype oid, amprocnum int2, amproc regproc"},
		{schema: "pg_catalog", name: "pg_opfamily", oid: 2753, kind: 'r', cols: "oid oid, opfmethod oid, opfname name, opfnamespace oid, opfowner oid"},
		{schema: "pg_catalog", name: "pg_ts_parser", oid: 3601, kind: 'r', cols: "oid oid, prsname name, prsnamespace oid, prsstart regproc, prstoken regproc, prsend regproc, prsheadline regproc, prslextype regproc"},
		{schema: "pg_catalog", name: "pg_ts_template", oid: 3764, kind: 'r', cols: "oid oid, tmplname name, tmplnamespace oid, tmplinit regproc, tmpllexize regproc"},
		{schema: "pg_catalog", name: "pg_ts_dict", oid: 3600, kind: 'r', cols: "oid oid, dictname name, dictnamespace oid, dictowner oid, dicttemplate oid, dictinitoption text"},
		{schema: "pg_catalog", name: "pg_ts_config", oid: 3602, kind: 'r', cols: "oid oid, cfgname name, cfgnamespace oid, cfgowner oid, cfgparser oid"},
		{schema: "pg_catalog", name: "pg_subscription", oid: 6100, kind: 'r', cols: "oid oid, subdbid oid, subskiplsn pg_lsn, subname name, subowner oid, subenabled bool, subbinary bool, substream bool, subtwophasestate char, subdisableonerr bool, subconninfo text, subslotname name, subsynccommit text, subpublications text[]"},
		{schema: "pg_catalog", name: "pg_seclabels", oid: 12099, kind: 'v', cols: "objoid oid, classoid oid, objsubid int4, objtype text, objnamespace oid, objname text, provider text, label text"},
		{schema: "pg_catalog", name: "pg_attrdef", oid: 2604, kind: 'r', cols: "oid oid, adrelid oid, adnum int2, adbin pg_node_tree"},
		{schema: "pg_catalog", name: "pg_enum", oid: 3501, kind: 'r', cols: "oid oid, enumtypid oid, enumsortorder float4, enumlabel name"},
		{schema: "pg_catalog", name: "pg_extension", oid: 3079, kind: 'r', cols: "oid oid, extname name, extowner oid, extnamespace oid, extrelocatable bool, extversion text, extconfig oid[], extcondition text[]"},
		{schema: "pg_catalog", name: "pg_available_extensions", oid: 12108, kind: 'v', cols: "name name, default_version text, installed_version text, comment text"},
		{schema: "pg_catalog", name: "pg_stat_user_tables", oid: 12109, kind: 'v', cols: "relid oid, schemaname name, relname name, seq_scan int8, seq_tup_read int8, idx_scan int8, idx_tup_fetch int8, n_tup_ins int8, n_tup_upd int8, n_tup_del int8, n_tup_hot_upd int8, n_live_tup int8, n_dead_tup int8, n_mod_since_analyze int8, n_ins_since_vacuum int8, last_vacuum timestamptz, last_autovacuum timestamptz, last_analyze timestamptz, last_autoanalyze timestamptz, vacuum_count int8, autovacuum_count int8, analyze_count int8, autoanalyze_count int8", rows: (*catalogBuild).statUserTables},
		{schema: "pg_catalog", name: "pg_stat_user_indexes", oid: 12110, kind: 'v', cols: "relid oid, indexrelid oid, schemaname name, relname name, indexrelname name, idx_scan int8, idx_tup_read int8, idx_tup_fetch int8"},
		{schema: "pg_catalog", name: "pg_stat_activity", oid: 12111, kind: 'v', cols: "datid oid, datname name, pid int4, leader_pid int4, usesysid oid, usename name, application_name text, client_addr inet, client_hostname text, client_port int4, backend_start timestamptz, xact_start timestamptz, query_start timestamptz, state_change timestamptz, wait_event_type text, wait_event text, state text, backend_xid xid, backend_xmin xid, query_id int8, query text, backend_type text"},
		{schema: "pg_catalog", name: "pg_locks", oid: 12112, kind: 'v', cols: "locktype text, database oid, relation oid, page int4, tuple int2, virtualxid text, transactionid xid, classid oid, objid oid, objsubid int2, virtualtransaction text, pid int4, mode text, granted bool, fastpath bool, waitstart timestamptz"},
		{schema: "pg_catalog", name: "pg_tablespace", oid: 1213, kind: 'r', cols: "oid oid, spcname name, spcowner oid, spcacl aclitem[], spcoptions text[]", rows: func(*catalogBuild) [][]any {
			return [][]any{{1663, "pg_default", ownerOID, nil, nil}, {1664, "pg_global", ownerOID, nil, nil}}
		}},
		{schema: "pg_catalog", name: "pg_depend", oid: 2608, kind: 'r', cols: "classid oid, objid oid, objsubid int4, refclassid oid, refobjid oid, refobjsubid int4, deptype char"},
		{schema: "pg_catalog", name: "pg_shdepend", oid: 1214, kind: 'r', cols: "dbid oid, classid oid, objid oid, objsubid int4, refclassid oid, refobjid oid, deptype char"},
		{schema: "pg_catalog", name: "pg_trigger", oid: 2620, kind: 'r', cols: "oid oid, tgrelid oid, tgparentid oid, tgname name, tgfoid oid, tgtype int2, tgenabled char, tgisinternal bool, tgconstrrelid oid, tgconstrindid oid, tgconstraint oid, tgdeferrable bool, tginitdeferred bool, tgnargs int2, tgattr int2vector, tgargs bytea, tgqual pg_node_tree, tgoldtable name, tgnewtable name"},
		{schema: "pg_catalog", name: "pg_rewrite", oid: 2618, kind: 'r', cols: "oid oid, rulename name, ev_class oid, ev_type char, ev_enabled char, is_instead bool, ev_qual pg_node_tree, ev_action pg_node_tree"},
		{schema: "pg_catalog", name: "pg_rules", oid: 12113, kind: 'v', cols: "schemaname name, tablename name, rulename name, definition text"},
		{schema: "pg_catalog", name: "pg_policy", oid: 3256, kind: 'r', cols: "oid oid, polname name, polrelid oid, polcmd char, polpermissive bool, polroles oid[], polqual pg_node_tree, polwithcheck pg_node_tree"},
		{schema: "pg_catalog", name: "pg_policies", oid: 12114, kind: 'v', cols: "schemaname name, tablename name, policyname name, permissive text, roles name[], cmd text, qual text, with_check text"},
		{schema: "pg_catalog", name: "pg_collation", oid: 3456, kind: 'r', cols: "oid oid, collname name, collnamespace oid, collowner oid, collprovider char, collisdeterministic bool, collencoding int4, collcollate text, collctype text, colliculocale text, collversion text", rows: func(*catalogBuild) [][]any {
			return [][]any{{100, "default", nsPgCatalog, ownerOID, "d", true, -1, nil, nil, nil, nil},
				{950, "C", nsPgCatalog, ownerOID, "c", true, -1, "C", "C", nil, nil},
				{951, "POSIX", nsPgCatalog, ownerOID, "c", true, -1, "POSIX", "POSIX", nil, nil}}
		}},
		{schema: "pg_catalog", name: "pg_language", oid: 2612, kind: 'r', cols: "oid oid, lanname name, lanowner oid, lanispl bool, lanpltrusted bool, lanplcallfoid oid, laninline oid, lanvalidator oid, lanacl aclitem[]", rows: func(*catalogBuild) [][]any {
			return [][]any{{12, "internal", ownerOID, false, false, 0, 0, 2246, nil}, {13, "c", ownerOID, false, false, 0, 0, 2247, nil}, {14, "sql", ownerOID, false, true, 0, 0, 2248, nil},
				{langPlpgsql, "plpgsql", ownerOID, true, true, 0, 0, 0, nil}}
		}},
		{schema: "pg_catalog", name: "pg_conversion", oid: 2607, kind: 'r', cols: "oid oid, conname name, connamespace oid, conowner oid, conforencoding int4, contoencoding int4, conproc regproc, condefault bool"},
		{schema: "pg_catalog", name: "pg_statistic_ext", oid: 3381, kind: 'r', cols: "oid oid, stxrelid oid, stxname name, stxnamespace oid, stxowner oid, stxstattarget int4, stxkeys int2vector, stxkind char[], stxexprs pg_node_tree"},
		{schema: "pg_catalog", name: "pg_publication", oid: 6104, kind: 'r', cols: "oid oid, pubname name, pubowner oid, puballtables bool, pubinsert bool, pubupdate bool, pubdelete bool, pubtruncate bool, pubviaroot bool"},
		{schema: "pg_catalog", name: "pg_publication_rel", oid: 6106, kind: 'r', cols: "oid oid, prpubid oid, prrelid oid, prqual pg_node_tree, prattrs int2vector"},
		{schema: "pg_catalog", name: "pg_publication_namespace", oid: 6237, kind: 'r', cols: "oid oid, pnpubid oid, pnnspid oid"},
		{schema: "pg_catalog", name: "pg_partitioned_table", oid: 3350, kind: 'r', cols: "partrelid oid, partstrat char, partnatts int2, partdefid oid, partattrs int2vector, partclass oidvector, partcollation oidvector, partexprs pg_node_tree"},
		{schema: "pg_catalog", name: "pg_foreign_table", oid: 3118, kind: 'r', cols: "ftrelid oid, ftserver oid, ftoptions text[]"},
		{schema: "pg_catalog", name: "pg_foreign_server", oid: 1417, kind: 'r', cols: "oid oid, srvname name, srvowner oid, srvfdw oid, srvtype text, srvversion text, srvacl aclitem[], srvoptions text[]"},
		{schema: "pg_catalog", name: "pg_foreign_data_wrapper", oid: 2328, kind: 'r', cols: "oid oid, fdwname name, fdwowner oid, fdwhandler oid, fdwvalidator oid, fdwacl aclitem[], fdwoptions text[]"},
		{schema: "pg_catalog", name: "pg_sequence", oid: 2224, kind: 'r', cols: "seqrelid oid, seqtypid oid, seqstart int8, seqincrement int8, seqmax int8, seqmin int8, seqcache int8, seqcycle bool"},
		{schema: "pg_catalog", name: "pg_sequences", oid: 12115, kind: 'v', cols: "schemaname name, sequencename name, sequenceowner name, data_type regtype, start_value int8, min_value int8, max_value int8, increment_by int8, cycle bool, cache_size int8, last_value int8"},
		{schema: "pg_catalog", name: "pg_event_trigger", oid: 3466, kind: 'r', cols: "oid oid, evtname name, evtevent name, evtowner oid, evtfoid oid, evtenabled char, evttags text[]"},
		{schema: "pg_catalog", name: "pg_cast", oid: 2605, kind: 'r', cols: "oid oid, castsource oid, casttarget oid, castfunc oid, castcontext char, castmethod char"},
		{schema: "pg_catalog", name: "pg_operator", oid: 2617, kind: 'r', cols: "oid oid, oprname name, oprnamespace oid, oprowner oid, oprkind char, oprcanmerge bool, oprcanhash bool, oprleft oid, oprright oid, oprresult oid, oprcom oid, oprnegate oid, oprcode regproc, oprrest regproc, oprjoin regproc"},
		{schema: "pg_catalog", name: "pg_opclass", oid: 2616, kind: 'r', cols: "oid oid, opcmethod oid, opcname name, opcnamespace oid, opcowner oid, opcfamily oid, opcintype oid, opcdefault bool, opckeytype oid"},
		{schema: "pg_catalog", name: "pg_aggregate", oid: 2600, kind: 'r', cols: "aggfnoid regproc, aggkind char, aggnumdirectargs int2, aggtransfn regproc, aggfinalfn regproc, aggtranstype oid, agginitval text"},
		{schema: "pg_catalog", name: "pg_range", oid: 3541, kind: 'r', cols: "rngtypid oid, rngsubtype oid, rngmultitypid oid, rngcollation oid, rngsubopc oid, rngcanonical regproc, rngsubdiff regproc"},
		{schema: "pg_catalog", name: "pg_default_acl", oid: 826, kind: 'r', cols: "oid oid, defaclrole oid, defaclnamespace oid, defaclobjtype char, defaclacl aclitem[]"},
		{schema: "pg_catalog", name: "pg_db_role_setting", oid: 2964, kind: 'r', cols: "setdatabase oid, setrole oid, setconfig text[]"},
		{schema: "pg_catalog", name: "pg_largeobject_metadata", oid: 2995, kind: 'r', cols: "oid oid, lomowner oid, lomacl aclitem[]"},
		{schema: "pg_catalog", name: "pg_init_privs", oid: 3394, kind: 'r', cols: "objoid oid, classoid oid, objsubid int4, privtype char, initprivs aclitem[]"},
		{schema: "pg_catalog", name: "pg_seclabel", oid: 3596, kind: 'r', cols: "objoid oid, classoid oid, objsubid int4, provider text, label text"},
		{schema: "pg_catalog", name: "pg_prepared_statements", oid: 12116, kind: 'v', cols: "name text, statement text, prepare_time timestamptz, parameter_types regtype[], from_sql bool, generic_plans int8, custom_plans int8"},
		{schema: "pg_catalog", name: "pg_timezone_names", oid: 12117, kind: 'v', cols: "name text, abbrev text, utc_offset interval, is_dst bool", rows: func(*catalogBuild) [][]any {
			return [][]any{{"UTC", "UTC", rawSQL("INTERVAL '0 seconds'"), false}, {"Etc/UTC", "UTC", rawSQL("INTERVAL '0 seconds'"), false},
				{"GMT", "GMT", rawSQL("INTERVAL '0 seconds'"), false}, {"Zulu", "UTC", rawSQL("INTERVAL '0 seconds'"), false}}
		}},
		{schema: "pg_catalog", name: "pg_timezone_abbrevs", oid: 12118, kind: 'v', cols: "abbrev text, utc_offset interval, is_dst bool", rows: func(*catalogBuild) [][]any {
			return [][]any{{"UTC", rawSQL("INTERVAL '0 seconds'"), false}, {"GMT", rawSQL("INTERVAL '0 seconds'"), false}}
		}},
		{schema: "pg_catalog", name: "pg_stat_database", oid: 12119, kind: 'v', cols: "datid oid, datname name, numbackends int4, xact_commit int8, xact_rollback int8, blks_read int8, blks_hit int8, tup_returned int8, tup_fetched int8, tup_inserted int8, tup_updated int8, tup_deleted int8, conflicts int8, temp_files int8, temp_bytes int8, deadlocks int8, stats_reset timestamptz", rows: func(*catalogBuild) [][]any {
			return [][]any{{databaseOID, DatabaseName, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, nil}}
		}},

		{schema: "information_schema", name: "information_schema_catalog_name", oid: 13101, kind: 'v', cols: "catalog_name name", rows: func(*catalogBuild) [][]any { return [][]any{{DatabaseName}} }},
		{schema: "information_schema", name: "schemata", oid: 13102, kind: 'v', perUser: true, cols: "catalog_name name, schema_name name, schema_owner name, default_character_set_catalog name, default_character_set_schema name, default_character_set_name name, sql_path varchar", rows: (*catalogBuild).schemata},
		{schema: "information_schema", name: "tables", oid: 13103, kind: 'v', cols: "table_catalog name, table_schema name, table_name name, table_type varchar, self_referencing_column_name name, reference_generation varchar, user_defined_type_catalog name, user_defined_type_schema name, user_defined_type_name name, is_insertable_into varchar, is_typed varchar, commit_action varchar", rows: (*catalogBuild).infoTables},
		{schema: "information_schema", name: "columns", oid: 13104, kind: 'v', cols: "table_catalog name, table_schema name, table_name name, column_name name, ordinal_position int4, column_default varchar, is_nullable varchar, data_type varchar, character_maximum_length int4, character_octet_length int4, numeric_precision int4, numeric_precision_radix int4, numeric_scale int4, datetime_precision int4, interval_type varchar, interval_precision int4, character_set_catalog name, character_set_schema name, character_set_name name, collation_catalog name, collation_schema name, collation_name name, domain_catalog name, domain_schema name, domain_name name, udt_catalog name, udt_schema name, udt_name name, scope_catalog name, scope_schema name, scope_name name, maximum_cardinality int4, dtd_identifier name, is_self_referencing varchar, is_identity varchar, identity_generation varchar, identity_start varchar, identity_increment varchar, identity_maximum varchar, identity_minimum varchar, identity_cycle varchar, is_generated varchar, generation_expression varchar, is_updatable varchar", rows: (*catalogBuild).infoColumns},
		{schema: "information_schema", name: "views", oid: 13105, kind: 'v', cols: "table_catalog name, table_schema name, table_name name, view_definition varchar, check_option varchar, is_updatable varchar, is_insertable_into varchar, is_trigger_updatable varchar, is_trigger_deletable varchar, is_trigger_insertable_into varchar", rows: (*catalogBuild).infoViews},
		{schema: "information_schema", name: "table_constraints", oid: 13106, kind: 'v', cols: "constraint_catalog name, constraint_schema name, constraint_name name, table_catalog name, table_schema name, table_name name, constraint_type varchar, is_deferrable varchar, initially_deferred varchar, enforced varchar, nulls_distinct varchar"},
		{schema: "information_schema", name: "key_column_usage", oid: 13107, kind: 'v', cols: "constraint_catalog name, constraint_schema name, constraint_name name, table_catalog name, table_schema name, table_name name, column_name name, ordinal_position int4, position_in_unique_constraint int4"},
		{schema: "information_schema", name: "constraint_column_usage", oid: 13108, kind: 'v', cols: "table_catalog name, table_schema name, table_name name, column_name name, constraint_catalog name, constraint_schema name, constraint_name name"},
		{schema: "information_schema", name: "constraint_table_usage", oid: 13109, kind: 'v', cols: "table_catalog name, table_schema name, table_name name, constraint_catalog name, constraint_schema name, constraint_name name"},
		{schema: "information_schema", name: "referential_constraints", oid: 13110, kind: 'v', cols: "constraint_catalog name, constraint_schema name, constraint_name name, unique_constraint_catalog name, unique_constraint_schema name, unique_constraint_name name, match_option varchar, update_rule varchar, delete_rule varchar"},
		{schema: "information_schema", name: "check_constraints", oid: 13111, kind: 'v', cols: "constraint_catalog name, constraint_schema name, constraint_name name, check_clause varchar"},
		{schema: "information_schema", name: "routines", oid: 13112, kind: 'v', cols: "specific_catalog name, specific_schema name, specific_name name, routine_catalog name, routine_schema name, routine_name name, routine_type varchar, data_type varchar, type_udt_catalog name, type_udt_schema name, type_udt_name name, routine_body varchar, routine_definition varchar, external_name varchar, external_language varchar, is_deterministic varchar, sql_data_access varchar, is_null_call varchar, security_type varchar"},
		{schema: "information_schema", name: "parameters", oid: 13113, kind: 'v', cols: "specific_catalog name, specific_schema name, specific_name name, ordinal_position int4, parameter_mode varchar, is_result varchar, as_locator varchar, parameter_name name, data_type varchar, udt_catalog name, udt_schema name, udt_name name, parameter_default varchar"},
		{schema: "information_schema", name: "character_sets", oid: 13114, kind: 'v', cols: "character_set_catalog name, character_set_schema name, character_set_name name, character_repertoire name, form_of_use name, default_collate_catalog name, default_collate_schema name, default_collate_name name", rows: func(*catalogBuild) [][]any {
			return [][]any{{nil, nil, "UTF8", "UCS", "UTF8", DatabaseName, "pg_catalog", "C.UTF-8"}}
		}},
		{schema: "information_schema", name: "triggers", oid: 13115, kind: 'v', cols: "trigger_catalog name, trigger_schema name, trigger_name name, event_manipulation varchar, event_object_catalog name, event_object_schema name, event_object_table name, action_order int4, action_condition varchar, action_statement varchar, action_orientation varchar, action_timing varchar"},
		{schema: "information_schema", name: "sequences", oid: 13116, kind: 'v', cols: "sequence_catalog name, sequence_schema name, sequence_name name, data_type varchar, numeric_precision int4, numeric_precision_radix int4, numeric_scale int4, start_value varchar, minimum_value varchar, maximum_value varchar, increment varchar, cycle_option varchar"},
		{schema: "information_schema", name: "table_privileges", oid: 13117, kind: 'v', perUser: true, cols: "grantor name, grantee name, table_catalog name, table_schema name, table_name name, privilege_type varchar, is_grantable varchar, with_hierarchy varchar", rows: (*catalogBuild).tablePrivileges},
		{schema: "information_schema", name: "enabled_roles", oid: 13118, kind: 'v', perUser: true, cols: "role_name name", rows: func(*catalogBuild) [][]any { return [][]any{{userSQL}} }},
		{schema: "information_schema", name: "applicable_roles", oid: 13119, kind: 'v', cols: "grantee name, role_name name, is_grantable varchar"},
	}
}
