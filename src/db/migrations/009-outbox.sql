-- The durable outbox of notifications and Subscription deliveries (issue 14 "Notifications").
-- Rows are written in the same transaction as the change that causes them (src/notify/outbox-rule.ts),
-- so a change is never stored without its notification, nor a notification without its change.
-- The delivery worker (src/notify/worker.ts) claims rows with FOR UPDATE SKIP LOCKED and a lease,
-- so several server processes share the queue and a row a stopped process held is taken up again.
CREATE TABLE outbox (
  id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind          text        NOT NULL CHECK (kind IN ('notification', 'subscription-check', 'rest-hook')),
  payload       jsonb       NOT NULL,
  status        text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts      int         NOT NULL DEFAULT 0,
  next_attempt  timestamptz NOT NULL DEFAULT now(),
  lease_until   timestamptz,                          -- a claimed row; a lapsed lease is claimed again
  done_channels text[]      NOT NULL DEFAULT '{}',    -- channels already delivered (a retry skips them)
  last_error    text,
  created       timestamptz NOT NULL DEFAULT now(),
  finished      timestamptz
);
CREATE INDEX outbox_due ON outbox (next_attempt, id) WHERE status = 'pending';
CREATE INDEX outbox_finished ON outbox (finished) WHERE status = 'delivered';
