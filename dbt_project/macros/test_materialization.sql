{#- dbt's own test materialization (dbt-core 1.11, materializations/tests/test.sql), except that
    failures are stored only when the test finds some.

    dbt stores failures by creating the table first and counting its rows: two statements, a
    commit and a new table in the catalog for every test, passing or not. A replay day runs
    about 90 tests, nearly all passing, so that was a second of its few. Here the test counts
    first, and only a test with failures keeps them in `test_failures`; a passing test drops the
    table an earlier failure left, so a table there always holds the failures of its test's
    latest run. -#}

{%- materialization test, default -%}

  {% set relations = [] %}
  {% set limit = config.get('limit') %}
  {% set sql_header = config.get('sql_header') if flags.REQUIRE_SQL_HEADER_IN_TEST_CONFIGS else none %}

  {% set sql_with_limit %}
    {{ get_limit_subquery_sql(sql, limit) }}
  {% endset %}

  {% call statement('main', fetch_result=True) -%}
    {% if sql_header %}{{ sql_header }}{% endif %}
    {{ get_test_sql(sql_with_limit, config.get('fail_calc'), config.get('warn_if'), config.get('error_if'), limit=none) }}
  {%- endcall %}

  {% if should_store_failures() %}
    {% set store_failures_as = config.get('store_failures_as') or 'table' %}
    {% if store_failures_as not in ['table', 'view'] %}
        {{ exceptions.raise_compiler_error(
            "'" ~ store_failures_as ~ "' is not a valid value for `store_failures_as`. "
            "Accepted values are: ['ephemeral', 'table', 'view']"
        ) }}
    {% endif %}
    {% set old_relation = adapter.get_relation(database=database, schema=schema, identifier=model['alias']) %}
    {% if old_relation %}
        {% do adapter.drop_relation(old_relation) %}
    {% endif %}
    {% set failures = load_result('main')['data'][0][0] %}
    {% if failures is not none and failures != 0 %}
        {% set target_relation = api.Relation.create(
            identifier=model['alias'], schema=schema, database=database, type=store_failures_as) %}
        {% call statement(auto_begin=True) %}
            {% if sql_header %}{{ sql_header }}{% endif %}
            {{ get_create_sql(target_relation, sql_with_limit) }}
        {% endcall %}
        {% do relations.append(target_relation) %}
    {% endif %}
    {{ adapter.commit() }}
  {% endif %}

  {{ return({'relations': relations}) }}

{%- endmaterialization -%}
