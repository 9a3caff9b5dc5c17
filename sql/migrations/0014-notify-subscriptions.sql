-- Haven's PostgreSQL store, schema version 14: subscriptions notify too.
-- NOTIFY (RFC 5465) tells a session of SubscriptionChange events made in
-- other sessions, on any host: a change to haven.subscriptions now
-- NOTIFYs the user's channel at commit, as a change to a mailbox row does
-- (0001: haven.mailbox_notify), with the payload "s:<name>" (a hint; the
-- listener reads the subscriptions again).

BEGIN;

CREATE FUNCTION haven.subscription_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	r := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
	PERFORM pg_notify('haven_' || r.user_id, 's:' || left(r.name, 1000));
	RETURN NULL;
END $$;

CREATE TRIGGER subscriptions_notify AFTER INSERT OR UPDATE OR DELETE ON haven.subscriptions
	FOR EACH ROW EXECUTE FUNCTION haven.subscription_notify();

INSERT INTO haven.schema_migrations (version, name) VALUES (14, 'notify-subscriptions');

COMMIT;
