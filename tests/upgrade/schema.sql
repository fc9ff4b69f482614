-- The schema of the pg_erasure installed in this database, as sorted text lines, one per object
-- and property: scripts/upgrade.sh runs it in a database upgraded from 0.1.0 and in a fresh
-- install and diffs the two, so a difference names its object and what differs about it, e.g.
--   function erasure.drop_table(text,regclass,boolean) volatility=v
--   table erasure.ledger column key: type=text not_null=t default= identity= generated=
-- Object names, never OIDs; ACLs exploded and sorted, so only their meaning is compared.
\pset tuples_only on
\pset format unaligned
WITH ext AS (
    SELECT e.oid, e.extversion, e.extconfig, e.extcondition FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_erasure'
), member AS (
    SELECT d.classid, d.objid FROM pg_catalog.pg_depend d, ext
     WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
), rel AS (
    SELECT c.* FROM pg_catalog.pg_class c JOIN member m ON m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND m.objid = c.oid
), fn AS (
    SELECT p.*, l.lanname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
      JOIN member m ON m.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND m.objid = p.oid
), acl(object, acl) AS (
    SELECT 'schema ' || n.nspname, n.nspacl FROM pg_catalog.pg_namespace n WHERE n.nspname = 'erasure'
    UNION ALL SELECT 'relation ' || c.oid::pg_catalog.regclass, c.relacl FROM rel c
    UNION ALL SELECT 'relation ' || a.attrelid::pg_catalog.regclass || ' column ' || a.attname, a.attacl
                FROM pg_catalog.pg_attribute a JOIN rel c ON c.oid = a.attrelid WHERE a.attnum > 0 AND NOT a.attisdropped
    UNION ALL SELECT 'function ' || p.oid::pg_catalog.regprocedure, p.proacl FROM fn p
), line(line) AS (
    SELECT 'extension version=' || ext.extversion FROM ext
    UNION ALL SELECT 'extension config ' || c::pg_catalog.regclass || ' condition=' || coalesce(ext.extcondition[i], '')
      FROM ext, unnest(ext.extconfig) WITH ORDINALITY AS u(c, i)
    UNION ALL SELECT 'member ' || pg_catalog.pg_describe_object(m.classid, m.objid, 0) FROM member m
    UNION ALL SELECT 'schema erasure owner=' || n.nspowner::pg_catalog.regrole || ' comment=' || coalesce(pg_catalog.obj_description(n.oid, 'pg_namespace'), '')
      FROM pg_catalog.pg_namespace n WHERE n.nspname = 'erasure'
    -- Functions and procedures: one line per property; C functions by their symbol.
    UNION ALL SELECT 'function ' || p.oid::pg_catalog.regprocedure || ' ' || x
      FROM fn p, LATERAL (VALUES
        ('kind=' || p.prokind::text),
        ('arguments=' || pg_catalog.pg_get_function_arguments(p.oid)),
        ('returns=' || coalesce(pg_catalog.pg_get_function_result(p.oid), '')),
        ('language=' || p.lanname),
        ('volatility=' || p.provolatile::text),
        ('strict=' || p.proisstrict),
        ('security_definer=' || p.prosecdef),
        ('leakproof=' || p.proleakproof),
        ('parallel=' || p.proparallel::text),
        ('cost=' || p.procost || ' rows=' || p.prorows),
        ('config=' || coalesce(pg_catalog.array_to_string(p.proconfig, ' '), '')),
        ('owner=' || p.proowner::pg_catalog.regrole),
        ('body=' || CASE WHEN p.lanname = 'c' THEN p.probin || ' ' || p.prosrc ELSE pg_catalog.md5(p.prosrc) END),
        ('comment=' || coalesce(pg_catalog.obj_description(p.oid, 'pg_proc'), ''))) AS v(x)
    -- Relations: tables, views, sequences, with their columns, constraints, indexes, triggers.
    UNION ALL SELECT 'relation ' || c.oid::pg_catalog.regclass || ' kind=' || c.relkind::text || ' persistence=' || c.relpersistence::text
                     || ' owner=' || c.relowner::pg_catalog.regrole || ' rls=' || c.relrowsecurity
                     || ' options=' || coalesce(pg_catalog.array_to_string(c.reloptions, ' '), '')
      FROM rel c
    UNION ALL SELECT 'relation ' || c.oid::pg_catalog.regclass || ' comment=' || coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), '')
      FROM rel c
    UNION ALL SELECT 'relation ' || c.oid::pg_catalog.regclass || ' view=' || pg_catalog.pg_get_viewdef(c.oid)
      FROM rel c WHERE c.relkind IN ('v', 'm')
    UNION ALL SELECT 'relation ' || c.oid::pg_catalog.regclass || ' sequence: type=' || s.seqtypid::pg_catalog.regtype
                     || ' start=' || s.seqstart || ' increment=' || s.seqincrement || ' min=' || s.seqmin
                     || ' max=' || s.seqmax || ' cache=' || s.seqcache || ' cycle=' || s.seqcycle
      FROM rel c JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid
    UNION ALL SELECT 'relation ' || c.oid::pg_catalog.regclass || ' column ' || a.attname
                     || ': position=' || pg_catalog.row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum)
                     || ' type=' || pg_catalog.format_type(a.atttypid, a.atttypmod)
                     || ' not_null=' || a.attnotnull
                     || ' default=' || coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid), '')
                     || ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text
                     || ' collation=' || coalesce(NULLIF(a.attcollation, 0)::pg_catalog.regcollation::pg_catalog.text, '')
                     || ' comment=' || coalesce(pg_catalog.col_description(c.oid, a.attnum), '')
      FROM rel c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
    UNION ALL SELECT 'relation ' || c.oid::pg_catalog.regclass || ' constraint ' || k.conname || ': '
                     || pg_catalog.pg_get_constraintdef(k.oid) || ' deferrable=' || k.condeferrable
      FROM rel c JOIN pg_catalog.pg_constraint k ON k.conrelid = c.oid
    UNION ALL SELECT 'relation ' || c.oid::pg_catalog.regclass || ' index: ' || pg_catalog.pg_get_indexdef(i.indexrelid)
                     || ' comment=' || coalesce(pg_catalog.obj_description(i.indexrelid, 'pg_class'), '')
      FROM rel c JOIN pg_catalog.pg_index i ON i.indrelid = c.oid
    UNION ALL SELECT 'relation ' || c.oid::pg_catalog.regclass || ' trigger: ' || pg_catalog.pg_get_triggerdef(t.oid)
      FROM rel c JOIN pg_catalog.pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal
    UNION ALL SELECT 'relation ' || c.oid::pg_catalog.regclass || ' policy ' || p.polname || ': cmd=' || p.polcmd::text
                     || ' using=' || coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '')
                     || ' check=' || coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '')
      FROM rel c JOIN pg_catalog.pg_policy p ON p.polrelid = c.oid
    UNION ALL SELECT 'event trigger ' || e.evtname || ': event=' || e.evtevent || ' tags=' || coalesce(pg_catalog.array_to_string(e.evttags, ','), '')
                     || ' function=' || e.evtfoid::pg_catalog.regproc || ' enabled=' || e.evtenabled::text
                     || ' comment=' || coalesce(pg_catalog.obj_description(e.oid, 'pg_event_trigger'), '')
      FROM pg_catalog.pg_event_trigger e JOIN member m ON m.classid = 'pg_catalog.pg_event_trigger'::pg_catalog.regclass AND m.objid = e.oid
    UNION ALL SELECT 'type ' || t.oid::pg_catalog.regtype || ' type=' || t.typtype::text
      FROM pg_catalog.pg_type t JOIN member m ON m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND m.objid = t.oid
    -- Privileges, and the initial privileges pg_dump compares them with.
    UNION ALL SELECT a.object || ' grant ' || coalesce(NULLIF(x.grantee, 0)::pg_catalog.regrole::pg_catalog.text, 'PUBLIC')
                     || ' ' || x.privilege_type || CASE WHEN x.is_grantable THEN ' with grant option' ELSE '' END
                     || ' by ' || x.grantor::pg_catalog.regrole
      FROM acl a, pg_catalog.aclexplode(a.acl) AS x
    UNION ALL SELECT 'initial privileges of ' || pg_catalog.pg_describe_object(i.classoid, i.objoid, i.objsubid)
                     || ': ' || coalesce(NULLIF(x.grantee, 0)::pg_catalog.regrole::pg_catalog.text, 'PUBLIC')
                     || ' ' || x.privilege_type || ' by ' || x.grantor::pg_catalog.regrole || ' (' || i.privtype::text || ')'
      FROM pg_catalog.pg_init_privs i JOIN member m ON m.classid = i.classoid AND m.objid = i.objoid
         , pg_catalog.aclexplode(i.initprivs) AS x
    UNION ALL SELECT 'initial privileges of schema erasure: ' || coalesce(NULLIF(x.grantee, 0)::pg_catalog.regrole::pg_catalog.text, 'PUBLIC')
                     || ' ' || x.privilege_type || ' (' || i.privtype::text || ')'
      FROM pg_catalog.pg_init_privs i JOIN pg_catalog.pg_namespace n ON i.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND i.objoid = n.oid
         , pg_catalog.aclexplode(i.initprivs) AS x
     WHERE n.nspname = 'erasure' AND NOT EXISTS (SELECT FROM member m WHERE m.objid = n.oid)
)
SELECT line FROM line ORDER BY line COLLATE "C";
