-- revision: 0006
-- Generated from engine/store/tables.py by `python -m engine.store.migrations sqlite-schema`; do not edit.
CREATE TABLE dashboards (
	id VARCHAR(100) NOT NULL, 
	title VARCHAR(200) NOT NULL, 
	source TEXT NOT NULL, 
	created VARCHAR(40) NOT NULL, 
	updated VARCHAR(40) NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE execution_commands (
	id INTEGER NOT NULL, 
	execution_id VARCHAR(40) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	payload TEXT, 
	created VARCHAR(40) NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_execution_commands_execution ON execution_commands (execution_id);
CREATE TABLE executions (
	id VARCHAR(40) NOT NULL, 
	namespace VARCHAR(150) NOT NULL, 
	flow_id VARCHAR(100) NOT NULL, 
	flow_revision INTEGER NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	inputs TEXT, 
	outputs TEXT, 
	labels TEXT, 
	"trigger" TEXT, 
	parent TEXT, 
	meta TEXT, 
	start_date VARCHAR(40), 
	end_date VARCHAR(40), 
	updated VARCHAR(40), 
	owner VARCHAR(64), 
	lease_until FLOAT, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_executions_flow ON executions (namespace, flow_id, start_date);
CREATE INDEX ix_executions_owner ON executions (owner);
CREATE INDEX ix_executions_start ON executions (start_date);
CREATE INDEX ix_executions_state ON executions (state);
CREATE TABLE flows (
	namespace VARCHAR(150) NOT NULL, 
	id VARCHAR(100) NOT NULL, 
	revision INTEGER NOT NULL, 
	source TEXT NOT NULL, 
	deleted BOOLEAN NOT NULL, 
	updated VARCHAR(40) NOT NULL, 
	PRIMARY KEY (namespace, id, revision)
);
CREATE TABLE kv_entries (
	namespace VARCHAR(150) NOT NULL, 
	"key" VARCHAR(255) NOT NULL, 
	value TEXT NOT NULL, 
	type VARCHAR(16) NOT NULL, 
	updated VARCHAR(40) NOT NULL, 
	expiration VARCHAR(40), 
	PRIMARY KEY (namespace, "key")
);
CREATE TABLE logs (
	id INTEGER NOT NULL, 
	execution_id VARCHAR(40) NOT NULL, 
	task_run_id VARCHAR(40), 
	task_id VARCHAR(100), 
	attempt INTEGER, 
	level VARCHAR(8) NOT NULL, 
	timestamp VARCHAR(40) NOT NULL, 
	message TEXT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_logs_execution ON logs (execution_id, id);
CREATE TABLE task_runs (
	id VARCHAR(40) NOT NULL, 
	execution_id VARCHAR(40) NOT NULL, 
	task_id VARCHAR(100) NOT NULL, 
	parent_task_run_id VARCHAR(40), 
	value TEXT, 
	iteration INTEGER, 
	state VARCHAR(16) NOT NULL, 
	seq INTEGER NOT NULL, 
	attempts TEXT, 
	outputs TEXT, 
	meta TEXT, 
	start_date VARCHAR(40), 
	end_date VARCHAR(40), 
	PRIMARY KEY (id)
);
CREATE INDEX ix_task_runs_execution ON task_runs (execution_id, seq);
CREATE TABLE trigger_backfills (
	id VARCHAR(40) NOT NULL, 
	namespace VARCHAR(150) NOT NULL, 
	flow_id VARCHAR(100) NOT NULL, 
	trigger_id VARCHAR(100) NOT NULL, 
	start VARCHAR(40) NOT NULL, 
	"end" VARCHAR(40) NOT NULL, 
	cursor VARCHAR(40), 
	inputs TEXT, 
	labels TEXT, 
	state VARCHAR(16) NOT NULL, 
	total INTEGER NOT NULL, 
	done INTEGER NOT NULL, 
	created VARCHAR(40) NOT NULL, 
	updated VARCHAR(40) NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE trigger_firings (
	id INTEGER NOT NULL, 
	namespace VARCHAR(150) NOT NULL, 
	flow_id VARCHAR(100) NOT NULL, 
	trigger_id VARCHAR(100) NOT NULL, 
	source VARCHAR(60) NOT NULL, 
	date VARCHAR(400) NOT NULL, 
	execution_id VARCHAR(40), 
	created VARCHAR(40) NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_trigger_firing UNIQUE (namespace, flow_id, trigger_id, source, date)
);
CREATE TABLE trigger_states (
	namespace VARCHAR(150) NOT NULL, 
	flow_id VARCHAR(100) NOT NULL, 
	trigger_id VARCHAR(100) NOT NULL, 
	disabled BOOLEAN NOT NULL, 
	next_date VARCHAR(40), 
	signature TEXT, 
	progress TEXT, 
	last_error TEXT, 
	updated VARCHAR(40) NOT NULL, 
	PRIMARY KEY (namespace, flow_id, trigger_id)
);
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
