-- The safety net: what the catalog does not cover, or covers wrongly, before an erasure leaves
-- personal data behind. Plain SQL over PostgreSQL's catalogs and pg_erasure's.

-- Column names that usually hold personal data, in English, Portuguese, French, Italian and
-- Swedish (word parts, matched case-insensitively).
CREATE FUNCTION erasure.personal_name_pattern() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$ SELECT '(e_?mail|phone|fone|telefon|mobile|cell|celular|cpf|cnpj|ssn|personnummer|iban|ip_?addr|(^|_)ip($|_)|'
             || 'name|nome|nom($|_)|namn|cognome|prenom|address|endereco|adresse|indirizzo|adress|street|rua($|_)|'
             || 'birth|nascimento|naissance|nascita|fodelse|fødelse|födelse)' $$;
COMMENT ON FUNCTION erasure.personal_name_pattern() IS
    'The regular expression erasure.check() matches column names against to flag columns that look personal.';

-- Of the subjects, those the current user acts for: it owns (or is a member of the owner of)
-- their subject table, or is a superuser.
CREATE FUNCTION erasure.registered_tables(subject text DEFAULT NULL)
RETURNS TABLE(subject text, tbl regclass, action text, reason text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    WITH mine AS (
        SELECT s.subject, s.tbl FROM erasure.subjects s JOIN pg_class c ON c.oid = s.tbl
         WHERE ($1 IS NULL OR s.subject = $1) AND pg_has_role(c.relowner, 'USAGE'))
    SELECT m.subject, m.tbl, 'mask', NULL FROM mine m
    UNION ALL
    SELECT t.subject, t.tbl, t.action, t.reason FROM erasure.tables t JOIN mine m ON m.subject = t.subject
$$;
COMMENT ON FUNCTION erasure.registered_tables(text) IS
    'The tables registered for a subject (every subject when NULL) whose subject table the current user owns, its own table included (as mask).';

-- Whether a registered table's column policies are applied to its rows: at the erasure
-- (action mask) or when its retention period ends (action retain with retain_for).
CREATE FUNCTION erasure.is_masked(subject text, tbl regclass, action text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    SELECT action = 'mask'
        OR action = 'retain' AND EXISTS (SELECT FROM erasure.tables t
                                          WHERE t.subject = $1 AND t.tbl = $2 AND t.retain_for IS NOT NULL)
$$;
COMMENT ON FUNCTION erasure.is_masked(text, regclass, text) IS
    'Whether the column policies of a registered table are applied to its rows: at the erasure (mask) or at the end of its retention period (retain with retain_for). For erasure.check().';

-- Where a registered table's rows are: the table itself, or for a partitioned table each of
-- its partitions that holds rows (partitions of partitions included).
CREATE FUNCTION erasure.leaves(tbl regclass) RETURNS TABLE(leaf regclass)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    SELECT $1 WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = $1 AND c.relkind = 'p')
    UNION ALL
    SELECT p.relid FROM pg_partition_tree($1) p WHERE p.isleaf
$$;
COMMENT ON FUNCTION erasure.leaves(regclass) IS
    'The tables holding a registered table''s rows: itself, or each leaf partition of a partitioned table. For erasure.check().';

-- The privileges a subject's owner needs on a registered table for its action, the first one
-- it lacks (NULL when it has them all): erasures run with exactly that owner's rights.
-- Registration refuses a table for which this is not NULL, and check() reports it.
CREATE FUNCTION erasure.missing_privilege(owner oid, tbl regclass, action text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.privilege
      FROM unnest(CASE WHEN action = 'retain' THEN ARRAY['SELECT'] ELSE ARRAY['SELECT', 'UPDATE', 'DELETE'] END)
           WITH ORDINALITY AS p(privilege, n)
     WHERE NOT has_table_privilege(owner, tbl, p.privilege)
     ORDER BY p.n LIMIT 1
$$;
COMMENT ON FUNCTION erasure.missing_privilege(oid, regclass, text) IS
    'The first privilege the role owner lacks on tbl to erase its rows under action mask, delete (SELECT, UPDATE, DELETE) or retain (SELECT); NULL when none is missing.';

CREATE FUNCTION erasure.check_policy(tbl regclass, col name) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'check_policy_wrapper';
COMMENT ON FUNCTION erasure.check_policy(regclass, name) IS
    'Raises the error that setting the column''s masking policy again would raise now (the column retyped, dropped, made NOT NULL, given a unique index since): the rule erasure.set_policy() applies, for erasure.check().';

CREATE FUNCTION erasure.strategy_fits(tbl regclass, col name, strategy text, params jsonb DEFAULT '{}')
RETURNS boolean
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'strategy_fits_wrapper';
COMMENT ON FUNCTION erasure.strategy_fits(regclass, name, text, jsonb) IS
    'Whether the masking strategy (with params) fits the column''s type, by the rule erasure.set_policy() applies: year_only and now need a date or timestamp, blank, hmac and placeholder text, jsonb_remove jsonb, null a nullable column. For erasure.suggest_policies().';

CREATE FUNCTION erasure.sharding_problems(subject text)
RETURNS TABLE(tbl regclass, problem text, hint text)
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sharding_problems_wrapper';
COMMENT ON FUNCTION erasure.sharding_problems(text) IS
    'On a Citus cluster, the registered tables of the subject whose rows Citus cannot route with the subject''s (not distributed by the column holding the subject key, not colocated, local or reference tables), with the fix; no rows elsewhere. For erasure.check().';

CREATE FUNCTION erasure.values_look_personal(tbl regclass, col name) RETURNS boolean
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'values_look_personal_wrapper';
COMMENT ON FUNCTION erasure.values_look_personal(regclass, name) IS
    'Whether some of the first 100 values of the column look like e-mail addresses, CPF/CNPJ, phone numbers, IBANs or IP addresses; read as the table''s owner, restricted; NULL when the current user may not read the column.';

-- Whether a column's name looks personal: it matches personal_name_pattern() and is not a
-- numeric or uuid column of a primary or foreign key (address_id links rows, it names no one).
CREATE FUNCTION erasure.name_looks_personal(tbl regclass, col name) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT col ~* erasure.personal_name_pattern()
         AND NOT EXISTS (SELECT FROM pg_attribute a
                           JOIN pg_type t ON t.oid = a.atttypid
                           JOIN pg_constraint k ON k.conrelid = a.attrelid AND k.contype IN ('p', 'f')
                                               AND a.attnum = ANY (k.conkey)
                          WHERE a.attrelid = tbl AND a.attname = col
                            AND (t.typcategory = 'N' OR a.atttypid = 'uuid'::regtype))
$$;
COMMENT ON FUNCTION erasure.name_looks_personal(regclass, name) IS
    'Whether the column''s name looks personal (erasure.personal_name_pattern()), numeric and uuid key columns excepted: what check() and suggested_policy() ask of a name.';

-- The policy to propose for a column nobody decided on: the one call that check()'s hint,
-- the DDL watch and suggest_policies() all print. It erases what looks personal (by name);
-- keep only for what does not, and for the numeric and uuid keys that link rows.
CREATE FUNCTION erasure.suggested_policy(tbl regclass, col name) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT format('SELECT erasure.set_policy(%L, %L, %L%s);', tbl::text, col, pick.strategy,
                CASE pick.strategy
                    WHEN 'placeholder' THEN ', ''{"template": "erased-{key}@invalid.example"}'''
                    WHEN 'constant' THEN ', ''{"value": "Xxxx"}'''
                    ELSE '' END)
    FROM pg_attribute a
    CROSS JOIN LATERAL (SELECT
        EXISTS (SELECT FROM pg_index u WHERE u.indrelid = a.attrelid AND u.indisunique
                                         AND a.attnum = ANY (u.indkey::int2[])) AS in_unique,
        EXISTS (SELECT FROM pg_constraint k WHERE k.conrelid = a.attrelid AND k.contype IN ('p', 'f')
                                              AND a.attnum = ANY (k.conkey)) AS in_key,
        erasure.strategy_fits(tbl, col, 'placeholder', '{"template": "x"}') AS text_like,
        erasure.name_looks_personal(tbl, col) AS personal) AS c
    CROSS JOIN LATERAL (SELECT CASE
        WHEN c.in_key AND NOT c.personal THEN 'keep'
        WHEN col ~* '(^|_)(uf|state|estado|country|pais|país|pays|paese|land|postal|zip|cep|postnummer|gender|genero|sexo|group|grupo|region|regiao)($|_)' THEN 'keep'
        WHEN col ~* '(birth|nascimento|naissance|nascita|fodelse|födelse)' AND erasure.strategy_fits(tbl, col, 'year_only') THEN 'year_only'
        WHEN col ~* 'e_?mail' AND c.text_like AND (c.in_unique OR a.attnotnull) THEN 'placeholder'
        WHEN NOT a.attnotnull THEN 'null'
        WHEN NOT c.personal THEN 'keep'
        WHEN c.in_unique AND c.text_like THEN 'placeholder'
        WHEN c.text_like THEN 'constant'
        WHEN erasure.strategy_fits(tbl, col, 'year_only') THEN 'year_only'
        ELSE 'keep'
      END AS strategy) AS pick
   WHERE a.attrelid = tbl AND a.attname = col AND NOT a.attisdropped
$$;
COMMENT ON FUNCTION erasure.suggested_policy(regclass, name) IS
    'The set_policy() call erasure.check(), the DDL watch and suggest_policies() propose for a column without a policy: it erases what looks personal (placeholder for a UNIQUE or NOT NULL e-mail, year_only for birth dates, null where NULL is allowed, constant Xxxx or a placeholder for NOT NULL text); keep for state, country, postal code, gender, group, region, key columns and other NOT NULL columns whose name does not look personal.';

CREATE FUNCTION erasure.check(subject text DEFAULT NULL)
RETURNS TABLE(severity text, tbl regclass, col name, problem text, hint text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    keep record;
    policy record;
    why text;
    looks_personal boolean;
BEGIN
    IF $1 IS NOT NULL AND EXISTS (SELECT FROM erasure.subjects s WHERE s.subject = $1)
       AND NOT EXISTS (SELECT FROM erasure.registered_tables($1)) THEN
        RAISE EXCEPTION 'must be owner of the table of erasure subject "%" to check it', $1
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Registered relations that are no tables any more (a table turned into a view).
    RETURN QUERY
    SELECT 'error', r.tbl, NULL::name, 'is no longer a table: erasures of the subject fail',
           format('SELECT erasure.register_table(%L, ...);  -- register the table that holds the rows now', r.subject)
      FROM erasure.registered_tables($1) r JOIN pg_class c ON c.oid = r.tbl
     WHERE c.relkind NOT IN ('r', 'p');

    -- Columns of masked tables nobody decided on, and of retained tables with a retention
    -- period, which are masked by the same policies when it ends.
    RETURN QUERY
    SELECT 'error', r.tbl, a.attname,
           CASE r.action WHEN 'mask' THEN 'column has no masking policy: the erasure leaves it as it is'
                ELSE 'column has no masking policy: when the retention period ends, the release leaves it as it is' END,
           erasure.suggested_policy(r.tbl, a.attname) || '  -- review it: keep, null, constant, ...'
      FROM erasure.registered_tables($1) r
      JOIN pg_attribute a ON a.attrelid = r.tbl AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
     WHERE erasure.is_masked(r.subject, r.tbl, r.action)
       AND NOT EXISTS (SELECT FROM erasure.column_policies p WHERE p.tbl = r.tbl AND p.col = a.attname)
       -- the key, via columns and the columns via columns reference tie rows together: never masked
       AND NOT EXISTS (SELECT FROM erasure.subjects s WHERE s.tbl = r.tbl AND s.key_column = a.attname)
       AND NOT EXISTS (SELECT FROM erasure.tables t WHERE t.tbl = r.tbl AND a.attname = ANY (t.via))
       AND NOT EXISTS (SELECT FROM erasure.tables t WHERE t.parent = r.tbl AND a.attname = ANY (t.parent_columns));

    -- Tables that reference a registered table through a foreign key but are not registered.
    RETURN QUERY
    SELECT DISTINCT CASE WHEN ack.note IS NULL THEN 'error' ELSE 'acknowledged' END, c.conrelid::regclass, NULL::name,
           format('not registered, but references %s (foreign key %s): rows reachable from the subject that no rule covers',
                  c.confrelid::regclass, c.conname),
           coalesce(ack.note, format('SELECT erasure.register_table(%L, %L, ''mask'', parent => %L);', r.subject, c.conrelid::regclass::text,
                  c.confrelid::regclass::text))
      FROM erasure.registered_tables($1) r
      JOIN pg_constraint c ON c.contype = 'f' AND c.confrelid = r.tbl AND c.conparentid = 0
     -- declared not the subject's data (staff, store pointing at a shared address): acknowledged
     CROSS JOIN LATERAL (SELECT erasure.acknowledged(r.subject, 'reference', c.conrelid::regclass, c.conname) AS note) ack
     WHERE NOT EXISTS (SELECT FROM erasure.registered_tables($1) o WHERE o.subject = r.subject AND o.tbl = c.conrelid)
       -- a partition is erased with its registered parent, whatever foreign keys it has itself
       AND NOT EXISTS (SELECT FROM pg_partition_ancestors(c.conrelid) a
                         JOIN erasure.registered_tables($1) o ON o.subject = r.subject AND o.tbl = a.relid)
       -- rows pointing to a row the subject points to make it shared (below)
       AND NOT EXISTS (SELECT FROM erasure.tables t WHERE t.subject = r.subject AND t.tbl = r.tbl AND t.referenced)
       AND c.conrelid <> r.tbl
       AND c.conrelid::regclass::text NOT LIKE 'erasure.%';

    -- Tables pointing to rows the subject points to (staff and stores at an address): their
    -- rows are not the subject's, and make the row they point to shared, which is kept.
    RETURN QUERY
    SELECT DISTINCT 'info', c.conrelid::regclass, NULL::name,
           format('references %s (foreign key %s), whose rows the subject points to: a row it points to too is shared, and kept',
                  c.confrelid::regclass, c.conname),
           format('If its rows are the subject''s own, register it: SELECT erasure.register_table(%L, %L, ''mask'', parent => %L);',
                  r.subject, c.conrelid::regclass::text, c.confrelid::regclass::text)
      FROM erasure.registered_tables($1) r
      JOIN erasure.tables t ON t.subject = r.subject AND t.tbl = r.tbl AND t.referenced
      JOIN pg_constraint c ON c.contype = 'f' AND c.confrelid = r.tbl AND c.conparentid = 0
     WHERE NOT EXISTS (SELECT FROM erasure.registered_tables($1) o WHERE o.subject = r.subject AND o.tbl = c.conrelid)
       AND c.conrelid <> r.tbl AND c.conrelid <> t.parent;

    -- Rows the subject's rows point to, in tables nobody registered whose columns look
    -- personal (the customer's address): the erasure leaves them as they are.
    RETURN QUERY
    SELECT DISTINCT 'warning', c.confrelid::regclass, NULL::name,
           format('not registered, but %s points to it (foreign key %s) and its columns (%s) look personal: the erasure leaves the rows the subject points to',
                  c.conrelid::regclass, c.conname,
                  (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
                    WHERE a.attrelid = c.confrelid AND a.attnum > 0 AND NOT a.attisdropped
                      AND erasure.name_looks_personal(c.confrelid, a.attname))),
           format('SELECT erasure.register_table(%L, %L, parent => %L, referenced_by => %L);  -- rows others point to too are kept',
                  r.subject, c.confrelid::regclass::text, c.conrelid::regclass::text,
                  (SELECT array_agg(a.attname ORDER BY k.n) FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum)::text)
      FROM erasure.registered_tables($1) r
      JOIN pg_constraint c ON c.contype = 'f' AND c.conrelid = r.tbl AND c.conparentid = 0
     WHERE r.action = 'mask' AND c.confrelid <> r.tbl
       AND NOT EXISTS (SELECT FROM erasure.registered_tables($1) o WHERE o.subject = r.subject AND o.tbl = c.confrelid)
       AND c.confrelid::regclass::text NOT LIKE 'erasure.%'
       AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.confrelid AND a.attnum > 0 AND NOT a.attisdropped
                      AND erasure.name_looks_personal(c.confrelid, a.attname));

    -- On a Citus cluster: registered tables whose rows are not in the subject's shard group.
    RETURN QUERY
    SELECT 'error', p.tbl, NULL::name, p.problem, p.hint
      FROM (SELECT DISTINCT r.subject FROM erasure.registered_tables($1) r) s,
           erasure.sharding_problems(s.subject) p;

    -- Inheritance children of registered tables (not partitions): an erasure changes ONLY the
    -- registered table, so a child holding the subject's rows is registered on its own.
    RETURN QUERY
    SELECT DISTINCT 'error', i.inhrelid::regclass, NULL::name,
           format('inherits from registered table %s but is not registered: the erasure leaves its rows as they are', r.tbl),
           format('SELECT erasure.register_table(%L, %L, %L%s);  -- then its column policies', r.subject,
                  i.inhrelid::regclass::text, r.action,
                  coalesce(', via => ' || quote_literal(t.via::text) || ', parent => ' || quote_literal(t.parent::text), ''))
      FROM erasure.registered_tables($1) r
      JOIN pg_class p ON p.oid = r.tbl AND p.relkind = 'r'
      JOIN pg_inherits i ON i.inhparent = r.tbl
      LEFT JOIN erasure.tables t ON t.subject = r.subject AND t.tbl = r.tbl
     WHERE NOT EXISTS (SELECT FROM erasure.registered_tables($1) o WHERE o.subject = r.subject AND o.tbl = i.inhrelid);

    -- Policies the table no longer allows (a column retyped, dropped, made NOT NULL, given a
    -- unique index or a domain since): registration's own rule, erasure.check_policy().
    FOR policy IN
        SELECT DISTINCT p.tbl, p.col FROM erasure.column_policies p
          JOIN erasure.registered_tables($1) r ON r.tbl = p.tbl AND erasure.is_masked(r.subject, r.tbl, r.action)
         ORDER BY 1, 2
    LOOP
        BEGIN
            PERFORM erasure.check_policy(policy.tbl, policy.col);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS why = PG_EXCEPTION_DETAIL;
            severity := 'error'; tbl := policy.tbl; col := policy.col;
            problem := SQLERRM || coalesce(' (' || nullif(rtrim(why, '.'), '') || ')', '');
            hint := format('SELECT erasure.drop_policy(%L, %L);  -- then set it again', policy.tbl::text, policy.col);
            RETURN NEXT;
        END;
    END LOOP;

    -- Columns kept as they are although their name or their values look personal.
    FOR keep IN
        SELECT p.tbl, p.col, a.atttypid FROM erasure.column_policies p
          JOIN erasure.registered_tables($1) r ON r.tbl = p.tbl
          JOIN pg_attribute a ON a.attrelid = p.tbl AND a.attname = p.col AND NOT a.attisdropped
         WHERE p.strategy = 'keep'
    LOOP
        looks_personal := erasure.name_looks_personal(keep.tbl, keep.col);
        IF NOT looks_personal AND keep.atttypid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype,
                                                    'text[]'::regtype, 'varchar[]'::regtype) THEN
            -- Sample values, as the table's owner (never as the caller of check()).
            looks_personal := coalesce(erasure.values_look_personal(keep.tbl, keep.col), false);
        END IF;
        IF looks_personal THEN
            severity := 'warning'; tbl := keep.tbl; col := keep.col;
            problem := 'kept as it is, but its name or values look personal';
            hint := erasure.suggested_policy(keep.tbl, keep.col);
            IF hint LIKE '%, ''keep'');' THEN
                hint := format('SELECT erasure.set_policy(%L, %L, ''null'');', keep.tbl::text, keep.col);
            END IF;
            hint := hint || '  -- if it is personal';
            RETURN NEXT;
        END IF;
    END LOOP;

    -- Links to the parent not backed by a foreign key: nothing stops a column from holding
    -- another table's key, and the erasure would then mask someone else's rows.
    RETURN QUERY
    -- A partitioned table is checked in each partition holding rows: a foreign key of the
    -- parent is in each of them, and one a partition declares itself counts as well.
    SELECT 'warning', l.leaf, NULL::name,
           format('its via columns (%s) are not a foreign key to %s: a wrong column would erase someone else''s rows',
                  array_to_string(t.via, ', '), t.parent),
           format('ALTER TABLE %s ADD FOREIGN KEY (%s) REFERENCES %s (%s);', l.leaf,
                  (SELECT string_agg(quote_ident(v), ', ') FROM unnest(t.via) AS v), t.parent,
                  (SELECT string_agg(quote_ident(p), ', ') FROM unnest(t.parent_columns) AS p))
      FROM erasure.tables t
      JOIN erasure.registered_tables($1) r ON r.subject = t.subject AND r.tbl = t.tbl
     CROSS JOIN LATERAL erasure.leaves(t.tbl) l
     WHERE cardinality(t.via) > 0 AND NOT t.referenced
       AND NOT EXISTS (
           SELECT FROM pg_constraint f
            WHERE f.contype = 'f' AND f.conrelid = l.leaf AND f.confrelid = t.parent
              AND (SELECT array_agg(a.attname ORDER BY k.n) FROM unnest(f.conkey) WITH ORDINALITY AS k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.attnum) = t.via);
    -- The same for a row the subject points to: the parent's columns and its foreign key.
    RETURN QUERY
    SELECT 'warning', t.tbl, NULL::name,
           format('%s (%s) pointing to it are not a foreign key: a wrong column would erase someone else''s rows',
                  t.parent, array_to_string(t.parent_columns, ', ')),
           format('ALTER TABLE %s ADD FOREIGN KEY (%s) REFERENCES %s (%s);', t.parent,
                  (SELECT string_agg(quote_ident(p), ', ') FROM unnest(t.parent_columns) AS p), t.tbl,
                  (SELECT string_agg(quote_ident(v), ', ') FROM unnest(t.via) AS v))
      FROM erasure.tables t
      JOIN erasure.registered_tables($1) r ON r.subject = t.subject AND r.tbl = t.tbl
     WHERE t.referenced
       AND NOT EXISTS (
           SELECT FROM pg_constraint f
            WHERE f.contype = 'f' AND f.conrelid = t.parent AND f.confrelid = t.tbl
              AND (SELECT array_agg(a.attname ORDER BY k.n) FROM unnest(f.conkey) WITH ORDINALITY AS k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.attnum) = t.parent_columns);

    -- via columns without an index: every erasure scans the whole table. For a row the
    -- subject points to, the columns pointing to it: the erasure looks for other rows doing so.
    RETURN QUERY
    -- (In each partition of a partitioned table: that is where the rows are read.)
    SELECT 'warning', l.leaf, NULL::name,
           CASE WHEN t.referenced
                THEN format('no index on its columns (%s) pointing to %s: each erasure scans the table', array_to_string(k.cols, ', '), t.tbl)
                ELSE format('no index on its via columns (%s): each erasure scans the table', array_to_string(k.cols, ', ')) END,
           format('CREATE INDEX ON %s (%s);', l.leaf, (SELECT string_agg(quote_ident(v), ', ') FROM unnest(k.cols) AS v))
      FROM erasure.tables t
      JOIN erasure.registered_tables($1) r ON r.subject = t.subject AND r.tbl = t.tbl
     CROSS JOIN LATERAL (SELECT CASE WHEN t.referenced THEN t.parent ELSE t.tbl END AS tbl,
                                CASE WHEN t.referenced THEN t.parent_columns ELSE t.via END AS cols) k
     CROSS JOIN LATERAL erasure.leaves(k.tbl) l
     WHERE cardinality(t.via) > 0
       AND NOT EXISTS (
           SELECT FROM pg_index i
            WHERE i.indrelid = l.leaf
              AND (SELECT array_agg(a.attname ORDER BY o.n) FROM unnest((i.indkey::int2[])[0:cardinality(k.cols) - 1]) WITH ORDINALITY AS o(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = l.leaf AND a.attnum = o.attnum) = k.cols);

    -- Triggers may copy old values elsewhere (an audit table); rules and views expose columns.
    RETURN QUERY
    SELECT DISTINCT CASE WHEN ack.note IS NULL THEN 'warning' ELSE 'acknowledged' END, r.tbl, NULL::name,
           format('trigger %s may copy the values the erasure changes into another table', tg.tgname),
           coalesce(ack.note, format('Check what the trigger writes and register that table too (delete or mask, via its column holding the subject''s key): what it copies during an erasure is then erased with the rest. It runs with the rights of the subject''s owner. If it copies nothing: SELECT erasure.acknowledge(%L, ''trigger'', %L, %L, reason => ''...'');',
                                     r.subject, tg.tgrelid::regclass::text, tg.tgname))
      FROM erasure.registered_tables($1) r
      -- the table's own triggers, and those a partition has besides its parent's clones
      JOIN pg_trigger tg ON (tg.tgrelid = r.tbl OR tg.tgrelid IN (SELECT l.leaf FROM erasure.leaves(r.tbl) l)
                                                   AND tg.tgparentid = 0)
                            AND NOT tg.tgisinternal
     CROSS JOIN LATERAL (SELECT erasure.acknowledged(r.subject, 'trigger', tg.tgrelid::regclass, tg.tgname) AS note) ack
     WHERE r.action IN ('mask', 'delete');
    RETURN QUERY
    SELECT DISTINCT CASE v.relkind WHEN 'm' THEN 'warning' ELSE 'info' END, r.tbl, NULL::name,
           format('%s %s reads this table', CASE v.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END, v.rel),
           CASE v.relkind WHEN 'm' THEN 'It keeps the erased values until refreshed: SELECT * FROM erasure.cleanup(); after erasures.'
                ELSE 'A view shows what the erasure leaves.' END
      FROM erasure.registered_tables($1) r
     CROSS JOIN LATERAL erasure.relations_reading(r.tbl) v;

    -- PostgreSQL applies no rule to the data-modifying WITH statement an erasure runs: it
    -- refuses the statement, so every erasure of the subject fails.
    RETURN QUERY
    SELECT DISTINCT 'error', r.tbl, NULL::name,
           format('rule %s: PostgreSQL refuses rules on the data-modifying WITH statement of an erasure, so erasures fail', rw.rulename),
           format('DROP RULE %I ON %s;  -- and do its work in a trigger', rw.rulename, r.tbl)
      FROM erasure.registered_tables($1) r
      JOIN pg_rewrite rw ON rw.ev_class = r.tbl AND rw.rulename <> '_RETURN'
     WHERE r.action IN ('mask', 'delete');

    -- Erasures run with the rights of the subject's owner; a REVOKE, or a table whose owner
    -- changed, takes them away and every erasure fails with 42501.
    RETURN QUERY
    SELECT 'error', r.tbl, NULL::name,
           format('the subject''s owner %s lacks privilege %s on it', o.owner::regrole, erasure.missing_privilege(o.owner, r.tbl, r.action)),
           format('GRANT %s ON %s TO %s;', erasure.missing_privilege(o.owner, r.tbl, r.action), r.tbl, o.owner::regrole)
      FROM erasure.registered_tables($1) r
      JOIN erasure.subjects s ON s.subject = r.subject
     CROSS JOIN LATERAL (SELECT c.relowner AS owner FROM pg_class c WHERE c.oid = s.tbl) o
     WHERE erasure.missing_privilege(o.owner, r.tbl, r.action) IS NOT NULL;

    -- A retained table whose foreign key follows changes of a masked column would be rewritten
    -- by the erasure; registration refuses it, a later ALTER TABLE can add it.
    RETURN QUERY
    SELECT DISTINCT 'error', r.tbl, NULL::name,
           format('foreign key %s follows changes of masked columns of %s (ON UPDATE %s): the erasure would rewrite retained rows',
                  f.conname, f.confrelid::regclass, CASE f.confupdtype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' ELSE 'SET DEFAULT' END),
           format('ALTER TABLE %s DROP CONSTRAINT %I;  -- and reference the key of %s instead', r.tbl, f.conname, f.confrelid::regclass)
      FROM erasure.registered_tables($1) r
      JOIN pg_constraint f ON f.conrelid = r.tbl AND f.contype = 'f' AND f.confupdtype IN ('c', 'n', 'd')
      JOIN erasure.registered_tables($1) m ON m.subject = r.subject AND m.tbl = f.confrelid AND m.action = 'mask'
     WHERE r.action = 'retain'
       AND EXISTS (SELECT FROM erasure.column_policies p JOIN pg_attribute a ON a.attrelid = p.tbl AND a.attname = p.col
                    WHERE p.tbl = f.confrelid AND p.strategy <> 'keep' AND a.attnum = ANY (f.confkey));

    -- The hmac key is not a setting: one set as a setting anyway is readable by other roles.
    RETURN QUERY
    SELECT DISTINCT 'error', NULL::regclass, NULL::name,
           'erasure.hmac_key is set as a setting (ALTER DATABASE or ALTER ROLE), where other roles can read it; pg_erasure does not use it',
           'ALTER DATABASE ... RESET erasure.hmac_key; -- then: SELECT erasure.set_hmac_key(''<new secret>'');'
      FROM pg_db_role_setting d, unnest(d.setconfig) AS c
     WHERE c LIKE 'erasure.hmac\_key=%';
    -- In the server's configuration (ALTER SYSTEM, postgresql.conf), where a session that has
    -- not loaded pg_erasure shows it to anyone; only who may read the files' settings can tell.
    IF has_function_privilege('pg_catalog.pg_show_all_file_settings()', 'EXECUTE') THEN
        RETURN QUERY
        SELECT DISTINCT 'error', NULL::regclass, NULL::name,
               format('erasure.hmac_key is set in %s, where sessions that have not loaded pg_erasure show it to anyone; pg_erasure does not use it', f.sourcefile),
               'ALTER SYSTEM RESET erasure.hmac_key; SELECT pg_reload_conf(); -- then: SELECT erasure.set_hmac_key(''<new secret>'');'
          FROM pg_file_settings f WHERE f.name = 'erasure.hmac_key';
    END IF;
    RETURN QUERY
    SELECT DISTINCT 'error', p.tbl, p.col, 'strategy hmac, but no hmac key is set: erasures fail',
           'SELECT erasure.set_hmac_key(''<a long random secret>'');  -- as a superuser'
      FROM erasure.registered_tables($1) r JOIN erasure.column_policies p ON p.tbl = r.tbl
     WHERE p.strategy = 'hmac' AND NOT EXISTS (SELECT FROM erasure.hmac_key);

    -- A publication that replicates deletes (updates) needs a replica identity on every table it
    -- publishes: without one, each erasure deleting (masking) rows of that table fails.
    RETURN QUERY
    SELECT DISTINCT 'error', r.tbl, NULL::name,
           format('published by %s, which replicates %s, but without a replica identity: erasures fail', p.pubname,
                  CASE WHEN r.action = 'delete' THEN 'deletes' ELSE 'updates' END),
           format('ALTER TABLE %s REPLICA IDENTITY FULL;  -- or give it a primary key', r.tbl)
      FROM erasure.registered_tables($1) r
      JOIN pg_class c ON c.oid = r.tbl
      JOIN pg_publication_tables pt ON pt.schemaname = (SELECT n.nspname FROM pg_namespace n WHERE n.oid = c.relnamespace)
                                   AND pt.tablename = c.relname
      JOIN pg_publication p ON p.pubname = pt.pubname
     WHERE r.action IN ('mask', 'delete')
       AND (CASE WHEN r.action = 'delete' THEN p.pubdelete ELSE p.pubupdate END)
       AND (c.relreplident = 'n'
            OR c.relreplident = 'd' AND NOT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary));

    -- Tables that look like they hold the subject's rows, with a column of its key's type named
    -- like a reference to it (customer_id, <subject>_id), but no foreign key that would have
    -- made check() find them: nothing covers their rows, and strict mode cannot see them.
    RETURN QUERY
    SELECT DISTINCT 'warning', c.oid::regclass, a.attname,
           format('not registered, but column %I (of the key type of %s) looks like a reference to subject %s without a foreign key',
                  a.attname, s.tbl, s.subject),
           format('SELECT erasure.register_table(%L, %L, ''mask'', via => %L);  -- if it holds the subject''s rows',
                  s.subject, c.oid::regclass::text, '{' || a.attname || '}')
      FROM erasure.subjects s
      JOIN erasure.registered_tables($1) own ON own.subject = s.subject AND own.tbl = s.tbl
      JOIN pg_attribute k ON k.attrelid = s.tbl AND k.attname = s.key_column
      JOIN pg_attribute a ON a.atttypid = k.atttypid AND a.attnum > 0 AND NOT a.attisdropped
      JOIN pg_class c ON c.oid = a.attrelid AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'erasure') AND n.nspname NOT LIKE 'pg_toast%'
       AND c.oid <> s.tbl
       AND a.attname ~* ('^(' || regexp_replace(s.subject, '([^[:alnum:]_])', '\\\1', 'g')
                         || '|customer|client|cliente|kund|person|user|member)_?(id|key|no|code)$')
       AND NOT EXISTS (SELECT FROM erasure.registered_tables($1) o WHERE o.subject = s.subject AND o.tbl = c.oid)
       AND NOT EXISTS (SELECT FROM pg_constraint f WHERE f.conrelid = c.oid AND f.contype = 'f' AND a.attnum = ANY (f.conkey));

    -- A key that is itself personal (an e-mail address) stays in the ledger, its export and the
    -- notifications unless the subject says so.
    RETURN QUERY
    SELECT 'warning', s.tbl, s.key_column,
           'the key looks personal: the ledger, its export and the notifications keep it',
           format('SELECT erasure.register_subject(%L, %L, key_column => %L, personal_key => true);', s.subject, s.tbl::text, s.key_column)
      FROM erasure.subjects s
      JOIN erasure.registered_tables($1) own ON own.subject = s.subject AND own.tbl = s.tbl
     WHERE NOT s.personal_key
       AND (s.key_column ~* erasure.personal_name_pattern()
            OR coalesce(erasure.values_look_personal(s.tbl, s.key_column), false));

    -- Retained tables should say why.
    RETURN QUERY
    SELECT 'warning', r.tbl, NULL::name, 'retained without a reason',
           format('SELECT erasure.register_table(%L, %L, ''retain'', reason => ''...'');', r.subject, r.tbl::text)
      FROM erasure.registered_tables($1) r WHERE r.action = 'retain' AND r.reason IS NULL;
END
$function$;
COMMENT ON FUNCTION erasure.check(text) IS
    'Finds what the erasure catalog does not cover or covers wrongly: columns without policy, unregistered tables referencing registered ones, policies the schema no longer allows, personal-looking kept columns, unindexed via columns, triggers, views, retained tables without reason. Each row has a hint with the SQL to fix it; a finding the subject''s owner acknowledged (erasure.acknowledge) has severity acknowledged and says by whom, when and why.';

-- A masking strategy in words, for documents people read (describe, certificates): what the
-- column holds after the erasure. Params are the policy's own (a constant, a template), never a
-- subject's value.
CREATE FUNCTION erasure.strategy_in_words(strategy text, params jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE strategy
        WHEN 'keep' THEN 'kept as it is (reviewed: not personal)'
        WHEN 'null' THEN 'set to NULL'
        WHEN 'blank' THEN 'set to the empty string'
        WHEN 'constant' THEN 'replaced by the constant ' || (params -> 'value')::text
        WHEN 'year_only' THEN 'set to January 1st of its year'
        WHEN 'placeholder' THEN 'replaced by the placeholder ' || (params -> 'template')::text
        WHEN 'hmac' THEN 'replaced by its keyed hash (HMAC-SHA-256 under the database''s secret)'
        WHEN 'jsonb_remove' THEN 'keys ' || (params -> 'keys')::text || ' removed'
        WHEN 'expression' THEN 'replaced by the expression ' || (params -> 'sql')::text
        WHEN 'now' THEN 'set to the time of the erasure'
        WHEN 'restricted_at' THEN 'set to NULL (while an erasure request waits, the time its restriction began)'
    END
$$;
COMMENT ON FUNCTION erasure.strategy_in_words(text, jsonb) IS
    'A column policy in words: what the column holds after an erasure (for erasure.describe and erasure.certificate).';

-- The deletion concept (DIN 66398's Löschkonzept) of a subject, written from the catalog the
-- erasures run on, so the document cannot drift from what they do. Retention periods read the
-- same whatever the session's IntervalStyle.
CREATE FUNCTION erasure.describe(subject text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET intervalstyle = 'postgres'
AS $function$
DECLARE
    s erasure.subjects;
    doc text;
    -- Markdown table cells: a | in a reason or message would end the cell.
    cell CONSTANT text := '|';
BEGIN
    SELECT * INTO s FROM erasure.subjects x WHERE x.subject = describe.subject;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'erasure subject "%" is not registered', describe.subject
            USING ERRCODE = 'undefined_object', HINT = 'Register it first with erasure.register_subject().';
    END IF;
    doc := format(E'# Deletion concept: %s\n\n', s.subject)
        || format(E'Generated by pg_erasure from the erasure catalog of database %s on %s. An erasure '
                  'request is answered within %s days (`erasure.response_days`).\n\n',
                  current_database(), to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'),
                  current_setting('erasure.response_days'))
        || format(E'Each %s is one row of `%s`, identified by `%s`.%s\n\n', s.subject, s.tbl, s.key_column,
                  CASE WHEN s.personal_key THEN ' The key is itself personal: the ledger keeps a keyed digest of it (hmac:…), never the key.' ELSE '' END);

    doc := doc || E'## Tables\n\n| table | action | rows found through | reason | kept for |\n| --- | --- | --- | --- | --- |\n'
        || format(E'| `%s` | mask | the subject itself |  |  |\n', s.tbl)
        || coalesce((SELECT string_agg(format(E'| `%s` | %s | %s | %s | %s |\n', t.tbl, t.action,
                        concat_ws(' and ',
                            CASE WHEN cardinality(t.via) > 0 THEN format('`%s` → `%s`', array_to_string(t.via, ', '), t.parent) END,
                            CASE WHEN t.filter IS NOT NULL THEN format('`%s`', t.filter) END),
                        replace(coalesce(t.reason, ''), cell, '\' || cell),
                        CASE WHEN t.retain_for IS NOT NULL THEN format('%s from `%s`, then masked', t.retain_for, t.retain_from)
                             WHEN t.action = 'retain' THEN 'unchanged, without end' ELSE '' END),
                        '' ORDER BY t.tbl::text)
                      FROM erasure.tables t WHERE t.subject = s.subject), '')
        || E'\nmask: the row stays, its columns are masked as below; delete: the row is deleted; retain: the row stays unchanged (the law requires it).\n\n';

    doc := doc || E'## Columns\n\n| table | column | after the erasure |\n| --- | --- | --- |\n'
        || coalesce((SELECT string_agg(format(E'| `%s` | `%s` | %s |\n', p.tbl, p.col,
                                              replace(erasure.strategy_in_words(p.strategy, p.params), cell, '\' || cell)),
                                       '' ORDER BY p.tbl::text, p.col)
                       FROM erasure.column_policies p
                      WHERE p.tbl = s.tbl
                         OR p.tbl IN (SELECT t.tbl FROM erasure.tables t
                                       WHERE t.subject = s.subject AND erasure.is_masked(t.subject, t.tbl, t.action))), '')
        || E'\nColumns without a policy are left as they are and reported (`erasure.check()`, the report''s `unreviewed_columns`).\n\n';

    doc := doc || E'## What forbids an erasure\n\n'
        || coalesce((SELECT E'| blocker | message |\n| --- | --- |\n'
                            || string_agg(format(E'| `%s` | %s |\n', b.name, replace(coalesce(b.message, ''), cell, '\' || cell)), '' ORDER BY b.name)
                       FROM erasure.blockers b WHERE b.subject = s.subject HAVING count(*) > 0),
                    E'Nothing: no blocker is registered.\n')
        || E'\n## Safeguards\n\n'
        || format(E'- Strict mode (`erasure.require_complete`): %s.\n',
                  CASE WHEN current_setting('erasure.require_complete')::boolean
                       THEN 'on, erasures are refused while `erasure.check()` reports an error' ELSE 'off' END)
        || format(E'- DDL watch: %s.\n',
                  CASE WHEN EXISTS (SELECT FROM pg_event_trigger e WHERE e.evtname = 'erasure_watch_ddl' AND e.evtenabled <> 'D')
                       THEN 'on, a new column of a registered table without a policy is reported when it is created, and renamed or dropped columns keep the catalog in step'
                       ELSE 'off' END)
        || E'- Every erasure is recorded in `erasure.ledger`, a hash chain checked by `erasure.verify_ledger()`; it holds keys, outcomes and row counts, no personal value.\n';
    RETURN doc;
END
$function$;
COMMENT ON FUNCTION erasure.describe(text) IS
    'The deletion concept of a subject as Markdown, written from the erasure catalog: its tables with action, reason and retention, every column policy in words, the blockers with their messages, strict mode and the DDL watch. 42704 for a subject not registered.';

-- A certificate of one erasure, for the customer or an auditor: what the ledger row says, the
-- request it answered, the policies in words and whether the chain still vouches for it. Only
-- what the ledger and the catalog hold: keys (digests of personal keys), counts, words.
CREATE FUNCTION erasure.certificate(request_id bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET intervalstyle = 'postgres'
AS $function$
DECLARE
    l erasure.ledger;
BEGIN
    PERFORM erasure.seal_ledger();
    SELECT * INTO l FROM erasure.ledger x WHERE x.request_id = certificate.request_id AND x.status <> 'released';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no erasure with request_id % in the ledger', certificate.request_id
            USING ERRCODE = 'no_data_found',
                  HINT = 'The request_id is the one the erasure''s report and erasure.requests show (ledger_request_id).';
    END IF;
    RETURN jsonb_build_object(
        'certificate', 'pg_erasure erasure certificate',
        'generated_at', now(),
        'database', current_database(),
        'subject', l.subject,
        'key', l.key,
        'request_id', l.request_id,
        'reference', l.reference,
        'received_at', q.received_at,
        'due_at', q.due_at,
        'executed_at', l.executed_at,
        'on_time', CASE WHEN q.due_at IS NOT NULL THEN l.executed_at <= q.due_at END,
        'outcome', l.status,
        'mode', l.mode,
        'identity_verified_at', q.verified_at,
        'approved_by', q.approved_by,
        'approved_at', q.approved_at,
        'deadline_extended', q.extended_at IS NOT NULL,
        'requested_by', l.requested_by,
        'executed_by', l.executed_by,
        -- What erasure.verify() finds now (NULL for a personal key: the ledger holds its
        -- digest, and only the caller knows the key to verify it with).
        'verified', CASE WHEN EXISTS (SELECT FROM erasure.subjects s WHERE s.subject = l.subject AND NOT s.personal_key)
                         THEN NOT EXISTS (SELECT FROM erasure.verify(l.subject, l.key)) END,
        'tables', (SELECT jsonb_agg(t.entry
                          || CASE WHEN t.entry ->> 'action' IN ('masked', 'retained') AND policies.words IS NOT NULL
                                  THEN jsonb_build_object(CASE t.entry ->> 'action' WHEN 'masked' THEN 'columns' ELSE 'columns_at_release' END,
                                                          policies.words)
                                  ELSE '{}' END
                          || CASE WHEN r.retain_for IS NOT NULL
                                  THEN jsonb_build_object('retained_for', format('%s from %s', r.retain_for, r.retain_from))
                                  ELSE '{}' END
                          ORDER BY t.n)
                     FROM jsonb_array_elements(l.tables) WITH ORDINALITY AS t(entry, n)
                     LEFT JOIN erasure.tables r ON r.subject = l.subject AND r.tbl::text = t.entry ->> 'table'
                     LEFT JOIN LATERAL (
                          SELECT jsonb_object_agg(p.col, erasure.strategy_in_words(p.strategy, p.params)) AS words
                            FROM erasure.column_policies p WHERE p.tbl::text = t.entry ->> 'table') AS policies ON true),
        'policies_as_of', 'the column policies are those registered when this certificate was generated',
        'releases', (SELECT jsonb_agg(jsonb_build_object('request_id', x.request_id, 'executed_at', x.executed_at, 'tables', x.tables)
                                      ORDER BY x.request_id)
                       FROM erasure.ledger x
                      WHERE x.subject = l.subject AND x.key = l.key AND x.status = 'released'),
        'ledger_hash', seal.hash,
        -- What vouches for the row: its seal's hash, and every later seal linking back to it.
        'chain_intact', seal.hash IS NOT NULL
                        AND NOT EXISTS (SELECT FROM erasure.verify_ledger() v
                                          LEFT JOIN erasure.ledger_seals s ON s.request_id = v.request_id
                                         WHERE s.seal >= seal.seal))
      FROM (SELECT NULL) AS one
      LEFT JOIN erasure.request_queue q ON q.ledger_request_id = l.request_id
      LEFT JOIN erasure.ledger_seals seal ON seal.request_id = l.request_id;
END
$function$;
COMMENT ON FUNCTION erasure.certificate(bigint) IS
    'A jsonb certificate of the erasure with this ledger request_id: subject, key (its digest for personal keys), when the request was received, due and executed, the outcome, per table the action and row count with each column''s policy in words, retention, later releases, the request''s identity verification, approval and extension, the row''s ledger hash, whether the hash chain from it to the latest row is intact (chain_intact) and whether erasure.verify() found the subject as the ledger says when the certificate was made (verified). P0002 when the ledger has no such erasure.';

CREATE FUNCTION erasure.suggest_policies(subject text)
RETURNS TABLE(statement text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT statement FROM (
    -- Unregistered tables first: their columns then show up in the next check().
    SELECT 1 AS step, c.tbl::text AS tbl, NULL::name AS col, c.hint AS statement
      FROM erasure.check(subject) c WHERE c.problem LIKE 'not registered%' AND c.severity <> 'acknowledged'
    UNION ALL
    SELECT 2, c.tbl::text, c.col, erasure.suggested_policy(c.tbl, c.col)
      FROM erasure.check(subject) c
     WHERE c.severity = 'error' AND c.problem LIKE 'column has no masking policy%'
  ) suggestions
  ORDER BY step, tbl, col
$$;
COMMENT ON FUNCTION erasure.suggest_policies(text) IS
    'Ready-to-review register_table/set_policy calls for everything erasure.check() found uncovered, strategies chosen from column names and types (e-mail: placeholder when UNIQUE or NOT NULL; names: constant Xxxx; birth dates: year_only; state, country, postal code, gender: keep).';

-- The residual scan (written in Rust: it runs the plan's statements). Its column col is text:
-- the column name as the scan found it.
CREATE FUNCTION erasure.residual_scan(id anyelement, subject text DEFAULT 'customer')
RETURNS TABLE(tbl regclass, col text, row_key text, matched text, acknowledged boolean)
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'residual_scan_wrapper';
COMMENT ON FUNCTION erasure.residual_scan(anyelement, text) IS
    'Where the subject''s identifying values (its masked text columns: name, e-mail, phone, CPF...) appear, case-insensitively, in text or jsonb the erasure leaves as it is (kept or unreviewed columns, retained tables) among the subject''s rows: table, column, row key, and which identifier matched, never the value; acknowledged when the subject''s owner accepted values in that column (erasure.acknowledge).';

CREATE FUNCTION erasure.residual_scan(id text, subject text DEFAULT 'customer')
RETURNS TABLE(tbl regclass, col text, row_key text, matched text, acknowledged boolean)
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'residual_scan_wrapper';
COMMENT ON FUNCTION erasure.residual_scan(text, text) IS
    'erasure.residual_scan(anyelement, text), key given as text.';

-- The views and materialized views whose query reads a table, directly or through other views:
-- what check() warns about and what the cleanup after erasures refreshes.
CREATE FUNCTION erasure.relations_reading(tbl regclass)
RETURNS TABLE(rel regclass, relkind "char")
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE readers(oid) AS (
        SELECT rw.ev_class FROM pg_depend d JOIN pg_rewrite rw ON rw.oid = d.objid
         WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
           AND d.refobjid = $1 AND rw.ev_class <> $1
        UNION
        SELECT rw.ev_class FROM readers r
          JOIN pg_class v ON v.oid = r.oid AND v.relkind = 'v'
          JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = r.oid
          JOIN pg_rewrite rw ON rw.oid = d.objid AND rw.ev_class <> r.oid)
    SELECT c.oid::regclass, c.relkind FROM readers r JOIN pg_class c ON c.oid = r.oid
$$;
COMMENT ON FUNCTION erasure.relations_reading(regclass) IS
    'The views and materialized views whose query reads tbl, directly or through other views.';

-- What is left to do after erasures, the one list of it: VACUUM removes the old row versions
-- that still hold erased values on disk; ANALYZE replaces planner statistics (pg_stats, which
-- anyone with SELECT on the table reads) that may show erased values as most common values or
-- histogram bounds; REFRESH replaces a materialized view's copy of the erased rows.
CREATE FUNCTION erasure.pending_vacuum(subject text DEFAULT NULL)
RETURNS TABLE(tbl regclass, step text, erasures bigint, statement text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    WITH erased AS (
        SELECT to_regclass(t ->> 'table') AS tbl, l.executed_at
          FROM erasure.ledger l CROSS JOIN LATERAL jsonb_array_elements(l.tables) AS t
         WHERE t ->> 'action' IN ('masked', 'deleted') AND (t ->> 'rows')::bigint > 0
           AND ($1 IS NULL OR l.subject = $1))
    SELECT e.tbl, 'vacuum', count(*), format('VACUUM %s;', e.tbl)
      FROM erased e JOIN pg_stat_all_tables s ON s.relid = e.tbl
     WHERE e.executed_at > coalesce(greatest(s.last_vacuum, s.last_autovacuum), '-infinity')
     GROUP BY e.tbl
    UNION ALL
    SELECT e.tbl, 'analyze', count(*), format('ANALYZE %s;  -- or SELECT * FROM erasure.cleanup();', e.tbl)
      FROM erased e JOIN pg_stat_all_tables s ON s.relid = e.tbl
     WHERE e.executed_at > coalesce(greatest(s.last_analyze, s.last_autoanalyze), '-infinity')
     GROUP BY e.tbl
    UNION ALL
    SELECT r.rel, 'refresh', count(*), 'SELECT * FROM erasure.cleanup();'
      FROM erased e CROSS JOIN LATERAL erasure.relations_reading(e.tbl) r
      LEFT JOIN erasure.refreshed f ON f.matview = r.rel
     WHERE r.relkind = 'm' AND e.executed_at > coalesce(f.refreshed_at, '-infinity')
     GROUP BY r.rel
     ORDER BY 2 DESC, 1
$$;
COMMENT ON FUNCTION erasure.pending_vacuum(text) IS
    'What is left to do after erasures (of subject, or of every subject when NULL), per relation, with the number of erasures since it was last done and the statement to run: vacuum (old row versions still hold erased values), analyze (planner statistics in pg_stats may show them), refresh (a materialized view over erased rows keeps them; erasure.cleanup() refreshes it).';

CREATE FUNCTION erasure.cleanup(subject text DEFAULT NULL)
RETURNS TABLE(rel regclass, step text)
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'cleanup_wrapper';
COMMENT ON FUNCTION erasure.cleanup(text) IS
    'Runs the analyze and refresh steps erasure.pending_vacuum(subject) lists, each as the relation''s owner: ANALYZE of the tables erasures changed, REFRESH of the materialized views over them. VACUUM cannot run inside a function: run the vacuum steps yourself.';

-- The old name of the column an ALTER TABLE … RENAME COLUMN renamed (written in Rust: it reads the
-- statement PostgreSQL collected, src/catalog/renames.rs); NULL for any other command.
CREATE FUNCTION erasure.renamed_column(command pg_ddl_command) RETURNS text
LANGUAGE c STABLE STRICT SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'renamed_column_wrapper';
COMMENT ON FUNCTION erasure.renamed_column(pg_ddl_command) IS
    'For the DDL watch: the old name of the column a RENAME COLUMN command (a pg_ddl_command of pg_event_trigger_ddl_commands()) renamed, NULL for other commands.';

-- The DDL watch: warns when a migration adds what the erasure catalog does not cover, and keeps
-- the catalog in step when registered tables or columns are renamed or dropped. It never makes DDL fail and
-- says nothing about tables that have nothing to do with a registered one. Both run as the
-- extension's owner (SECURITY DEFINER): whoever runs the DDL may not be allowed to read or write
-- the catalog, and they only act on the objects PostgreSQL reports as created or dropped.
CREATE FUNCTION erasure.watch_ddl() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    changed record;
    finding record;
    renamed record;
    renamed_in regclass[];
    followed integer;
    total integer;
BEGIN
    -- A renamed column keeps its catalog entries, which name it: they follow it from the old name
    -- to the new one, in the table and in the inheritance children (partitions) the rename
    -- reached, which are all of them (PostgreSQL refuses to rename a column in a parent only).
    FOR renamed IN
        SELECT c.objid::regclass AS tbl, old_name::name, a.attname AS new_name
          FROM pg_event_trigger_ddl_commands() c
          CROSS JOIN LATERAL erasure.renamed_column(c.command) old_name
          JOIN pg_attribute a ON a.attrelid = c.objid AND a.attnum = c.objsubid
         WHERE c.object_type = 'table column' AND old_name IS NOT NULL
    LOOP
        WITH RECURSIVE reached(tbl) AS (
            SELECT renamed.tbl::oid
            UNION
            SELECT i.inhrelid FROM pg_inherits i JOIN reached r ON i.inhparent = r.tbl)
        SELECT array_agg(tbl::regclass) INTO renamed_in FROM reached;
        UPDATE erasure.column_policies SET col = renamed.new_name
         WHERE tbl = ANY (renamed_in) AND col = renamed.old_name;
        GET DIAGNOSTICS total = ROW_COUNT;
        UPDATE erasure.subjects SET key_column = renamed.new_name
         WHERE tbl = ANY (renamed_in) AND key_column = renamed.old_name;
        GET DIAGNOSTICS followed = ROW_COUNT;
        total := total + followed;
        UPDATE erasure.subjects SET summary_columns = array_replace(summary_columns, renamed.old_name, renamed.new_name)
         WHERE tbl = ANY (renamed_in) AND renamed.old_name = ANY (summary_columns);
        GET DIAGNOSTICS followed = ROW_COUNT;
        total := total + followed;
        UPDATE erasure.tables
           SET via = array_replace(via, renamed.old_name, renamed.new_name),
               retain_from = CASE WHEN retain_from = renamed.old_name THEN renamed.new_name ELSE retain_from END
         WHERE tbl = ANY (renamed_in) AND (renamed.old_name = ANY (via) OR retain_from = renamed.old_name);
        GET DIAGNOSTICS followed = ROW_COUNT;
        total := total + followed;
        UPDATE erasure.tables
           SET parent_columns = array_replace(parent_columns, renamed.old_name, renamed.new_name),
               retain_from = CASE WHEN retain_from = 'parent.' || renamed.old_name THEN 'parent.' || renamed.new_name
                                  ELSE retain_from END
         WHERE parent = ANY (renamed_in)
           AND (renamed.old_name = ANY (parent_columns) OR retain_from = 'parent.' || renamed.old_name);
        GET DIAGNOSTICS followed = ROW_COUNT;
        IF total + followed > 0 THEN
            RAISE NOTICE 'pg_erasure: erasure catalog entries of %.% now name it %',
                renamed.tbl, quote_ident(renamed.old_name), quote_ident(renamed.new_name);
        END IF;
    END LOOP;
    FOR changed IN
        SELECT DISTINCT c.objid FROM pg_event_trigger_ddl_commands() c
         WHERE c.object_type = 'table' AND c.command_tag IN ('CREATE TABLE', 'ALTER TABLE')
    LOOP
        -- A new partition of a registered table (next month's payments) is erased with it.
        FOR finding IN
            SELECT DISTINCT r.tbl FROM pg_partition_ancestors(changed.objid) a
              JOIN erasure.registered_tables() r ON r.tbl = a.relid AND a.relid <> changed.objid
        LOOP
            RAISE NOTICE 'pg_erasure: % is a partition of registered table %: erased with it, nothing to register',
                changed.objid::regclass, finding.tbl;
        END LOOP;
        CONTINUE WHEN NOT EXISTS (SELECT FROM erasure.registered_tables() r WHERE r.tbl = changed.objid)
                  AND NOT EXISTS (SELECT FROM pg_constraint f JOIN erasure.registered_tables() r ON r.tbl = f.confrelid
                                   WHERE f.conrelid = changed.objid AND f.contype = 'f');
        FOR finding IN
            SELECT c.tbl, c.col, c.problem, c.hint FROM erasure.check() c
             WHERE c.tbl = changed.objid AND c.severity = 'error'
             ORDER BY c.col NULLS FIRST, c.problem
        LOOP
            RAISE WARNING 'pg_erasure: %: %', finding.tbl || COALESCE('.' || finding.col, ''), finding.problem
                USING HINT = finding.hint;
        END LOOP;
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'pg_erasure: the DDL watch could not check this change: %', SQLERRM;
END
$function$;
COMMENT ON FUNCTION erasure.watch_ddl() IS
    'Event trigger function: after ALTER TABLE … RENAME COLUMN, renames the column in the erasure catalog (policy, key, summary, via, retain_from); after CREATE TABLE or ALTER TABLE, warns about what erasure.check() finds wrong with a registered table or with a table referencing one.';

CREATE FUNCTION erasure.watch_drops() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    dropped record;
    removed integer;
BEGIN
    FOR dropped IN
        SELECT d.objid, d.objsubid, d.object_type, d.object_identity, d.address_names
          FROM pg_event_trigger_dropped_objects() d
         WHERE d.object_type IN ('table', 'table column')
    LOOP
        IF dropped.object_type = 'table' THEN
            DELETE FROM erasure.column_policies p WHERE p.tbl = dropped.objid;
            DELETE FROM erasure.acknowledgements a WHERE a.tbl = dropped.objid;
            DELETE FROM erasure.tables t WHERE t.tbl = dropped.objid;
            GET DIAGNOSTICS removed = ROW_COUNT;
            DELETE FROM erasure.subjects s WHERE s.tbl = dropped.objid;
            IF FOUND OR removed > 0 THEN
                RAISE WARNING 'pg_erasure: dropped table % removed from the erasure catalog', dropped.object_identity
                    USING HINT = 'Tables registered under it must be registered again under another parent.';
            END IF;
        ELSE
            DELETE FROM erasure.column_policies p
             WHERE p.tbl = dropped.objid AND p.col = dropped.address_names[3];
            IF FOUND THEN
                RAISE WARNING 'pg_erasure: masking policy of dropped column % removed', dropped.object_identity;
            END IF;
        END IF;
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'pg_erasure: the DDL watch could not update the erasure catalog: %', SQLERRM;
END
$function$;
COMMENT ON FUNCTION erasure.watch_drops() IS
    'Event trigger function: when a registered table or a column with a masking policy is dropped, removes its catalog rows and says so.';

CREATE EVENT TRIGGER erasure_watch_ddl ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE') EXECUTE FUNCTION erasure.watch_ddl();
CREATE EVENT TRIGGER erasure_watch_drops ON sql_drop
    WHEN TAG IN ('DROP TABLE', 'ALTER TABLE', 'DROP SCHEMA') EXECUTE FUNCTION erasure.watch_drops();

-- Acknowledged findings (src/catalog/acknowledge.rs writes them). An acknowledgement holds while
-- its object is as it was when acknowledged: the fingerprint is the one rule for "as it was".
CREATE FUNCTION erasure.fingerprint(finding text, tbl regclass, object name) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    SELECT md5(CASE finding
        WHEN 'trigger' THEN (SELECT pg_get_triggerdef(t.oid) || ' ' || p.prosrc
                               FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
                              WHERE t.tgrelid = tbl AND t.tgname = object AND NOT t.tgisinternal)
        WHEN 'reference' THEN (SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
                                WHERE c.conrelid = tbl AND c.conname = object AND c.contype = 'f')
        WHEN 'residual' THEN (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                               WHERE a.attrelid = tbl AND a.attname = object AND NOT a.attisdropped)
    END)
$$;
COMMENT ON FUNCTION erasure.fingerprint(text, regclass, name) IS
    'What an acknowledgement of the finding about object on tbl depends on, as an md5: the trigger''s definition and its function''s source (trigger), the foreign key''s definition (reference), the column''s type (residual); NULL when the object does not exist.';

CREATE FUNCTION erasure.acknowledged(subject text, finding text, tbl regclass, object name) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('acknowledged by %s on %s: %s', a.acknowledged_by, to_char(a.acknowledged_at, 'YYYY-MM-DD'), a.reason)
      FROM erasure.acknowledgements a
     WHERE a.subject = $1 AND a.finding = $2 AND a.tbl = $3 AND a.object = $4
       AND a.fingerprint = erasure.fingerprint(a.finding, a.tbl, a.object)
$$;
COMMENT ON FUNCTION erasure.acknowledged(text, text, regclass, name) IS
    'Who acknowledged the finding, when and why, while its object is unchanged since (erasure.fingerprint); NULL when it is not acknowledged or the acknowledgement lapsed. For erasure.check() and the residual scan.';

CREATE FUNCTION erasure.acknowledge(subject text, finding text, tbl regclass, object name, reason text)
RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'acknowledge_wrapper';
COMMENT ON FUNCTION erasure.acknowledge(text, text, regclass, name, text) IS
    'Marks a finding as reviewed, with who, when and why: a trigger that copies nothing (finding trigger, object the trigger), a table that only points at the subject''s rows (reference, its foreign key), a column keeping identifying values by law (residual, the column). check() and the preview then show it as acknowledged, until the object changes.';

CREATE FUNCTION erasure.unacknowledge(subject text, finding text, tbl regclass, object name) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'unacknowledge_wrapper';
COMMENT ON FUNCTION erasure.unacknowledge(text, text, regclass, name) IS
    'Takes an acknowledgement back: the finding is reported again. Taking back one that does not exist does nothing.';
